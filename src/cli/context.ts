import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { splitUrls } from '../client/failover.js';
import { PollyClient } from './client.js';
import { UsageError } from './errors.js';
import type { Format } from './output.js';

export const DEFAULT_URL = 'http://127.0.0.1:7978';

interface GlobalOptions {
  /** One URL or several, comma-separated (`--url` repeated, POLLY_URL); absent: {@link DEFAULT_URL}. */
  url?: string | undefined;
  token?: string | undefined;
  ca?: string | undefined;
  /** `--timeout` / POLLY_TIMEOUT, in seconds. */
  timeout?: number | undefined;
  output: Format;
}

/** What a command needs: a client for the chosen server, and the output format. */
export interface Context {
  client: PollyClient;
  format: Format;
}

/** The admin token file next to a local server: `<POLLY_DATA_DIR or ./data>/admin.token`. */
export function adminTokenFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.POLLY_DATA_DIR || './data', 'admin.token');
}

/** --token / POLLY_TOKEN, else the local admin token file when there is one. */
export function resolveToken(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (explicit !== undefined && explicit.trim() !== '') return explicit.trim();
  const file = adminTokenFile(env);
  if (!existsSync(file)) return undefined;
  try {
    return readFileSync(file, 'utf8').trim() || undefined;
  } catch {
    return undefined; // unreadable (another user's server): go without, and let the server say so
  }
}

/**
 * The server URLs of `--url` (repeatable, or comma-separated) / POLLY_URL, each checked, joined by
 * commas; {@link DEFAULT_URL} when none is given.
 */
export function checkUrls(value: string | undefined): string {
  const urls = splitUrls(value ?? DEFAULT_URL);
  if (urls.length === 0) throw new UsageError(`--url: no URL given (e.g. ${DEFAULT_URL})`);
  return urls.map(checkUrl).join(',');
}

/** `--url` repeated: the values joined by commas. */
export function collectUrls(value: string, previous: string | undefined): string {
  return previous === undefined || previous === '' ? value : `${previous},${value}`;
}

export function checkUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`--url: ${JSON.stringify(url)} is not a URL (e.g. ${DEFAULT_URL})`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new UsageError(`--url: ${JSON.stringify(url)} must start with http:// or https://`);
  }
  return url;
}

/** Builds the context from the global options of the command being run. */
export function contextOf(cmd: Command): Context {
  const opts = cmd.optsWithGlobals<GlobalOptions>();
  return {
    client: new PollyClient(checkUrls(opts.url), resolveToken(opts.token), { ca: readCa(opts.ca), attemptTimeoutMs: timeoutMs(opts.timeout) }),
    format: opts.output,
  };
}

/** `--timeout <seconds>`: a positive number of seconds, at most an hour. */
export function timeoutSeconds(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0 || n > 3600) throw new UsageError(`--timeout: ${JSON.stringify(value)} must be a number of seconds above 0, at most 3600`);
  return n;
}

/** The per-attempt timeout in ms, when `--timeout` / POLLY_TIMEOUT was given. */
export function timeoutMs(seconds: number | undefined): number | undefined {
  return seconds === undefined ? undefined : Math.round(seconds * 1000);
}

/** The PEM of `--ca FILE` / POLLY_CA_FILE, read once; a usage error naming the file when unreadable. */
export function readCa(file: string | undefined): string | undefined {
  if (file === undefined || file === '') return undefined;
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`--ca: cannot read ${file}: ${(err as Error).message}`);
  }
}
