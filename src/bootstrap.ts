import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { PollyError } from './core/errors.js';
import { join } from 'node:path';
import type { PollyApp } from './app/polly-app.js';
import { profileFromSpec } from './app/profiles.js';
import { generateToken } from './app/tokens.js';
import { poolParameters, type PollyConfig } from './config/config.js';
import type { Store } from './store/store.js';
import { upsertPool, upsertProfile } from './store/repos/pools.js';
import { nowIso } from './store/store.js';

export const ADMIN_TOKEN_FILE = 'admin.token';

/** Writes the pools and profiles the configuration declares (definitions only; counters are kept). */
export async function syncDeclaredObjects(store: Store, config: PollyConfig): Promise<void> {
  const at = nowIso();
  await store.transaction(async (trx) => {
    for (const p of config.pools) {
      const parameters = poolParameters(p);
      await upsertPool(trx, {
        name: p.name,
        driver: p.driver,
        parameters,
        labels: p.labels ?? {},
        topology: p.topology ?? {},
        state: p.state ?? 'enabled',
        overSubscriptionRatio: p.overSubscriptionRatio ?? 1,
        reservedPercent: p.reservedPercent ?? 0,
        createdAt: at,
      });
    }
    for (const p of config.profiles) {
      const profile = profileFromSpec(p, at);
      await upsertProfile(trx, profile);
    }
  });
  store.definitions.forgetProfiles();
}

/**
 * Makes sure an admin token exists. A configured one (POLLY_ADMIN_TOKEN) is registered; on a first start
 * without one, a token is generated and written to `<dataDir>/admin.token` (mode 0600). Returns the file
 * path when a token was written.
 */
export async function ensureAdminToken(app: PollyApp, config: PollyConfig): Promise<string | undefined> {
  if (config.adminToken !== undefined) {
    await app.services.registerToken('admin', null, config.adminToken, 'configured admin token');
    return undefined;
  }
  const file = join(config.dataDir, ADMIN_TOKEN_FILE);
  if (await app.services.hasAdminToken()) return existsSync(file) ? file : undefined;
  const token = generateToken();
  mkdirSync(config.dataDir, { recursive: true });
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  await app.services.registerToken('admin', null, token, 'generated at first start');
  return file;
}

export async function ensureDeclaredServices(app: PollyApp, config: PollyConfig): Promise<void> {
  for (const s of config.services) {
    await app.services.ensure(s.name, s.labels ?? {});
    for (const token of s.tokens ?? []) await app.services.registerToken('service', s.name, token, 'declared in config');
  }
}

/** Registers the node credentials the configuration declares (token or token file), idempotently. */
export async function ensureNodeCredentials(app: PollyApp, config: PollyConfig): Promise<void> {
  for (const n of config.nodeCredentials) {
    const token = n.token ?? readFileSync(n.tokenFile ?? '', 'utf8').trim();
    if (token.length < 16) throw new PollyError('VALIDATION_FAILED', `nodeCredentials: the token of node ${n.node} must be at least 16 characters`);
    await app.nodeAccess.registerCredential(n.node, token, 'configured node credential');
  }
}
