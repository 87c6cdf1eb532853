import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { Value } from 'typebox/value';
import { parse as parseYaml } from 'yaml';
import { PollyError } from '../core/errors.js';
import { ConfigFileSchema, type ConfigFile, type NodeCredentialConfig, type OsbConfig, type PoolConfig, type ProfileConfig, type ServiceConfig } from './schema.js';

export const DEFAULT_CONFIG_PATH = '/etc/polly/config.yml';
export const DEFAULT_LISTEN = '127.0.0.1:7978';

/** The configuration after defaults and environment overrides: everything is decided. */
export interface PollyConfig {
  /** Where the configuration came from, for messages (`defaults` when no file). */
  source: string;
  listen: { host: string; port: number };
  dataDir: string;
  databaseUrl: string;
  adminToken: string | undefined;
  logLevel: NonNullable<ConfigFile['logLevel']>;
  tls: { certFile: string; keyFile: string } | undefined;
  idempotencyTtlSeconds: number;
  reconcileIntervalSeconds: number;
  offerTtlSeconds: number;
  reservationTtlSeconds: number;
  attachmentLeaseSeconds: number;
  /** The agent's self-fence deadline is this long before its lease ends (seconds, less than the lease). */
  selfFenceMarginSeconds: number;
  /** Re-grant no sooner than lease end plus this (seconds): the agent fenced itself long before. */
  clockSkewSeconds: number;
  /** This replica's stable name: a restart under the same name takes over its own interrupted work at once. */
  replicaId: string;
  /** How often every replica records that it is alive (seconds). */
  replicaHeartbeatSeconds: number;
  /** A replica silent for this long is dead: the leader finishes what it left (seconds). */
  replicaTimeoutSeconds: number;
  /** How often an operation a transient backend failure left in `error` is retried, at most. */
  errorRetryLimit: number;
  /** Wait before the first retry of a failed operation; doubles with each retry (seconds). */
  errorRetryBaseSeconds: number;
  agent: NonNullable<ConfigFile['agent']>;
  /** `tls` resolved: true only for a tcp endpoint with the server's certificate configured. */
  csi: Array<{ endpoint: string; service?: string | undefined; tls: boolean }>;
  pools: PoolConfig[];
  profiles: ProfileConfig[];
  services: ServiceConfig[];
  osb: OsbConfig | undefined;
  nodeCredentials: NodeCredentialConfig[];
}

/** Library callers may pass a partial document; `load` fills the rest exactly as for a file. */
export type PollyConfigInput = ConfigFile;

function configError(source: string, message: string): PollyError {
  return new PollyError('VALIDATION_FAILED', `config ${source}: ${message}`);
}

