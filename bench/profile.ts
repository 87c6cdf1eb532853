/**
 * Summarises V8 CPU profiles (`node --cpu-prof`): self time per function, largest first, plus the same
 * grouped by package/area so that "where does the server spend its time" reads at a glance.
 *
 * Standalone: `npx tsx bench/profile.ts <dir-or-.cpuprofile> [top] [skip-first-ms]`.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO_ROOT } from './harness.js';

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface SelfTime {
  fn: string;
  where: string;
  ms: number;
  share: number;
}

function shortUrl(url: string): string {
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  if (path === '') return '(native)';
  const nm = path.lastIndexOf('node_modules/');
  if (nm >= 0) return path.slice(nm + 'node_modules/'.length);
  return path.startsWith(REPO_ROOT) ? relative(REPO_ROOT, path) : path;
}

/** The area a frame belongs to: a package name, a repo folder (src/store, …), node internals, or V8. */
function areaOf(url: string, fn: string): string {
  if (url === '') return fn.startsWith('(') ? fn : '(native)';
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const nm = path.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = path.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (path.startsWith('node:')) return 'node internals';
  if (path.startsWith(REPO_ROOT)) return relative(REPO_ROOT, path).split('/').slice(0, 2).join('/');
  return path;
}

function loadProfiles(target: string): CpuProfile[] {
  const files = statSync(target).isDirectory()
    ? readdirSync(target)
        .filter((f) => f.endsWith('.cpuprofile'))
        .map((f) => join(target, f))
    : [target];
  return files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as CpuProfile);
}

/** Self time per function and per area across the profiles in `target`. */
export function selfTimes(target: string, skipMs = 0): { total: number; functions: SelfTime[]; areas: SelfTime[] } {
  const byFn = new Map<string, { fn: string; where: string; ms: number }>();
  const byArea = new Map<string, number>();
  let total = 0;
  for (const profile of loadProfiles(target)) {
    const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
    const self = new Map<number, number>();
    if (profile.samples && profile.timeDeltas) {
      // Each delta is the time before the sample; attribute the time after a sample to the sampled node.
      let elapsed = 0;
      for (let i = 0; i < profile.samples.length; i++) {
        elapsed += profile.timeDeltas[i]! / 1000;
        if (elapsed < skipMs) continue;
        const dt = (profile.timeDeltas[i + 1] ?? 0) / 1000;
        self.set(profile.samples[i]!, (self.get(profile.samples[i]!) ?? 0) + dt);
      }
    } else {
      const interval = (profile.endTime - profile.startTime) / 1000 / Math.max(1, profile.nodes.reduce((a, n) => a + (n.hitCount ?? 0), 0));
      for (const n of profile.nodes) self.set(n.id, (n.hitCount ?? 0) * interval);
    }
    for (const [id, ms] of self) {
      const n = nodes.get(id);
      if (!n) continue;
      const fn = n.callFrame.functionName || '(anonymous)';
      if (fn === '(idle)') continue;
      const where = n.callFrame.url === '' ? '' : `${shortUrl(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
      const key = `${fn} ${where}`;
      const cur = byFn.get(key) ?? { fn, where, ms: 0 };
      cur.ms += ms;
      byFn.set(key, cur);
      const area = areaOf(n.callFrame.url, fn);
      byArea.set(area, (byArea.get(area) ?? 0) + ms);
      total += ms;
    }
  }
  const withShare = <T extends { ms: number }>(x: T) => ({ ...x, share: total === 0 ? 0 : x.ms / total });
  return {
    total,
    functions: [...byFn.values()].sort((a, b) => b.ms - a.ms).map(withShare),
    areas: [...byArea].map(([where, ms]) => ({ fn: where, where: '', ms })).sort((a, b) => b.ms - a.ms).map(withShare),
  };
}

/** A printable summary: top functions by self time, then areas; `skipMs` leaves out the process's first ms (start-up). */
export function summarizeProfiles(target: string, top = 20, skipMs = 0): string {
  const { total, functions, areas } = selfTimes(target, skipMs);
  const pct = (s: number) => `${(s * 100).toFixed(1).padStart(5)}%`;
  const lines = [`busy (non-idle) CPU time${skipMs > 0 ? ` after the first ${(skipMs / 1000).toFixed(1)} s` : ''}: ${(total / 1000).toFixed(2)} s`, 'top self time by function:'];
  for (const f of functions.slice(0, top)) lines.push(`  ${pct(f.share)} ${f.ms.toFixed(0).padStart(7)} ms  ${f.fn}  ${f.where}`);
  lines.push('self time by area:');
  for (const a of areas.slice(0, 15)) lines.push(`  ${pct(a.share)} ${a.ms.toFixed(0).padStart(7)} ms  ${a.fn}`);
  return lines.join('\n');
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const target = process.argv[2];
  if (target === undefined) {
    process.stderr.write('usage: tsx bench/profile.ts <dir-or-.cpuprofile> [top]\n');
    process.exit(2);
  }
  process.stdout.write(`${summarizeProfiles(target, Number(process.argv[3] ?? 30), Number(process.argv[4] ?? 0))}\n`);
}
