import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Cleanup, tempDir } from '../helpers/loopfs.js';
import { startPolly } from '../helpers/polly.js';

const cleanup = new Cleanup();
afterAll(async () => {
  await cleanup.run();
});

function activate(socket: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ socketPath: socket, path: '/Plugin.Activate', method: 'POST' }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve(text));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('polly server with an embedded agent', () => {
  it('registers its node and serves the Docker plugin socket; stop removes the socket', async () => {
    const dir = await tempDir(cleanup);
    const socket = join(dir, 'plugins', 'polly.sock');
    const polly = await startPolly((dataDir) => ({
      pools: [{ name: 'local', driver: 'local', path: join(dataDir, 'pool') }],
      agent: { enabled: true, nodeId: 'self', topology: { zone: 'home' }, stateDir: join(dir, 'agent'), dockerSocket: socket },
    }));
    cleanup.add(() => polly.stop());
    const nodes = await polly.call('GET', '/v1/nodes');
    expect(nodes.body.items).toEqual([expect.objectContaining({ id: 'self', topology: { zone: 'home' } })]);
    expect(JSON.parse(await activate(socket))).toEqual({ Implements: ['VolumeDriver'] });
    await polly.stop();
    await expect(activate(socket)).rejects.toThrow();
  });
});
