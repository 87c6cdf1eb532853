import { isIPv4, isIPv6 } from 'node:net';
import type { NodeConnector } from '../../core/ports/driver.js';
import { type CephClient, isNotFound } from './ceph-client.js';

/**
 * Storage-side fence of one RBD image: blocklists every client instance that watches `spec` (the
 * holder's rbd-fuse or krbd mapping; the new holder has not mapped it yet) and every lock holder, plus
 * any instance at the addresses the node registered. Blocklisted clients get EBLOCKLISTED on every
 * further I/O and lose their exclusive lock, so the next node can take the image at once. `client` needs
 * the monitor caps of `profile rbd` (which include `osd blocklist`). Idempotent.
 */
export async function fenceRbdImage(client: CephClient, spec: string, connector: NodeConnector | undefined): Promise<{ blocklisted: string[] }> {
  const targets = new Set<string>();
  // The image's watchers and lock holders, asked at once (each is a CLI start and a monitor session).
  type LockList = Record<string, { locker: string; address: string }> | Array<{ id?: string; locker: string; address: string }> | null;
  const [watchers, locks] = await Promise.all([
    client.rbdJson<{ watchers?: Array<{ address: string }> }>(['status', spec]).then(
      (status) => (status.watchers ?? []).map((w) => w.address),
      (err: unknown) => (isNotFound(err) ? [] : Promise.reject(err)),
    ),
    client.rbdJson<LockList>(['lock', 'ls', spec]).then(
      (list) => (Array.isArray(list) ? list.map((l) => ({ id: l.id ?? '', ...l })) : Object.entries(list ?? {}).map(([id, l]) => ({ id, ...l }))),
      (err: unknown) => (isNotFound(err) ? [] : Promise.reject<Array<{ id: string; locker: string; address: string }>>(err)),
    ),
  ]);
  for (const a of [...watchers, ...locks.map((l) => l.address)]) targets.add(a);
  // A registered address fences every client of that host (ceph-csi's network fence); loopback and
  // link-local addresses never reach a monitor, so they name no client of this node.
  for (const a of connector?.addresses ?? []) {
    const entry = blocklistEntryFor(a);
    if (entry !== undefined) targets.add(entry);
  }
  // One monitor round trip each: in parallel, so a node with many addresses is cut off in one.
  const entries = [...targets].map((addr) => addr.replace(/^(v[12]:)/, ''));
  await Promise.all(entries.map((addr) => client.ceph(['osd', 'blocklist', 'add', addr])));
  // Locks held by a blocklisted client are released by the OSDs' watch timeout; break them now (the
  // holders listed above: whoever maps the image next has not taken it yet).
  await Promise.all(locks.filter((l) => l.id !== '').map((l) => client.rbd(['lock', 'rm', spec, l.id, l.locker]).catch(() => undefined)));
  return { blocklisted: entries };
}

/**
 * The `ceph osd blocklist add` entry that covers every client instance at a node address (`IP:0/0`,
 * IPv6 in brackets as Ceph writes entity addresses), or undefined for loopback and link-local
 * addresses (and anything that is not an IP address).
 */
export function blocklistEntryFor(address: string): string | undefined {
  const a = address.trim().replace(/%.*$/, '');
  if (isIPv4(a)) return /^127\.|^169\.254\./.test(a) ? undefined : `${a}:0/0`;
  if (isIPv6(a)) {
    const lower = a.toLowerCase();
    if (lower === '::1' || /^fe[89ab][0-9a-f]:/.test(lower)) return undefined;
    return `[${a}]:0/0`;
  }
  return undefined;
}
