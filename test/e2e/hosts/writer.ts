import type { DockerHost } from './dockerd.js';

/**
 * A container that appends `a <n>` lines to /data/<file>, each with its own open + write + fsync (busybox
 * dd), and prints `ack <n>` only once dd returned success; a failed write prints `fail <n>: <dd's error>`
 * on stderr. Returns the container id.
 */
export async function startWriter(h: DockerHost, image: string, volume: string, file: string): Promise<string> {
  const script = [
    'i=0',
    'while true; do i=$((i+1))',
    `if out=$(echo "a $i" | dd of=/data/${file} oflag=append conv=notrunc,fsync status=none 2>&1); then echo "ack $i"; else echo "fail $i: $out" >&2; fi`,
    'sleep 0.02; done',
  ].join('; ');
  const r = await h.docker(['run', '-d', '--network', 'none', '-v', `${volume}:/data`, image, 'sh', '-c', script]);
  if (r.code !== 0) throw new Error(`docker run (writer) on ${h.name} failed: ${r.stderr}`);
  return r.stdout.trim();
}

/** The writer's acknowledged line numbers and its failure lines so far. */
export async function writerLog(h: DockerHost, container: string): Promise<{ acked: number[]; failures: string[] }> {
  const logs = await h.docker(['logs', container], { timeoutMs: 20_000 });
  const acked = [...logs.stdout.matchAll(/^ack (\d+)$/gm)].map((m) => Number(m[1]));
  const failures = logs.stderr.split('\n').filter((l) => l.startsWith('fail '));
  return { acked, failures };
}
