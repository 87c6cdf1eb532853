import type { NodeConnector } from '../../core/ports/driver.js';
import { blocklistAdd } from './ceph-blocklist.js';
import { blocklistEntryFor, type CephClient, isNotFound } from './ceph-client.js';

/**
 * Storage-side fence of one RBD image: blocklists every client instance at the addresses the node
 * registered (as ceph-csi's network fence does) and every instance that watches `spec` or holds its lock
 * (the holder's rbd-fuse or krbd mapping; the new holder has not mapped it yet), then breaks the lock.
 * Blocklisted clients get EBLOCKLISTED on every further I/O, so the next node can take the image at once.
 * `client` needs the monitor caps of `profile rbd` (which include `osd blocklist`). Idempotent.
 *
 * Each blocklist entry is a monitor proposal (up to `paxos_propose_interval`, 1 s by default, when the
 * monitor committed something lately), so the fence makes as few and as concurrent ones as it can
 * (through librados, see {@link blocklistAdd}): the node's addresses go at once, beside the listing of
 * watchers and lockers; an instance at one of those addresses is covered by its `IP:0/0` entry and needs
 * none of its own; the lock is broken without librbd's own blocklisting of the locker
 * (`rbd_blocklist_on_break_lock`), which would cost another proposal for an instance blocklisted already.
 */
export async function fenceRbdImage(client: CephClient, spec: string, connector: NodeConnector | undefined): Promise<{ blocklisted: string[] }> {
  // Loopback and link-local addresses never reach a monitor, so they name no client of this node.
  const hostEntries = new Set<string>();
  for (const a of connector?.addresses ?? []) {
    const entry = blocklistEntryFor(a);
    if (entry !== undefined) hostEntries.add(entry);
  }
  type LockList = Record<string, { locker: string; address: string }> | Array<{ id?: string; locker: string; address: string }> | null;
  const [, watchers, locks] = await Promise.all([
    blocklistAdd(client, [...hostEntries]),
    client.rbdJson<{ watchers?: Array<{ address: string }> }>(['status', spec]).then(
      (status) => (status.watchers ?? []).map((w) => w.address),
      (err: unknown) => (isNotFound(err) ? [] : Promise.reject(err)),
    ),
    client.rbdJson<LockList>(['lock', 'ls', spec]).then(
      (list) => (Array.isArray(list) ? list.map((l) => ({ id: l.id ?? '', ...l })) : Object.entries(list ?? {}).map(([id, l]) => ({ id, ...l }))),
      (err: unknown) => (isNotFound(err) ? [] : Promise.reject<Array<{ id: string; locker: string; address: string }>>(err)),
    ),
  ]);
  const instances = new Set<string>();
  for (const a of [...watchers, ...locks.map((l) => l.address)]) {
    const instance = a.replace(/^(v[12]:)/, '');
    if (!hostEntries.has(wholeHostEntry(instance))) instances.add(instance);
  }
  await blocklistAdd(client, [...instances]);
  // Locks held by a blocklisted client are released by the OSDs' watch timeout; break them now (the
  // holders listed above: whoever maps the image next has not taken it yet).
  await Promise.all(
    locks
      .filter((l) => l.id !== '')
      .map((l) => client.rbd(['lock', 'rm', '--rbd_blocklist_on_break_lock=false', spec, l.id, l.locker]).catch(() => undefined)),
  );
  return { blocklisted: [...hostEntries, ...instances] };
}

/** The `IP:0/0` entry that covers a client instance address (`IP:port/nonce`, IPv6 in brackets). */
export function wholeHostEntry(instance: string): string {
  const m = /^(\[[^\]]+\]|[^:/]+):\d+\/\d+$/.exec(instance);
  return m ? `${m[1]}:0/0` : instance;
}
