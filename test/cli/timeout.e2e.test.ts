import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnServer, type ServerProcess } from '../helpers/process.js';
import { killAll, runPolly } from './process.js';

/**
 * `--timeout` / POLLY_TIMEOUT against a real hung replica: a `polly server` process stopped with SIGSTOP
 * still accepts connections (the kernel completes the handshake) but never answers. Without a bound per
 * attempt the CLI would wait for undici's 300 s headers timeout before trying the next URL; runPolly kills
 * it after 30 s, so the bounded wait below is what fails then.
 */
const ADMIN = `timeout-admin-${randomUUID()}`;
const run = randomUUID().slice(0, 8);
const dirs: string[] = [];
let hung: ServerProcess;
let live: ServerProcess;

async function server(): Promise<ServerProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'polly-test-timeout-'));
  dirs.push(dir);
  return spawnServer({ POLLY_DATA_DIR: dir, POLLY_LISTEN: '127.0.0.1:0', POLLY_ADMIN_TOKEN: ADMIN });
}

beforeAll(async () => {
  [hung, live] = await Promise.all([server(), server()]);
  hung.child.kill('SIGSTOP');
});
afterAll(async () => {
  killAll();
  if (hung) {
    hung.child.kill('SIGCONT');
    await hung.kill9();
  }
  await live?.stop();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe('CLI per-attempt timeout', () => {
  it('--timeout: a mutating command fails over from a SIGSTOPped first URL to the live second', async () => {
    const started = Date.now();
    const res = await runPolly(['--url', hung.url, '--url', live.url, '--timeout', '2', 'service', 'create', `svc-${run}`], { POLLY_TOKEN: ADMIN });
    const seconds = (Date.now() - started) / 1000;
    expect(res.code, `stdout:\n${res.stdout}\nstderr:\n${res.stderr}`).toBe(0);
    expect(res.stdout).toContain(`svc-${run}`);
    // The live replica has it (the hung one has its own store and never answered).
    const check = await request(`${live.url}/v1/services/svc-${run}`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(check.statusCode).toBe(200);
    await check.body.dump();
    // Reported, not a speed goal: one attempt's timeout, then the live server.
    process.stdout.write(`[timeout] service create via ${live.url} after ${seconds.toFixed(1)} s (first URL hung, --timeout 2)\n`);
  });

  it('POLLY_TIMEOUT: a read fails over the same way', async () => {
    const res = await runPolly(['service', 'list'], { POLLY_URL: `${hung.url},${live.url}`, POLLY_TOKEN: ADMIN, POLLY_TIMEOUT: '1.5' });
    expect(res.code, `stdout:\n${res.stdout}\nstderr:\n${res.stderr}`).toBe(0);
    expect(res.stdout).toContain(`svc-${run}`);
  });

  it('a bad --timeout is a usage error', async () => {
    const res = await runPolly(['--url', live.url, '--timeout', 'soon', 'service', 'list'], { POLLY_TOKEN: ADMIN });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('--timeout');
  });
});
