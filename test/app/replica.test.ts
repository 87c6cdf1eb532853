import { afterEach, describe, expect, it } from 'vitest';
import { Replica } from '../../src/app/replica.js';
import { openTestStore, type TestStore } from '../helpers/stores.js';

let t: TestStore | undefined;
afterEach(async () => {
  await t?.cleanup();
  t = undefined;
});

/** A clock the test moves. */
const clockAt = (start: number) => {
  let ms = start;
  return { now: () => new Date(ms), advance: (s: number) => (ms += s * 1000) };
};

describe('Replica: heartbeats after being forgotten or replaced', () => {
  it('a replica the others forgot as silent (store out of reach too long) joins again under its own name', async () => {
    t = await openTestStore('sqlite');
    const clock = clockAt(Date.parse('2026-12-03T10:00:00Z'));
    const a = new Replica(t.store, clock, 'r-a', 3);
    const b = new Replica(t.store, clock, 'r-b', 3);
    await a.register();
    await b.register();
    clock.advance(5); // both silent for longer than the timeout, as while PostgreSQL was down
    expect(await b.heartbeat()).toEqual({ renamed: false, rejoined: false });
    expect(await b.departures()).toBe(true); // b forgets a
    expect(await a.heartbeat()).toEqual({ renamed: false, rejoined: true });
    expect(a.name).toBe('r-a');
    expect(await a.heartbeat()).toEqual({ renamed: false, rejoined: false });
  });

  it('a replica whose name another process took re-registers under a name of its own', async () => {
    t = await openTestStore('sqlite');
    const clock = clockAt(Date.parse('2026-12-03T10:00:00Z'));
    const first = new Replica(t.store, clock, 'r-a', 3);
    await first.register();
    const second = new Replica(t.store, clock, 'r-a', 3);
    await second.register();
    expect(await first.heartbeat()).toEqual({ renamed: true, rejoined: false });
    expect(first.name).toBe(`r-a~${first.incarnation.slice(0, 8)}`);
    expect(await second.heartbeat()).toEqual({ renamed: false, rejoined: false });
  });
});
