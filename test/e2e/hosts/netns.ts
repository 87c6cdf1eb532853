import { randomInt } from 'node:crypto';
import { run, runOk } from './exec.js';

/** A private layer-2 segment: a bridge in the root namespace (host 0) and one network namespace per host. */
export interface Network {
  bridge: string;
  /** Host 0's address (on the bridge, in the root namespace). */
  hostAddress: string;
  hosts: NetHost[];
  destroy(): Promise<void>;
}

export interface NetHost {
  /** `ip netns` name; its file is /run/netns/<name>. */
  netns: string;
  address: string;
}

/** Picks an unused 10.231.X.0/24 (or 10.232…), so that parallel runs and the machine's own routes never collide. */
async function freeSubnet(): Promise<string> {
  const used = (await runOk('ip', ['-4', '-o', 'addr', 'show'])).stdout + (await runOk('ip', ['-4', 'route', 'show', 'table', 'all'])).stdout;
  for (let i = 0; i < 100; i++) {
    const prefix = `10.${randomInt(231, 239)}.${randomInt(0, 256)}`;
    if (!used.includes(`${prefix}.`)) return prefix;
  }
  throw new Error('no free 10.231-238.x.0/24 subnet');
}

/**
 * Creates the bridge and `count` namespaces, each linked to the bridge by a veth pair, all named after
 * `id` (a few hex characters: interface names are at most 15 characters). `destroy()` removes whatever
 * was made, even when creation failed half-way.
 */
export async function createNetwork(id: string, count: number): Promise<Network> {
  const bridge = `pb${id}`;
  const made = { bridge: false, netns: [] as string[], veths: [] as string[] };
  const destroy = async () => {
    for (const ns of made.netns) await run('ip', ['netns', 'del', ns]);
    for (const v of made.veths) await run('ip', ['link', 'del', v]);
    if (made.bridge) await run('ip', ['link', 'del', bridge]);
  };
  try {
    const prefix = await freeSubnet();
    const hostAddress = `${prefix}.1`;
    await runOk('ip', ['link', 'add', bridge, 'type', 'bridge']);
    made.bridge = true;
    await runOk('ip', ['addr', 'add', `${hostAddress}/24`, 'dev', bridge]);
    await runOk('ip', ['link', 'set', bridge, 'up']);
    const hosts: NetHost[] = [];
    for (let i = 1; i <= count; i++) {
      const netns = `polly-${id}-${i}`;
      const outside = `pv${id}${i}`;
      const inside = `pn${id}${i}`;
      const address = `${prefix}.${i + 1}`;
      await runOk('ip', ['netns', 'add', netns]);
      made.netns.push(netns);
      await runOk('ip', ['link', 'add', outside, 'type', 'veth', 'peer', 'name', inside]);
      made.veths.push(outside);
      await runOk('ip', ['link', 'set', outside, 'master', bridge]);
      await runOk('ip', ['link', 'set', outside, 'up']);
      await runOk('ip', ['link', 'set', inside, 'netns', netns]);
      await runOk('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
      await runOk('ip', ['-n', netns, 'addr', 'add', `${address}/24`, 'dev', inside]);
      await runOk('ip', ['-n', netns, 'link', 'set', inside, 'up']);
      hosts.push({ netns, address });
    }
    return { bridge, hostAddress, hosts, destroy };
  } catch (err) {
    await destroy();
    throw err;
  }
}
