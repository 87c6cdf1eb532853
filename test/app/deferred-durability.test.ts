import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newService, startPolly, type TestPolly } from '../helpers/polly.js';

let polly: TestPolly;
let token: string;

beforeAll(async () => {
  polly = await startPolly({ pools: [{ name: 'mem', driver: 'fake', parameters: { capacityBytes: String(1 << 30) } }] });
  token = await newService(polly, 'durable');
});
afterAll(async () => {
  await polly?.stop();
});

/**
 * The COMMITs `op` made, full and deferred. The server's own loops commit now and then too (about once a
 * second, always in full), and group commit may share a COMMIT with them; so `op` is repeated until one
 * run saw no transaction but its own (`expected`, each committed apart), at most 10 times.
 */
async function commitsOf(op: () => Promise<void>, expected: number): Promise<{ full: number; deferred: number }> {
  const stats = polly.server.app.ctx.store.stats;
  let last = { full: -1, deferred: -1 };
  for (let attempt = 0; attempt < 10; attempt++) {
    const c0 = { commits: stats.commits, deferred: stats.deferredCommits, transactions: stats.transactions };
    await op();
    last = { full: stats.commits - c0.commits - (stats.deferredCommits - c0.deferred), deferred: stats.deferredCommits - c0.deferred };
    if (stats.transactions - c0.transactions === expected && last.full + last.deferred === expected) return last;
  }
  return last;
}

async function gone(id: string): Promise<void> {
  // A delete answers after its durable intent; the backend delete and the removal may finish after it.
  for (let waited = 0; waited < 10_000; waited += 20) {
    if ((await polly.call('GET', `/v1/volumes/${id}`, { token })).status === 404) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`volume ${id} still there 10 s after its delete`);
}

describe('which commits wait for the disk (SQLite)', () => {
  let n = 0;
  const create = async () => {
    const res = await polly.call('POST', '/v1/volumes', { token, body: { name: `v${++n}`, sizeBytes: 4096 } });
    expect(res.status).toBe(201);
    return res.body.id as string;
  };

  it("a create: its intent is durable, its confirmation deferred", async () => {
    expect(await commitsOf(async () => void (await create()), 2)).toEqual({ full: 1, deferred: 1 });
  });

  it("a delete: its intent is durable, the removal of the record deferred", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push(await create());
    const result = await commitsOf(async () => {
      const id = ids.pop()!;
      expect((await polly.call('DELETE', `/v1/volumes/${id}`, { token })).status).toBe(204);
      await gone(id);
    }, 2);
    expect(result).toEqual({ full: 1, deferred: 1 });
  });

  it('anything else stays durable: a label change is one full commit', async () => {
    const id = await create();
    const result = await commitsOf(async () => {
      expect((await polly.call('PATCH', `/v1/volumes/${id}`, { token, body: { labels: { n: String(++n) } } })).status).toBe(200);
    }, 1);
    expect(result).toEqual({ full: 1, deferred: 0 });
  });

  it('/metrics exposes the count', async () => {
    const metrics = await polly.call('GET', '/metrics');
    expect(String(metrics.body)).toMatch(new RegExp(`^polly_store_deferred_commits_total ${polly.server.app.ctx.store.stats.deferredCommits}$`, 'm'));
    expect(polly.server.app.ctx.store.stats.deferredCommits).toBeGreaterThanOrEqual(2);
  });
});
