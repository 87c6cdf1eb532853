import { type sendUnaryData, Server, ServerCredentials, type ServerUnaryCall, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csiService } from '../../src/api/csi/proto.js';
import { CsiDriver } from '../../src/drivers/csi/csi-driver.js';

/**
 * Fault injection: a plugin that answers as csi-driver-host-path v1.16 does where it departs from the CSI
 * spec. Its ControllerGetVolume answers a volume it does not have with OK and an abnormal condition
 * instead of NOT_FOUND; its ListVolumes is right. Only the calls the driver makes are served.
 */
class FakeHostpathStylePlugin {
  readonly volumes = new Map<string, number>();
  readonly #server = new Server();

  async start(socket: string): Promise<void> {
    const unary = (fn: (req: Record<string, unknown>) => unknown) => (call: ServerUnaryCall<Record<string, unknown>, unknown>, cb: sendUnaryData<unknown>) => cb(null, fn(call.request));
    const add = (name: 'Identity' | 'Controller', impl: UntypedServiceImplementation) => this.#server.addService(csiService(name) as ServiceDefinition, impl);
    add('Identity', {
      GetPluginInfo: unary(() => ({ name: 'fake.hostpath-style.test', vendor_version: '0' })),
      GetPluginCapabilities: unary(() => ({ capabilities: [{ service: { type: 'CONTROLLER_SERVICE' } }] })),
      Probe: unary(() => ({ ready: { value: true } })),
    });
    const rpc = (type: string) => ({ rpc: { type } });
    add('Controller', {
      ControllerGetCapabilities: unary(() => ({ capabilities: ['CREATE_DELETE_VOLUME', 'GET_VOLUME', 'LIST_VOLUMES', 'EXPAND_VOLUME'].map(rpc) })),
      CreateVolume: unary((req) => {
        const name = req.name as string;
        const bytes = Number((req.capacity_range as { required_bytes?: number } | null)?.required_bytes ?? 0);
        this.volumes.set(name, bytes);
        return { volume: { volume_id: name, capacity_bytes: bytes } };
      }),
      ControllerGetVolume: unary((req) => {
        const id = req.volume_id as string;
        const bytes = this.volumes.get(id);
        if (bytes === undefined) return { volume: { volume_id: id }, status: { volume_condition: { abnormal: true, message: `volume id ${id} does not exist in the volumes list` } } };
        return { volume: { volume_id: id, capacity_bytes: bytes }, status: { published_node_ids: [], volume_condition: { abnormal: false, message: '' } } };
      }),
      ListVolumes: unary(() => ({ entries: [...this.volumes].map(([id, bytes]) => ({ volume: { volume_id: id, capacity_bytes: bytes } })), next_token: '' })),
    });
    await new Promise<void>((resolve, reject) => this.#server.bindAsync(`unix://${socket}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
  }

  stop(): void {
    this.#server.forceShutdown();
  }
}

let dir: string;
let plugin: FakeHostpathStylePlugin;
let driver: CsiDriver;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'polly-csi-deviation-'));
  plugin = new FakeHostpathStylePlugin();
  await plugin.start(join(dir, 'csi.sock'));
  driver = new CsiDriver({ poolName: 'hp', parameters: { endpoint: `unix://${join(dir, 'csi.sock')}`, capacityBytes: String(2 ** 30) }, dataDir: dir });
  await driver.init();
});
afterAll(async () => {
  await driver?.close();
  plugin?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('a plugin that reports a missing volume as abnormal instead of NOT_FOUND', () => {
  it('is taken at its list: the volume is missing (NOT_FOUND), not a volume of 0 bytes', async () => {
    await expect(driver.usage('vol-missing')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    // Expand of a missing volume stops before the plugin's expand is asked.
    await expect(driver.expand('vol-missing', 2 ** 24)).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('does not exist') });
  });

  it('still finds the volumes it has, and their size', async () => {
    const created = await driver.create({ volumeId: 'vol-here', sizeBytes: 2 ** 24, volumeMode: 'filesystem' });
    expect(await driver.usage(created.backendId)).toBeUndefined();
    // A repeat of an expand to a size it already has is answered from the plugin's size, without a call.
    expect(await driver.expand(created.backendId, 2 ** 23)).toEqual({ sizeBytes: 2 ** 24 });
  });
});
