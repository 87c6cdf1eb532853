import { afterAll, beforeAll, expect, it } from 'vitest';
import { DRIFT_PAGE } from '../../src/app/drift.js';
import { fakeDriverFor } from '../../src/drivers/fake/fake-driver.js';
import { newService, startPolly, type TestPolly } from '../helpers/polly.js';

// The drift check reads every record of a pool. On SQLite a statement runs synchronously on the event
// loop, so one read of a large pool held every request until it was done (seconds at 1,000,000 volumes):
// it must read and compare in pages and let the event loop run between them.
const POOL = `drifty${process.pid}`;
const SERVICE = `drifty${process.pid}`;
const COUNT = DRIFT_PAGE * 6 + 7;
let polly: TestPolly;

beforeAll(async () => {
  polly = await startPolly({ pools: [{ name: POOL, driver: 'fake', parameters: { capacityBytes: String(2 ** 50) } }] });
  await newService(polly, SERVICE);
  const at = new Date().toISOString();
  const rows = Array.from({ length: COUNT }, (_, i) => {
    const id = `vol-${String(i).padStart(12, '0')}${'0'.repeat(16)}`;
    return {
      id,
      name: `v${i}`,
      service: SERVICE,
      pool: POOL,
      profile: 'default',
      size_bytes: 1024,
      status: 'available',
      status_reason: null,
      labels: '{}',
      fields: '{}',
      backend_id: id,
      source_kind: null,
      source_id: null,
      created_at: at,
      updated_at: at,
    };
  });
  const db = polly.server.app.ctx.store.db;
  for (let i = 0; i < rows.length; i += 200) await db.insertInto('volumes').values(rows.slice(i, i + 200)).execute();
  // Every object but the last one's is on the backend.
  const driver = fakeDriverFor(POOL)!;
  for (const r of rows.slice(0, -1)) driver.addBackendObject({ kind: 'volume', backendId: r.backend_id, sizeBytes: 1024 });
}, 60_000);
afterAll(async () => {
  await polly?.stop();
});

it('pages through a large pool, letting the event loop run between pages, and still finds the one drifted volume', async () => {
  let turns = 0;
  let running = true;
  const spin = () => {
    turns++;
    if (running) setImmediate(spin);
  };
  setImmediate(spin);
  const report = await polly.server.app.reconciler.checkDrift();
  running = false;
  expect(report.volumesDrifted).toBe(1);
  expect(report.unmanaged).toBe(0);
  // At least one turn of the event loop per page of records read and per page compared.
  expect(turns).toBeGreaterThanOrEqual(2 * Math.floor(COUNT / DRIFT_PAGE));
  const last = await polly.call('GET', `/v1/volumes/vol-${String(COUNT - 1).padStart(12, '0')}${'0'.repeat(16)}`);
  expect(last.status).toBe(200);
  expect(last.body.status).toBe('error');
  const first = await polly.call('GET', `/v1/volumes/vol-${'0'.repeat(28)}`);
  expect(first.body.status).toBe('available');
});
