import { spawn } from 'node:child_process';
import { mkdir, symlink, copyFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import type { DockerHost } from './dockerd.js';

export const BUSYBOX = '/bin/busybox';
// dd (oflag=append, conv=fsync), timeout, grep, wc and sync serve tests that count acknowledged writes.
const APPLETS = ['sh', 'cat', 'echo', 'sleep', 'ls', 'true', 'dd', 'timeout', 'grep', 'wc', 'sync'];

/** A root filesystem holding a static busybox and a few applet symlinks (plus `extraApplets`), tarred (uncompressed). */
export async function busyboxRootfs(dir: string, extraApplets: readonly string[] = []): Promise<Buffer> {
  await mkdir(join(dir, 'bin'), { recursive: true });
  await mkdir(join(dir, 'data'), { recursive: true });
  await copyFile(BUSYBOX, join(dir, 'bin', 'busybox'));
  await chmod(join(dir, 'bin', 'busybox'), 0o755);
  for (const a of new Set([...APPLETS, ...extraApplets])) await symlink('busybox', join(dir, 'bin', a));
  return new Promise((resolve, reject) => {
    const tar = spawn('tar', ['-C', dir, '-c', '.'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let err = '';
    tar.stdout.on('data', (c: Buffer) => chunks.push(c));
    tar.stderr.on('data', (c: Buffer) => (err += c.toString()));
    tar.once('error', reject);
    tar.once('close', (code) => (code === 0 ? resolve(Buffer.concat(chunks)) : reject(new Error(`tar exited with ${code}: ${err}`))));
  });
}

/** `docker import` of the rootfs tarball on a host, as `tag`. */
export async function importImage(host: DockerHost, tarball: Buffer, tag: string): Promise<void> {
  const r = await host.docker(['import', '-', tag], { input: tarball });
  if (r.code !== 0) throw new Error(`docker import on ${host.name} failed: ${r.stderr}`);
}
