import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../../src/store/store.js';
import { freshPgDatabase } from './pg.js';

/** Every store engine; store tests run once per kind. */
export const STORE_KINDS = ['sqlite', 'postgres'] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

export interface TestStore {
  store: Store;
  /** The store's URL, to open a second Store on the same database. */
  url: string;
  /** Closes the store and removes its directory or drops its database; safe to call twice. */
  cleanup(): Promise<void>;
}

/** Opens a migrated store on an empty database of its own: a fresh SQLite file or PostgreSQL database. */
export async function openTestStore(kind: StoreKind, options: { maxConnections?: number } = {}): Promise<TestStore> {
  let url: string;
  let removeDatabase: () => Promise<void>;
  if (kind === 'sqlite') {
    const dir = await mkdtemp(join(tmpdir(), 'polly-store-'));
    url = `sqlite:${join(dir, 'polly.db')}`;
    removeDatabase = () => rm(dir, { recursive: true, force: true });
  } else {
    const db = await freshPgDatabase();
    url = db.url;
    removeDatabase = db.drop;
  }
  let store: Store;
  try {
    store = await Store.open({ url, ...options });
  } catch (err) {
    await removeDatabase();
    throw err;
  }
  let cleaned: Promise<void> | undefined;
  return {
    store,
    url,
    cleanup() {
      cleaned ??= (async () => {
        try {
          await store.close();
        } finally {
          await removeDatabase();
        }
      })();
      return cleaned;
    },
  };
}
