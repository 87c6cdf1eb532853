import { Client, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { startCsiServer, type CsiServerHandle } from '../../../src/api/csi/csi-server.js';
import { csiService, type CsiServiceName } from '../../../src/api/csi/proto.js';
import type * as csi from '../../../src/api/csi/proto.js';
import type { PollyConfigInput } from '../../../src/config/config.js';
import { startPolly, type TestPolly } from '../../helpers/polly.js';

/** A CSI client over a real gRPC channel, built from the same csi.proto the server serves. */
export class CsiClient {
  readonly #client: Client;

  constructor(endpoint: string) {
    const address = endpoint.startsWith('tcp://') ? endpoint.slice('tcp://'.length) : endpoint;
    this.#client = new Client(address, credentials.createInsecure());
  }

  call<Res>(service: CsiServiceName, method: string, request: object, metadata = new Metadata()): Promise<Res> {
    const def = csiService(service)[method];
    if (!def) throw new Error(`csi.v1.${service} has no method ${method}`);
    return new Promise<Res>((resolve, reject) => {
      this.#client.makeUnaryRequest<object, Res>(
        def.path,
        (req) => def.requestSerialize(req),
        (buf) => def.responseDeserialize(buf) as Res,
        request,
        metadata,
        { deadline: Date.now() + 30_000 },
        (err, res) => (err ? reject(err) : resolve(res as Res)),
      );
    });
  }

  identity<Res>(method: string, request: object = {}): Promise<Res> {
    return this.call<Res>('Identity', method, request);
  }

  controller<Res>(method: string, request: object = {}, metadata?: Metadata): Promise<Res> {
    return this.call<Res>('Controller', method, request, metadata);
  }

  close(): void {
    this.#client.close();
  }
}

/** Metadata carrying a Polly token, for the RPCs whose request has no `secrets`. */
export function bearer(token: string): Metadata {
  const md = new Metadata();
  md.set('authorization', `Bearer ${token}`);
  return md;
}

export const secrets = (token: string): { pollyToken: string } => ({ pollyToken: token });

export const MOUNT_RWO: csi.VolumeCapability = { mount: { fs_type: '', mount_flags: [], volume_mount_group: '' }, access_mode: { mode: 'SINGLE_NODE_WRITER' } };
export const BLOCK_RWO: csi.VolumeCapability = { block: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } };

export function mountCap(mode: csi.AccessModeName, fsType = ''): csi.VolumeCapability {
  return { mount: { fs_type: fsType, mount_flags: [], volume_mount_group: '' }, access_mode: { mode } };
}

/** Expects a gRPC failure with `code`; returns it for more checks. */
export async function expectCode(promise: Promise<unknown>, code: number): Promise<ServiceError> {
  const err = await promise.then(
    (res) => {
      throw new Error(`expected gRPC status ${code}, got a response: ${JSON.stringify(res)}`);
    },
    (e: unknown) => e as ServiceError,
  );
  expect({ code: err.code, details: err.details }).toMatchObject({ code });
  return err;
}

export interface CsiHarness {
  polly: TestPolly;
  server: CsiServerHandle;
  client: CsiClient;
  dir: string;
  socket: string;
  /** Another CSI endpoint on the same Polly (e.g. bound to a service); closed by stop(). */
  open(opts: { service?: string; name: string }): Promise<CsiClient>;
  stop(): Promise<void>;
}

/** A real Polly server in-process, and its CSI server on a unix socket in a fresh temp dir. */
export async function startCsi(
  config: PollyConfigInput | ((dataDir: string) => PollyConfigInput) = { pools: [{ name: 'mem', driver: 'fake' }] },
): Promise<CsiHarness> {
  const polly = await startPolly(config);
  const dir = await mkdtemp(join(tmpdir(), 'polly-csi-'));
  const socket = join(dir, 'csi.sock');
  const server = await startCsiServer(polly.server.app, { endpoint: `unix://${socket}` });
  const client = new CsiClient(server.endpoint);
  const extra: Array<{ server: CsiServerHandle; client: CsiClient }> = [];
  return {
    polly,
    server,
    client,
    dir,
    socket,
    async open({ service, name }) {
      const s = await startCsiServer(polly.server.app, { endpoint: `unix://${join(dir, `${name}.sock`)}`, service });
      const c = new CsiClient(s.endpoint);
      extra.push({ server: s, client: c });
      return c;
    },
    async stop() {
      for (const e of [...extra, { server, client }]) {
        e.client.close();
        await e.server.stop();
      }
      await polly.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
