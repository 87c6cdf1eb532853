import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as csi from '../../../src/api/csi/proto.js';
import { VERSION } from '../../../src/version.js';
import { startCsi, type CsiHarness } from './csi-harness.js';

let h: CsiHarness;

beforeAll(async () => {
  h = await startCsi();
});
afterAll(async () => {
  await h?.stop();
});

describe('CSI Identity (no token needed)', () => {
  it('GetPluginInfo names the plugin DNS-style and reports the Polly version', async () => {
    const info = await h.client.identity<csi.GetPluginInfoResponse>('GetPluginInfo');
    expect(info.name).toBe('polly.csi.dev');
    expect(info.vendor_version).toBe(VERSION);
  });

  it('GetPluginCapabilities offers the controller service and accessibility constraints', async () => {
    const caps = await h.client.identity<csi.GetPluginCapabilitiesResponse>('GetPluginCapabilities');
    expect(caps.capabilities.map((c) => c.service?.type).sort()).toEqual(['CONTROLLER_SERVICE', 'GROUP_CONTROLLER_SERVICE', 'VOLUME_ACCESSIBILITY_CONSTRAINTS']);
  });

  it('Probe is ready while the store answers', async () => {
    const probe = await h.client.identity<csi.ProbeResponse>('Probe');
    expect(probe.ready).toEqual({ value: true });
  });
});

describe('CSI calls are timed for /metrics', () => {
  it('counts each call by method and gRPC code, refusals included', async () => {
    await h.client.identity('Probe');
    await expect(h.client.controller('DeleteVolume', { volume_id: '' })).rejects.toBeDefined();
    const text = await (await fetch(`${h.polly.url}/metrics`)).text();
    expect(text).toMatch(/^polly_rpc_duration_seconds_count\{frontend="csi",method="Probe",code="OK"\} [1-9]\d*$/m);
    expect(text).toMatch(/^polly_rpc_duration_seconds_count\{frontend="csi",method="DeleteVolume",code="(INVALID_ARGUMENT|UNAUTHENTICATED)"\} 1$/m);
  });
});
