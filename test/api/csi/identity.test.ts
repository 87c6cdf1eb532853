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
    expect(caps.capabilities.map((c) => c.service?.type).sort()).toEqual(['CONTROLLER_SERVICE', 'VOLUME_ACCESSIBILITY_CONSTRAINTS']);
  });

  it('Probe is ready while the store answers', async () => {
    const probe = await h.client.identity<csi.ProbeResponse>('Probe');
    expect(probe.ready).toEqual({ value: true });
  });
});
