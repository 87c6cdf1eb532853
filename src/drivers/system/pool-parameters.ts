import { Type, type TObject } from 'typebox';
import { Value } from 'typebox/value';
import { PollyError } from '../../core/errors.js';

/** The `path` parameter of the filesystem drivers: an absolute or working-directory-relative directory. */
export const PathParameter = Type.String({ minLength: 1, description: 'Directory holding the pool (absolute, or relative to the working directory)' });

/** A pool parameter that is a whole number written in decimal (parameters are strings, as in a CSI StorageClass). */
export function wholeNumberParameter(description: string): ReturnType<typeof Type.String> {
  return Type.String({ pattern: '^[0-9]+$', description });
}

/** Builds a driver's parameter schema: every key optional unless listed in `required`, no other keys. */
export function poolParameterSchema(properties: Record<string, ReturnType<typeof Type.String>>, required: readonly string[] = []): TObject {
  const props = Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, required.includes(k) ? v : Type.Optional(v)]));
  return Type.Object(props, { additionalProperties: false });
}

/**
 * Checks a pool's parameters against its driver's declared schema before the driver is built, so that a
 * typo (`capacity=20GiB` for a driver that takes none, `bogus=1`) is refused instead of silently ignored.
 * Throws `INVALID_POOL_PARAMETER` naming the first bad key and what the driver accepts.
 */
export function assertPoolParameters(poolName: string, driver: string, schema: TObject, parameters: Record<string, string>): void {
  if (Value.Check(schema, parameters)) return;
  const accepted = Object.keys(schema.properties);
  const list = accepted.length === 0 ? 'none' : accepted.join(', ');
  for (const key of Object.keys(parameters)) {
    if (!accepted.includes(key)) {
      throw new PollyError('INVALID_POOL_PARAMETER', `pool ${poolName}: driver ${driver} has no parameter "${key}" (accepted: ${list})`, { pool: poolName, key });
    }
  }
  for (const key of accepted) {
    const prop = schema.properties[key];
    const value = parameters[key];
    if (prop === undefined) continue;
    if (value === undefined) {
      if (schema.required?.includes(key)) {
        throw new PollyError('INVALID_POOL_PARAMETER', `pool ${poolName}: driver ${driver} requires parameter "${key}"`, { pool: poolName, key });
      }
      continue;
    }
    if (!Value.Check(prop, value)) {
      const description = (prop as { description?: unknown }).description;
      const what = typeof description === 'string' ? ` (${description})` : '';
      throw new PollyError('INVALID_POOL_PARAMETER', `pool ${poolName}: parameter "${key}" has a malformed value ${JSON.stringify(value)}${what}`, { pool: poolName, key });
    }
  }
  throw new PollyError('INVALID_POOL_PARAMETER', `pool ${poolName}: parameters do not match driver ${driver}'s schema (accepted: ${list})`, { pool: poolName });
}

/** What API answers and logs show instead of a secret pool parameter's value. */
export const REDACTED = '(secret)';

/**
 * A secret pool parameter (a key, a password): never returned by an API, redacted in logs. `node`: the
 * node half needs it too, and gets it inside its stage call only; `server`: it never leaves the server.
 */
export function secretParameter(scope: 'server' | 'node', description: string): ReturnType<typeof Type.String> {
  return Type.String({ minLength: 1, description: `${description} (secret)`, secret: scope });
}

/** The keys a driver's schema declares secret, with their scope. */
export function secretParameterKeys(schema: TObject): Map<string, 'server' | 'node'> {
  const out = new Map<string, 'server' | 'node'>();
  for (const [key, prop] of Object.entries(schema.properties)) {
    const scope = (prop as { secret?: unknown }).secret;
    if (scope === 'server' || scope === 'node') out.set(key, scope);
  }
  return out;
}

/** The parameters with every secret value replaced by `(secret)` (for API answers and logs). */
export function redactParameters(schema: TObject | undefined, parameters: Record<string, string>): Record<string, string> {
  if (!schema) return parameters;
  const secrets = secretParameterKeys(schema);
  if (secrets.size === 0) return parameters;
  return Object.fromEntries(Object.entries(parameters).map(([k, v]) => [k, secrets.has(k) ? REDACTED : v]));
}

/** The node-scoped secret parameters of a pool, for one stage call on a node. */
export function nodeSecrets(schema: TObject | undefined, parameters: Record<string, string>): Record<string, string> {
  if (!schema) return {};
  const out: Record<string, string> = {};
  for (const [k, scope] of secretParameterKeys(schema)) if (scope === 'node' && parameters[k] !== undefined) out[k] = parameters[k];
  return out;
}
