import { readFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { run, stderrOf } from '../system/exec.js';
import type { CephClient } from './ceph-client.js';

/**
 * `osd blocklist add` for several client addresses at once. Each entry is a monitor proposal, so what a
 * fence costs is mostly the monitor's (up to `paxos_propose_interval`) plus, with the `ceph` CLI, a
 * Python start that loads every module of the CLI and fetches the monitor's command table first. This
 * sends the commands straight through librados (the `rados` Python binding the CLI itself uses, which
 * ceph-common installs), all at once over one session, so they land in one proposal. Where the binding
 * cannot be loaded it falls back to one `ceph osd blocklist add` per address, in parallel.
 */
export async function blocklistAdd(client: CephClient, addresses: readonly string[]): Promise<void> {
  if (addresses.length === 0) return;
  const python = await cephPython();
  if (python !== undefined && !bindingMissing) {
    await client.prepare();
    try {
      await run(python, ['-c', SCRIPT, client.conf, client.user, ...addresses], { timeoutMs: 90_000 });
      return;
    } catch (err) {
      if (!/ModuleNotFoundError|ImportError|ENOENT/.test(stderrOf(err) || String(err))) throw err;
      bindingMissing = true;
    }
  }
  await Promise.all(addresses.map((a) => client.ceph(['osd', 'blocklist', 'add', a])));
}

let bindingMissing = false;
let interpreter: Promise<string | undefined> | undefined;

/** The interpreter of the `ceph` CLI on PATH (its `#!` line): the one that has the `rados` binding. */
function cephPython(): Promise<string | undefined> {
  interpreter ??= (async () => {
    for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
      const head = await readFile(join(dir, 'ceph'), 'utf8').then((t) => t.slice(0, 200), () => undefined);
      if (head === undefined) continue;
      const m = /^#!\s*(\S*python[\d.]*)\s*$/m.exec(head.split('\n')[0] ?? '');
      return m?.[1];
    }
    return undefined;
  })();
  return interpreter;
}

// argv: conf, user, addresses…; every command is sent before any answer is awaited (threads: librados
// calls release the GIL), and a failed one names its address and the monitor's answer.
const SCRIPT = `
import json, sys, threading, rados
conf, user, addrs = sys.argv[1], sys.argv[2], sys.argv[3:]
c = rados.Rados(conffile=conf, rados_id=user)
c.connect(timeout=30)
errors = []
def add(addr):
    ret, _, err = c.mon_command(json.dumps({"prefix": "osd blocklist", "blocklistop": "add", "addr": addr}), b"", timeout=60)
    if ret != 0:
        errors.append("osd blocklist add %s: %s (%d)" % (addr, err, ret))
threads = [threading.Thread(target=add, args=(a,)) for a in addrs]
for t in threads: t.start()
for t in threads: t.join()
c.shutdown()
if errors:
    sys.stderr.write("\\n".join(errors) + "\\n")
    sys.exit(1)
`;
