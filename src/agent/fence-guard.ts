import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { selfFenceDeadline } from '../core/failover.js';
import { setFenceHostPid } from '../drivers/system/fence.js';
import type { AgentState } from './agent.js';

/**
 * The fence guard: a small process the agent starts beside itself, in its own process group, so that
 * the self-fence deadline holds when the agent dies (kill -9, a crash, an OOM kill) while containers on
 * this host go on writing. It reads the agent's state file (held volumes, the last successful renewal,
 * lease and margin, the pools' drivers); once the agent process is gone and the deadline passed, it
 * fences every held volume as the agent would have (all of this host's mount namespaces, read-only at
 * the storage where the driver can), writes a report for the next agent to send, and exits. A new agent
 * of the same state directory stops it and starts its own. It never talks to the server.
 */

/** How the agent starts a guard: the command and its leading arguments (`--state-dir …` follow). */
export interface FenceGuardCommand {
  command: string;
  args: string[];
}

const REPORT = 'fence-guard-report.json';

/** Starts a guard for this agent (detached: it outlives the agent's process group). Answers its pid. */
export async function startFenceGuard(cmd: FenceGuardCommand, opts: { stateDir: string; agentPid: number }): Promise<number | undefined> {
  const out = openSync(join(opts.stateDir, 'fence-guard.log'), 'a');
  try {
    const child = spawn(cmd.command, [...cmd.args, '--state-dir', opts.stateDir, '--agent-pid', String(opts.agentPid)], { detached: true, stdio: ['ignore', out, out] });
    child.unref();
    child.once('error', () => undefined);
    return child.pid;
  } finally {
    closeSync(out);
  }
}

/** Stops a previous agent's guard (when that pid still is a fence guard). */
export async function stopFenceGuard(pid: number): Promise<void> {
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  if (!cmdline.includes('fence-guard')) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  for (let i = 0; i < 50 && alive(pid); i++) await sleep(20);
}

/** What a guard fenced while no agent ran, for the next agent to report; `remove()` once it is taken. */
export async function readGuardReport(stateDir: string): Promise<{ attachments: string[]; fencedAt: string; remove: () => Promise<void> } | undefined> {
  const path = join(stateDir, REPORT);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  const r = JSON.parse(text) as { attachments: string[]; fencedAt: string };
  return { attachments: r.attachments, fencedAt: r.fencedAt, remove: () => rm(path, { force: true }) };
}

/** True while the process exists and is not a zombie (killed but not reaped yet is as dead as gone). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

async function readState(stateDir: string): Promise<AgentState | undefined> {
  try {
    return JSON.parse(await readFile(join(stateDir, 'agent-state.json'), 'utf8')) as AgentState;
  } catch {
    return undefined;
  }
}

export interface FenceGuardOptions {
  stateDir: string;
  dataDir: string;
  agentPid: number;
  hostPid?: number | undefined;
  log: Logger;
  pollMs?: number | undefined;
}

/** The guard's loop (`polly agent-fence-guard`); resolves when there is nothing left to guard. */
export async function runFenceGuard(opts: FenceGuardOptions): Promise<void> {
  if (opts.hostPid !== undefined) setFenceHostPid(opts.hostPid);
  const poll = opts.pollMs ?? 200;
  for (;;) {
    const state = await readState(opts.stateDir);
    // Another agent took over this state directory: it guards its own deadline.
    if (!state || state.agentPid !== opts.agentPid) return;
    if (alive(opts.agentPid)) {
      await sleep(poll);
      continue;
    }
    if (!state.lastRenewalStart || state.held.length === 0) return;
    const deadline = selfFenceDeadline(state.lastRenewalStart, state.leaseSeconds ?? 30, state.marginSeconds ?? 5);
    if (Date.now() < deadline) {
      await sleep(Math.min(poll, deadline - Date.now()));
      continue;
    }
    const again = await readState(opts.stateDir);
    if (!again || again.agentPid !== opts.agentPid) return;
    const fencedAt = new Date().toISOString();
    const done: string[] = [];
    // Loaded only when it must fence: `polly agent` imports this module, and its start stays light.
    const { createNodeHalf } = await import('../drivers/registry.js');
    for (const h of state.held) {
      const pool = state.pools?.[h.pool];
      if (!pool) {
        opts.log.error({ volumeId: h.volumeId, pool: h.pool }, 'fence guard: no driver recorded for the pool; cannot fence');
        continue;
      }
      try {
        const driver = createNodeHalf(pool.driver, { poolName: h.pool, parameters: pool.parameters, dataDir: opts.dataDir });
        await driver.init();
        await driver.node.selfFence({ backendId: h.backendId, volumeId: h.volumeId, stagingPath: h.stagingPath, targetPaths: Object.keys(h.targets), storageReadOnly: true });
        await driver.close().catch(() => undefined);
        done.push(h.attachmentId);
      } catch (err) {
        opts.log.error({ err, volumeId: h.volumeId }, 'fence guard: fencing a volume failed');
      }
    }
    opts.log.error({ agentPid: opts.agentPid, fencedAt, attachments: done, deadline: new Date(deadline).toISOString() }, 'fence guard: the agent died; self-fenced at its deadline');
    const tmp = join(opts.stateDir, `${REPORT}.tmp`);
    await writeFile(tmp, JSON.stringify({ attachments: done, fencedAt }));
    await rename(tmp, join(opts.stateDir, REPORT));
    return;
  }
}
