import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newService, startPolly, type TestPolly } from '../helpers/polly.js';

const run = promisify(execFile);
const CHROMIUM = '/usr/bin/chromium';
const GiB = 1024 ** 3;

/**
 * The dashboard end to end: the real build served by a real server at /ui/, driven by Debian's
 * Chromium. Screenshots land in POLLY_SCREENSHOT_DIR when set (kept), else in a temporary directory.
 */
describe.skipIf(!existsSync(CHROMIUM))('web dashboard in Chromium', () => {
  let polly: TestPolly;
  let context: BrowserContext;
  let page: Page;
  let profileDir: string;
  let shots: string;
  let tmpfs: string;
  let tokenA: string;
  let tokenB: string;
  const keepShots = process.env.POLLY_SCREENSHOT_DIR;

  beforeAll(async () => {
    await build({ configFile: join(import.meta.dirname, '../../web/vite.config.ts'), logLevel: 'error' });
    // A small real filesystem, so the thin pool's numbers are small and known.
    tmpfs = await mkdtemp(join(tmpdir(), 'polly-web-tmpfs-'));
    await run('mount', ['-t', 'tmpfs', '-o', 'size=4g', `polly-web-${process.pid}`, tmpfs]);
    polly = await startPolly((dataDir) => ({
      pools: [
        { name: 'local', driver: 'local', path: join(dataDir, 'pool'), labels: { media: 'ssd' } },
        { name: 'bulk', driver: 'local', path: join(tmpfs, 'pool'), overSubscriptionRatio: 3, reservedPercent: 10 },
      ],
    }));
    tokenA = await newService(polly, 'team-a');
    tokenB = await newService(polly, 'team-b');
    expect((await polly.call('PUT', '/v1/services/team-a/quota', { body: { maxVolumes: 20, maxBytes: 40 * GiB } })).status).toBe(200);
    for (let i = 1; i <= 12; i++) {
      const body = { name: `a-vol-${String(i).padStart(2, '0')}`, sizeBytes: GiB, pool: i <= 3 ? 'bulk' : 'local', labels: { app: i % 2 ? 'web' : 'db' } };
      const res = await polly.call('POST', '/v1/volumes', { token: tokenA, body });
      expect(res.status, `${i} ${JSON.stringify(res.body)}`).toBe(201);
    }
    for (const name of ['b-only-1', 'b-only-2']) expect((await polly.call('POST', '/v1/volumes', { token: tokenB, body: { name, sizeBytes: GiB } })).status).toBe(201);
    expect((await polly.call('POST', '/v1/nodes', { body: { id: 'node-1', hostname: 'host-1', topology: { zone: 'z1' } } })).status).toBe(200);
    const vol = (await polly.call('GET', '/v1/volumes?label=app=db&limit=1', { token: tokenA })).body.items[0];
    expect((await polly.call('POST', `/v1/volumes/${vol.id}/attachments`, { token: tokenA, body: { node: 'node-1', accessMode: 'RWO' } })).status).toBe(201);

    shots = keepShots ?? (await mkdtemp(join(tmpdir(), 'polly-web-shots-')));
    await mkdir(shots, { recursive: true });
    profileDir = await mkdtemp(join(tmpdir(), 'polly-chromium-'));
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1400, height: 900 },
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    page = context.pages()[0] ?? (await context.newPage());
  });

  afterAll(async () => {
    await context?.close();
    await polly?.stop();
    if (tmpfs) {
      await run('umount', [tmpfs]).catch(() => undefined);
      await rm(tmpfs, { recursive: true, force: true });
    }
    if (profileDir) await rm(profileDir, { recursive: true, force: true });
    if (shots && !keepShots) await rm(shots, { recursive: true, force: true });
  });

  const shot = (name: string) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });

  async function signIn(token: string): Promise<void> {
    // The page signs in again with a saved token only after checking it (asynchronously), so a "Sign out"
    // button may not be visible yet right after loading: forget the saved token first, then load afresh.
    await page.goto(`${polly.url}/ui/`);
    await page.evaluate(() => sessionStorage.clear());
    await page.reload();
    await page.getByLabel('Bearer token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('identity').waitFor();
  }

  it('refuses a wrong token with the server’s error code', async () => {
    await page.goto(`${polly.url}/ui`);
    await page.getByLabel('Bearer token').fill('not-a-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/^UNAUTHENTICATED/);
  });

  it('admin: overview with pool capacity, allocation and over-subscription', async () => {
    await signIn(polly.adminToken);
    expect(await page.getByTestId('identity').textContent()).toBe('admin');
    const bulk = page.locator('[data-testid=pools] tr[data-pool=bulk]');
    await bulk.waitFor();
    // 3 × 1 GiB on a 4 GiB tmpfs, thin with ratio 3: 75% of total allocated, 12 GiB may be provisioned.
    expect(await bulk.textContent()).toContain('4 GiB');
    expect(await bulk.textContent()).toContain('3 GiB (75%)');
    expect(await bulk.textContent()).toContain('×3 · 10% reserved · limit 12 GiB');
    expect(await bulk.locator('rect.c-alloc').count()).toBe(1);
    expect(await page.locator('[data-testid=pools] tr[data-pool=local]').textContent()).toContain('×1');
    expect(await page.getByTestId('volume-count').textContent()).toBe('14');
    await shot('overview');
  });

  it('admin: services with quota usage bars', async () => {
    await page.goto(`${polly.url}/ui/#/services`);
    const a = page.locator('tr[data-service=team-a]');
    await a.waitFor();
    expect(await a.textContent()).toContain('12 / 20');
    expect(await a.textContent()).toContain('12 GiB / 40 GiB');
    expect(await page.locator('tr[data-service=team-b]').textContent()).toContain('2 / ∞');
    await shot('services');
  });

  it('admin: volumes paged by cursor and filtered by label, status and pool', async () => {
    await page.goto(`${polly.url}/ui/#/volumes`);
    const rows = page.locator('[data-testid=volumes] tbody tr');
    await expect.poll(() => rows.count()).toBe(10);
    await page.getByRole('button', { name: 'Next' }).click();
    await expect.poll(() => page.getByTestId('page').textContent()).toBe('page 2');
    await expect.poll(() => rows.count()).toBe(4);
    await page.getByRole('button', { name: 'Previous' }).click();
    await expect.poll(() => rows.count()).toBe(10);

    await page.locator('select[name=pool]').selectOption('bulk');
    await expect.poll(() => rows.count()).toBe(3);
    await page.locator('select[name=pool]').selectOption('');
    await page.locator('input[name=label]').fill('app=web');
    await page.locator('input[name=label]').press('Enter');
    await page.locator('input[name=label]').blur();
    await expect.poll(() => rows.count()).toBe(6);
    await page.locator('select[name=status]').selectOption('attached');
    await expect.poll(() => rows.count()).toBe(0);
    await page.locator('input[name=label]').fill('app=db');
    await page.locator('input[name=label]').blur();
    await expect.poll(() => rows.count()).toBe(1);
    await shot('volumes-filtered');
  });

  it('admin: creates a volume, snapshots it, sees its events, deletes it', async () => {
    await page.goto(`${polly.url}/ui/#/volumes`);
    await page.locator('input[name=name]').fill('ui-made');
    await page.locator('input[name=size]').fill('2GiB');
    await page.locator('form[aria-label="create volume"] input[name=labels]').fill('made=ui');
    // The admin creates on behalf of a service.
    await page.locator('form[aria-label="create volume"] select[name=service]').selectOption('team-a');
    await page.getByRole('button', { name: 'Create volume' }).click();
    await expect.poll(() => page.locator('.message.ok').textContent()).toBe('created ui-made');
    const created = (await polly.call('GET', '/v1/volumes?label=made=ui', { token: tokenA })).body.items;
    expect(created.map((v: { name: string; sizeBytes: number }) => [v.name, v.sizeBytes])).toEqual([['ui-made', 2 * GiB]]);

    await page.locator('form[aria-label="filter volumes"] select[name=status]').selectOption('');
    await page.locator('input[name=label]').fill('made=ui');
    await page.locator('input[name=label]').blur();
    await page.getByRole('link', { name: 'ui-made' }).click();
    await page.getByTestId('volume-fields').waitFor();
    await page.locator('input[name=snapshot]').fill('before-upgrade');
    await page.getByRole('button', { name: 'Take snapshot' }).click();
    await page.locator('tr[data-snapshot=before-upgrade]').waitFor();
    await expect.poll(() => page.getByTestId('volume-events').textContent()).toContain('volume.created');
    await shot('volume-detail');
    await page.locator('tr[data-snapshot=before-upgrade]').getByRole('button', { name: 'delete' }).click();
    await expect.poll(() => page.locator('tr[data-snapshot=before-upgrade]').count()).toBe(0);
    await page.getByRole('button', { name: 'Delete volume' }).click();
    await page.getByRole('button', { name: 'Confirm delete of ui-made' }).click();
    await expect.poll(() => page.url()).toMatch(/#\/volumes$/);
    await expect.poll(async () => (await polly.call('GET', `/v1/volumes/${created[0].id}`, { token: tokenA })).status).toBe(404);
  });

  it('admin: nodes with lease state and fencing status', async () => {
    await signIn(polly.adminToken);
    // The holder's agent renews its lease by heartbeat.
    expect((await polly.call('POST', '/v1/nodes/node-1/heartbeat', { token: tokenA })).status).toBe(200);
    await page.goto(`${polly.url}/ui/#/nodes`);
    const row = page.locator('tr[data-node=node-1]');
    await row.waitFor();
    expect(await row.textContent()).toContain('leased');
    expect(await row.textContent()).toContain('never fenced');
    // A forced detach fences the holder: the node then shows it.
    const att = (await polly.call('GET', '/v1/attachments?node=node-1')).body.items[0];
    expect((await polly.call('DELETE', `/v1/attachments/${att.id}?force=true`)).status).toBe(204);
    await page.reload();
    await expect.poll(() => row.textContent()).toContain('fenced 1×');
    expect(await row.textContent()).toContain('idle');
    await shot('nodes');
  });

  it('service: accepts and declines offers, releases the reservation', async () => {
    await signIn(tokenA);
    await page.goto(`${polly.url}/ui/#/offers`);
    const offers = page.locator('[data-testid=offers] tbody tr');
    await expect.poll(() => offers.count()).toBeGreaterThanOrEqual(2);
    const first = await offers.nth(0).getAttribute('data-offer');
    const second = await offers.nth(1).getAttribute('data-offer');
    await page.getByLabel(`size for ${first}`).fill('1GiB');
    await offers.nth(0).getByRole('button', { name: 'Accept' }).click();
    await expect.poll(() => page.locator('.message.ok').textContent()).toMatch(/^reserved 1 GiB from /);
    const reservations = (await polly.call('GET', '/v1/reservations', { token: tokenA })).body.items;
    expect(reservations).toEqual([expect.objectContaining({ offerId: first, sizeBytes: GiB, status: 'active' })]);
    await page.locator(`tr[data-reservation=${reservations[0].id}]`).waitFor();
    await shot('offers');
    await page.locator(`tr[data-offer=${second}]`).getByRole('button', { name: 'Decline' }).click();
    await expect.poll(() => page.locator('.message.ok').textContent()).toBe(`declined ${second}`);
    await page.locator(`tr[data-reservation=${reservations[0].id}]`).getByRole('button', { name: 'Release' }).click();
    await expect.poll(async () => (await polly.call('GET', `/v1/reservations/${reservations[0].id}`, { token: tokenA })).body.status).toBe('released');
  });

  it('live event feed over SSE shows a change made elsewhere', async () => {
    await page.goto(`${polly.url}/ui/#/events`);
    await expect.poll(() => page.locator('h2 .badge').textContent()).toBe('live');
    const made = await polly.call('POST', '/v1/volumes', { token: tokenA, body: { name: 'made-while-watching', sizeBytes: GiB } });
    expect(made.status).toBe(201);
    const row = page.locator('[data-testid=events] tr[data-type="volume.created"]', { hasText: made.body.id });
    await row.waitFor();
    await shot('events');
  });

  it('placement explain: why each pool was rejected or how it scored', async () => {
    await signIn(polly.adminToken);
    await page.goto(`${polly.url}/ui/#/explain`);
    await page.locator('select[name=service]').selectOption('team-a');
    await page.locator('input[name=size]').fill('20GiB');
    await page.getByRole('button', { name: 'Explain' }).click();
    await page.getByTestId('explain').waitFor();
    // bulk may provision 12 GiB and has 3 GiB allocated: 20 GiB does not fit; local (thick, the host disk) takes it.
    expect(await page.locator('tr[data-pool=bulk]').textContent()).toMatch(/rejected by capacity/);
    expect(await page.locator('tr[data-pool=local]').getAttribute('class')).toBe('chosen');
    expect(await page.getByTestId('explain-summary').textContent()).toContain('Would land on local');
    await shot('explain');
  });

  it('a service token sees only its own volumes', async () => {
    await signIn(tokenB);
    expect(await page.getByTestId('identity').textContent()).toBe('service team-b');
    await page.goto(`${polly.url}/ui/#/volumes`);
    const rows = page.locator('[data-testid=volumes] tbody tr');
    await expect.poll(() => rows.count()).toBe(2);
    expect(await rows.locator('td:nth-child(2)').allTextContents()).toEqual(['team-b', 'team-b']);
    expect(await page.locator('[data-testid=volumes]').textContent()).not.toContain('a-vol');
    await page.goto(`${polly.url}/ui/#/services`);
    await expect.poll(() => page.locator('[data-testid=services] tbody tr').count()).toBe(1);
    await page.goto(`${polly.url}/ui/#/overview`);
    await expect.poll(() => page.getByTestId('volume-count').textContent()).toBe('2');
    await shot('service-view');
  });
});
