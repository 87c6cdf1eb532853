import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { BUSYBOX } from './image.js';

/** Whether an executable of that name is on PATH. */
export function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function exists(path: string): boolean {
  try {
    accessSync(path);
    return true;
  } catch {
    return false;
  }
}

/** What a two-Docker-host e2e lacks on this machine: the commands, a static busybox, root. */
export function missingForHosts(commands: readonly string[]): string[] {
  return [
    ...['dockerd', 'docker', 'ip', 'unshare', 'nsenter', 'mount', 'tar', ...commands].filter((c) => !onPath(c)),
    ...(onPath('busybox') || exists(BUSYBOX) ? [] : ['busybox']),
    ...(process.getuid?.() === 0 ? [] : ['root']),
  ];
}

/** Clean-up steps, run last-in first-out; every step runs even when earlier ones fail. */
export class CleanupSteps {
  readonly #steps: Array<[string, () => Promise<unknown>]> = [];

  add(what: string, fn: () => Promise<unknown>): void {
    this.#steps.push([what, fn]);
  }

  /** Runs every step; answers the problems (`what: message`), if any. */
  async run(): Promise<string[]> {
    const errors: string[] = [];
    while (this.#steps.length > 0) {
      const [what, fn] = this.#steps.pop()!;
      try {
        await fn();
      } catch (err) {
        errors.push(`${what}: ${(err as Error).message}`);
      }
    }
    return errors;
  }
}

// Tests inspect arbitrary JSON responses.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ApiAnswer = { status: number; body: any };

/** A REST call to a Polly server with a bearer token. */
export async function callApi(baseUrl: string, method: string, path: string, token: string, body?: unknown): Promise<ApiAnswer> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}
