import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { PollyApp } from '../../app/polly-app.js';
import { VERSION } from '../../version.js';
import { unary } from './errors.js';
import type * as csi from './proto.js';

/** The plugin name COs key on (Kubernetes' CSIDriver object, the kubelet's plugin registry). */
export const PLUGIN_NAME = 'polly.csi.dev';

/** What Polly's CSI plugin offers; the controller's and the node's Identity answer the same set. */
export const PLUGIN_CAPABILITIES: csi.GetPluginCapabilitiesResponse['capabilities'] = [
  { service: { type: 'CONTROLLER_SERVICE' } },
  { service: { type: 'VOLUME_ACCESSIBILITY_CONSTRAINTS' } },
  { service: { type: 'GROUP_CONTROLLER_SERVICE' } },
];

/** CSI Identity: who the plugin is, what it offers, whether it is ready. Needs no caller identity. */
export function identityServer(app: PollyApp, log: Logger): UntypedServiceImplementation {
  return {
    GetPluginInfo: unary(log, 'GetPluginInfo', async (): Promise<csi.GetPluginInfoResponse> => ({
      name: PLUGIN_NAME,
      vendor_version: VERSION,
      manifest: {},
    })),

    GetPluginCapabilities: unary(log, 'GetPluginCapabilities', async (): Promise<csi.GetPluginCapabilitiesResponse> => ({
      capabilities: PLUGIN_CAPABILITIES,
    })),

    // Ready means the store answers: without it no call can succeed. Not ready is an answer, not an error,
    // so that liveness probes can tell "up but waiting" from "down".
    Probe: unary(log, 'Probe', async (): Promise<csi.ProbeResponse> => {
      try {
        await app.ctx.store.ping();
        return { ready: { value: true } };
      } catch (err) {
        log.warn({ err }, 'CSI probe: the store does not answer');
        return { ready: { value: false } };
      }
    }),
  };
}
