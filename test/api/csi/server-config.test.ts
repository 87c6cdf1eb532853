import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as csi from '../../../src/api/csi/proto.js';
import { newService, startPolly, type TestPolly } from '../../helpers/polly.js';
import { CsiClient, MOUNT_RWO, secrets } from './csi-harness.js';

let polly: TestPolly;
let client: CsiClient | undefined;

beforeAll(async () => {
  polly = await startPolly((dataDir) => ({
    pools: [{ name: 'mem', driver: 'fake' }],
    services: [{ name: 'k8s', tokens: ['k8s-cluster-token-0123456789'] }],
    csi: [{ endpoint: `unix://${join(dataDir, 'csi.sock')}` }],
  }));
});
afterAll(async () => {
  client?.close();
  await polly?.stop();
});

describe('polly server serves the CSI endpoints its configuration declares', () => {
  it('answers Probe and creates a volume for the token’s service, visible over REST', async () => {
    expect(polly.server.csiEndpoints).toEqual([`unix://${join(polly.dataDir, 'csi.sock')}`]);
    client = new CsiClient(polly.server.csiEndpoints[0] as string);
    expect((await client.identity<csi.ProbeResponse>('Probe')).ready).toEqual({ value: true });
    const created = await client.controller<csi.CreateVolumeResponse>('CreateVolume', {
      name: 'pvc-0123',
      capacity_range: { required_bytes: 1 << 20 },
      volume_capabilities: [MOUNT_RWO],
      secrets: secrets('k8s-cluster-token-0123456789'),
    });
    const rest = await polly.call('GET', `/v1/volumes/${created.volume?.volume_id}`);
    expect(rest.body).toMatchObject({ service: 'k8s', name: 'pvc-0123', pool: 'mem' });
    // Another service's token does not see it.
    const other = await newService(polly, 'other');
    expect((await polly.call('GET', `/v1/volumes/${created.volume?.volume_id}`, { token: other })).status).toBe(404);
  });
});
