import { readdir, readFile, writeFile } from 'node:fs/promises';
import type { DockerHost } from './dockerd.js';
import { run } from './exec.js';

/**
 * What a Docker host still holds of RBD volumes mapped with rbd-fuse + loop: the loop devices on files
 * under its directory and the rbd-fuse processes serving a mountpoint under it.
 */
export async function rbdMappingsOn(h: DockerHost): Promise<{ loops: string[]; rbdFuse: number[] }> {
  return { loops: await loopsUnder(`${h.dir}/`), rbdFuse: await rbdFuseUnder(`${h.dir}/`) };
}

/**
 * Loop devices whose backing file (as the kernel names it) starts with `prefix`. Read from sysfs:
 * `losetup` stats every backing file and would wait for a hung FUSE server.
 */
export async function loopsUnder(prefix: string): Promise<string[]> {
  const out: string[] = [];
  for (const dev of (await readdir('/sys/block')).filter((d) => d.startsWith('loop'))) {
    const backing = (await readFile(`/sys/block/${dev}/loop/backing_file`, 'utf8').catch(() => '')).trim();
    if (backing.startsWith(prefix)) out.push(`/dev/${dev}`);
  }
  return out;
}

/**
 * Loop devices on an RBD image's rbd-fuse file, however the kernel names it now: once its host's mount
 * namespace is gone the backing file reads `/<image>` (the FUSE mount is detached from every tree).
 */
export async function loopsOnImage(image: string): Promise<string[]> {
  const out: string[] = [];
  for (const dev of (await readdir('/sys/block')).filter((d) => d.startsWith('loop'))) {
    const backing = (await readFile(`/sys/block/${dev}/loop/backing_file`, 'utf8').catch(() => '')).trim();
    if (backing.endsWith(`/${image}`)) out.push(`/dev/${dev}`);
  }
  return out;
}

/** rbd-fuse processes with an argument under `prefix` (their mountpoint), by pid. */
export async function rbdFuseUnder(prefix: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of (await readdir('/proc')).filter((e) => /^\d+$/.test(e))) {
    const argv = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if ((argv[0] ?? '').endsWith('rbd-fuse') && argv.some((a) => a.startsWith(prefix))) pids.push(Number(entry));
  }
  return pids;
}

/** FUSE connections (their fusectl numbers) of the FUSE mounts under a host's directory in its mount namespace. */
export async function fuseConnectionsOf(h: DockerHost): Promise<string[]> {
  if (h.pid === 0) return [];
  const info = await readFile(`/proc/${h.pid}/mountinfo`, 'utf8').catch(() => '');
  return info
    .split('\n')
    .filter((l) => / - fuse(\.[^ ]+)? /.test(l) && l.includes(h.dir))
    .map((l) => l.split(' ')[2]?.split(':')[1] ?? '')
    .filter(Boolean);
}

/**
 * After a host is gone, its killed rbd-fuse can hang in exit while the kernel still waits on it (a loop
 * device's I/O): abort exactly the FUSE connections that host had, as `fusectl` allows.
 */
export async function abortFuseConnections(ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await run('mount', ['-t', 'fusectl', 'fusectl', '/sys/fs/fuse/connections']);
  for (const c of ids) await writeFile(`/sys/fs/fuse/connections/${c}/abort`, '1').catch(() => undefined);
}
