import { afterEach, describe, expect, it, vi } from 'vitest';
import { PollyError } from '../../src/core/errors.js';
import { FakeDriver, fakeDriverFor } from '../../src/drivers/fake/fake-driver.js';

const MiB = 1024 * 1024;
const fake = (parameters: Record<string, string> = {}, poolName = 'mem') => new FakeDriver({ poolName, parameters, dataDir: '/nonexistent' });
const vol = (volumeId: string, sizeBytes = MiB) => ({ volumeId, sizeBytes, volumeMode: 'filesystem' as const });

afterEach(() => {
  vi.useRealTimers();
});

describe('fake driver', () => {
  it('fails the next calls of a method with the injected error, then recovers', async () => {
    const d = fake();
    const boom = new PollyError('BACKEND_FAILED', 'disk on fire');
    d.failNext('create', boom, { times: 2 });
    await expect(d.create(vol('vol-1'))).rejects.toBe(boom);
    await expect(d.create(vol('vol-1'))).rejects.toBe(boom);
    expect(await d.create(vol('vol-1'))).toEqual({ backendId: 'vol-1', sizeBytes: MiB });
    expect(d.calls('create')).toBe(3);
  });

  it('can fail after doing the work (a lost reply), and a retry finds the result', async () => {
    const d = fake();
    d.failNext('create', undefined, { phase: 'after' });
    await expect(d.create(vol('vol-1'))).rejects.toMatchObject({ code: 'BACKEND_FAILED' });
    expect((await d.list()).map((o) => o.backendId)).toEqual(['vol-1']);
    expect(await d.create(vol('vol-1'))).toEqual({ backendId: 'vol-1', sizeBytes: MiB });
  });

  it('injects node failures and clears faults', async () => {
    const d = fake();
    await d.create(vol('vol-1'));
    d.failNext('node.publish');
    d.failNext('delete');
    d.clearFaults();
    await d.node.publish({ backendId: 'vol-1', volumeId: 'vol-1', stagingPath: '/s', targetPath: '/t', volumeMode: 'filesystem', readOnly: false });
    d.failNext('node.unpublish');
    await expect(d.node.unpublish({ backendId: 'vol-1', volumeId: 'vol-1', targetPath: '/t' })).rejects.toMatchObject({ code: 'BACKEND_FAILED' });
    expect(d.node.publishedAt('/t')).toBe('vol-1');
  });

  it('uses no timer at all when latency is 0', async () => {
    vi.useFakeTimers();
    const d = fake();
    // With fake timers a setTimeout would never fire: these resolve only because none is used.
    await d.create(vol('vol-1'));
    await d.capacity();
    await d.delete('vol-1');
  });

  it('adds the configured latency', async () => {
    const d = fake({ latencyMs: '25' });
    const start = performance.now();
    await d.capacity();
    expect(performance.now() - start).toBeGreaterThanOrEqual(20);
    d.setLatency(0);
    vi.useFakeTimers();
    await d.capacity();
  });

  it('refuses a volume larger than the free space', async () => {
    const d = fake({ capacityBytes: String(100 * MiB) });
    await expect(d.create(vol('vol-big', 200 * MiB))).rejects.toMatchObject({ code: 'NO_CAPACITY' });
    expect(await d.list()).toEqual([]);
  });

  it('validates its parameters', () => {
    expect(() => fake({ capacityBytes: 'lots' })).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED', message: expect.stringContaining('capacityBytes') }));
    expect(() => fake({ latencyMs: '-1' })).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED' }));
    expect(() => fake({ disable: 'snapshots,teleport' })).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED', message: expect.stringContaining('teleport') }));
  });

  it('is reachable by pool name while open', async () => {
    const d = fake({}, 'reachable');
    expect(fakeDriverFor('reachable')).toBe(d);
    await d.close();
    expect(fakeDriverFor('reachable')).toBeUndefined();
  });

  it('pushes thousands of operations per second at zero latency', async () => {
    const d = fake();
    const start = performance.now();
    for (let i = 0; i < 5000; i++) {
      await d.create(vol(`vol-${i}`));
      await d.delete(`vol-${i}`);
    }
    // Generous: a shared CI machine; the point is "no per-call timer", which would take ≥ 10 s here.
    expect(performance.now() - start).toBeLessThan(2000);
  });
});
