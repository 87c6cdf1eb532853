/**
 * P5 time to mount: create → attach → mounted on the local node, p50/p99 over 50 btrfs volumes. Goal:
 * p50 < 150 ms. Needs attachments (volume × node leases) and the node agent that mounts on attach;
 * neither exists yet, so the benchmark reports itself skipped until they do (and is never a pass).
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Benchmark, REPO_ROOT, skippedRow } from './harness.js';

/** Why P5 is not measured: the pieces it needs are missing, or (once they exist) the measurement is not written yet. */
export function mountTimeBlocker(): string {
  const agentDir = join(REPO_ROOT, 'src/agent');
  const hasAgent = existsSync(agentDir) && readdirSync(agentDir).some((f) => f.endsWith('.ts'));
  const hasAttachments = existsSync(join(REPO_ROOT, 'src/app/attachments.ts'));
  if (hasAgent && hasAttachments) {
    return 'not written yet: attachments and the node agent landed after this suite (next: create → POST /v1/volumes/{id}/attachments → mounted by the agent)';
  }
  const missing = [...(hasAttachments ? [] : ['attachments (src/app/attachments.ts)']), ...(hasAgent ? [] : ['the node agent (src/agent)'])];
  return `needs ${missing.join(' and ')}, which do not exist yet`;
}

export const mountTimeBenchmark: Benchmark = {
  id: 'P5',
  name: 'mount-time',
  title: 'time to mount (btrfs)',
  async run() {
    const blocker = mountTimeBlocker();
    return [
      skippedRow('P5 create→attach→mounted p50 (50 btrfs volumes)', 'p50 < 150 ms', blocker),
      skippedRow('P5 create→attach→mounted p99 (50 btrfs volumes)', 'informational', blocker),
    ];
  },
};