/** Validates a parsed document and names every bad or unknown key. */
export function validateConfigDocument(doc: unknown, source: string): ConfigFile {
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw configError(source, 'the document must be a mapping');
  if (Value.Check(ConfigFileSchema, doc)) return doc;
  const problems: string[] = [];
  for (const e of Value.Errors(ConfigFileSchema, doc)) {
    if (e.keyword === 'additionalProperties') continue; // reported per key by the `boolean` entries
    const key = e.instancePath.replace(/^\//, '').replaceAll('/', '.') || '(root)';
    problems.push(e.keyword === 'boolean' ? `${key}: unknown key` : `${key}: ${e.message}`);
  }
  throw configError(source, [...new Set(problems)].join('; '));
}

export function parseListen(value: string, source: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw configError(source, `listen: ${JSON.stringify(value)} is not host:port (e.g. 127.0.0.1:7978)`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

export interface LoadOptions {
  /** An explicit file (`--config`); an explicit file that does not exist is an error. */
  file?: string | undefined;
  /** A document given in code (library use); merged under the environment like a file. */
  document?: PollyConfigInput | undefined;
  env?: NodeJS.ProcessEnv;
}

/**
 * Loads the configuration: the file (`--config`, else POLLY_CONFIG, else /etc/polly/config.yml when it
 * exists), then POLLY_* environment overrides, then defaults.
 */
export function loadConfig(opts: LoadOptions = {}): PollyConfig {
  const env = opts.env ?? process.env;
  let source = 'defaults';
  let doc: ConfigFile = {};
  const file = opts.file ?? env.POLLY_CONFIG;
  if (opts.document !== undefined) {
    source = 'document';
    doc = validateConfigDocument(opts.document, source);
  } else if (file !== undefined && file !== '') {
    source = file;
    if (!existsSync(file)) throw configError(file, 'file not found');
    doc = readDocument(file);
  } else if (existsSync(DEFAULT_CONFIG_PATH)) {
    source = DEFAULT_CONFIG_PATH;
    doc = readDocument(DEFAULT_CONFIG_PATH);
  }

  const dataDir = resolve(env.POLLY_DATA_DIR || doc.dataDir || './data');
  const listenText = env.POLLY_LISTEN || doc.listen || DEFAULT_LISTEN;
  const databaseUrl = env.POLLY_DATABASE_URL || doc.databaseUrl || `sqlite:${resolve(dataDir, 'polly.db')}`;
  const adminToken = env.POLLY_ADMIN_TOKEN || doc.adminToken;
  if (adminToken !== undefined && adminToken.length < 16) {
    throw configError(source, 'POLLY_ADMIN_TOKEN: must be at least 16 characters');
  }
  const logLevel = (env.POLLY_LOG_LEVEL || doc.logLevel || 'info') as PollyConfig['logLevel'];
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    throw configError(source, `POLLY_LOG_LEVEL: ${JSON.stringify(logLevel)} is not a log level`);
  }

  const pools = doc.pools ?? [{ name: 'local', driver: 'local' }];
  assertUnique(source, 'pools', pools.map((p) => p.name));
  const profiles = doc.profiles ?? [];
  if (!profiles.some((p) => p.name === 'default')) profiles.unshift({ name: 'default', description: 'Default profile' });
  assertUnique(source, 'profiles', profiles.map((p) => p.name));
  const services = doc.services ?? [];
  assertUnique(source, 'services', services.map((s) => s.name));
  if (doc.osb) {
    parseListen(doc.osb.listen, source);
    assertUnique(source, 'osb.credentials', doc.osb.credentials.map((c) => c.username));
    doc.osb.credentials.forEach((c, i) => {
      const given = [c.password, c.passwordHash, c.passwordFile].filter((x) => x !== undefined).length;
      if (given !== 1) throw configError(source, `osb.credentials.${i}: give exactly one of password, passwordHash, passwordFile`);
    });
  }
  const csi = (env.POLLY_CSI_ENDPOINT ? [{ endpoint: env.POLLY_CSI_ENDPOINT }] : (doc.csi ?? [])).map(
    (c: { endpoint: string; service?: string | undefined; tls?: boolean | undefined }, i) => {
      const tcp = c.endpoint.startsWith('tcp://');
      if (c.tls === true && !tcp) throw configError(source, `csi.${i}.tls: only tcp:// endpoints serve TLS (a unix socket is guarded by its file mode)`);
      if (c.tls === true && !doc.tls) throw configError(source, `csi.${i}.tls: set tls.certFile and tls.keyFile first`);
      return { endpoint: c.endpoint, ...(c.service !== undefined ? { service: c.service } : {}), tls: tcp && doc.tls !== undefined && c.tls !== false };
    },
  );
  const lease = doc.attachmentLeaseSeconds ?? 30;
  if (doc.selfFenceMarginSeconds !== undefined && doc.selfFenceMarginSeconds >= lease) {
    throw configError(source, `selfFenceMarginSeconds (${doc.selfFenceMarginSeconds}) must be less than attachmentLeaseSeconds (${lease})`);
  }
  (doc.nodeCredentials ?? []).forEach((n, i) => {
    if ((n.token === undefined) === (n.tokenFile === undefined)) throw configError(source, `nodeCredentials.${i}: give exactly one of token, tokenFile`);
  });

  return {
    source,
    listen: parseListen(listenText, source),
    dataDir,
    databaseUrl,
    adminToken,
    logLevel,
    tls: doc.tls,
    idempotencyTtlSeconds: doc.idempotencyTtlSeconds ?? 24 * 3600,
    reconcileIntervalSeconds: doc.reconcileIntervalSeconds ?? 30,
    offerTtlSeconds: doc.offerTtlSeconds ?? 300,
    reservationTtlSeconds: doc.reservationTtlSeconds ?? 60,
    attachmentLeaseSeconds: doc.attachmentLeaseSeconds ?? 30,
    selfFenceMarginSeconds: doc.selfFenceMarginSeconds ?? Math.min(5, (doc.attachmentLeaseSeconds ?? 30) / 3),
    clockSkewSeconds: doc.clockSkewSeconds ?? 2,
    replicaId: env.POLLY_REPLICA_ID || doc.replicaId || `${hostname()}:${dataDir}`,
    replicaHeartbeatSeconds: doc.replicaHeartbeatSeconds ?? 2,
    replicaTimeoutSeconds: doc.replicaTimeoutSeconds ?? 10,
    errorRetryLimit: doc.errorRetryLimit ?? 5,
    errorRetryBaseSeconds: doc.errorRetryBaseSeconds ?? 10,
    agent: doc.agent ?? {},
    csi,
    pools,
    profiles,
    services,
    osb: doc.osb,
    nodeCredentials: doc.nodeCredentials ?? [],
  };
}

function readDocument(file: string): ConfigFile {
  let parsed: unknown;
  try {
    parsed = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    throw configError(file, `not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  return validateConfigDocument(parsed, file);
}

function assertUnique(source: string, key: string, names: string[]): void {
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) throw configError(source, `${key}: name ${JSON.stringify(n)} is declared twice`);
    seen.add(n);
  }
}

/** A pool's driver parameters, with the `path` shorthand folded in. */
export function poolParameters(p: { path?: string | undefined; parameters?: Record<string, string> | undefined }): Record<string, string> {
  return { ...(p.parameters ?? {}), ...(p.path !== undefined ? { path: p.path } : {}) };
}
