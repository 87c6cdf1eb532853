import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newService, startPolly, type TestPolly } from '../../helpers/polly.js';

function counter(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (line === undefined) throw new Error(`${name} missing from /metrics`);
  return Number(line.split(' ')[1]);
}

describe('/metrics store counters', () => {
  let polly: TestPolly;
  beforeAll(async () => {
    polly = await startPolly({ pools: [{ name: `m-${process.pid}`, driver: 'fake' }] });
  });
  afterAll(async () => {
    await polly?.stop();
  });

  it('counts the statements, transactions and commits a create+delete pair costs, and their time (SQLite makes no round trips)', async () => {
    const token = await newService(polly, 'metered');
    const read = async () => {
      const text = (await polly.call('GET', '/metrics', { raw: '' })).body as unknown;
      const body = typeof text === 'string' ? text : String(text);
      return {
        statements: counter(body, 'polly_store_statements_total'),
        transactions: counter(body, 'polly_store_transactions_total'),
        roundTrips: counter(body, 'polly_store_round_trips_total'),
        commits: counter(body, 'polly_store_commits_total'),
        commitSeconds: counter(body, 'polly_store_commit_seconds_total'),
        statementSeconds: counter(body, 'polly_store_statement_seconds_total'),
      };
    };
    const before = await read();
    const created = await polly.call('POST', '/v1/volumes', { token, body: { name: 'm1', sizeBytes: 1024 } });
    expect(created.status).toBe(201);
    expect((await polly.call('DELETE', `/v1/volumes/${created.body.id}`, { token })).status).toBe(204);
    const after = await read();
    expect(after.statements - before.statements).toBeGreaterThan(4);
    expect(after.transactions - before.transactions).toBeGreaterThanOrEqual(4);
    expect(after.roundTrips).toBe(0);
    // Every transaction ends in a COMMIT (transactions of one event-loop turn may share one), and the
    // driver's time for them and for the other statements is kept apart.
    expect(after.commits - before.commits).toBeGreaterThanOrEqual(1);
    expect(after.commits - before.commits).toBeLessThanOrEqual(after.transactions - before.transactions);
    expect(after.commitSeconds - before.commitSeconds).toBeGreaterThan(0);
    expect(after.statementSeconds - before.statementSeconds).toBeGreaterThan(0);
  });
});
