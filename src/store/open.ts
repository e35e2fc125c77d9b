// Picks the Store adapter from --db, migrates it, and returns it ready to use.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../ops/log.ts';
import { errorMessage } from './migrations.ts';
import { PostgresStore, redactUrl } from './postgres.ts';
import { ThreadedStore } from './store-thread.ts';
import type { Store } from './store.ts';

export interface OpenStoreOptions {
  /**
   * 'sqlite:<path>', a plain file path, 'postgres://...' or 'postgresql://...'. Empty, 'sqlite' or
   * 'sqlite:' mean the default file `<dataDir>/bluemarble.sqlite3`.
   */
  db: string;
  dataDir: string;
  logger?: Logger;
  /** PostgreSQL pool size. Default 10. */
  postgresPoolSize?: number;
}

export const DEFAULT_SQLITE_FILE = 'bluemarble.sqlite3';

export type StoreTarget = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

/** How a --db value is understood. Throws for a scheme that is neither SQLite nor PostgreSQL. */
export function parseDbTarget(db: string, dataDir: string): StoreTarget {
  const value = db.trim();
  if (value === '' || value === 'sqlite' || value === 'sqlite:') {
    return { kind: 'sqlite', path: join(dataDir, DEFAULT_SQLITE_FILE) };
  }
  if (/^postgres(ql)?:\/\//i.test(value)) return { kind: 'postgres', url: value };
  if (/^sqlite:/i.test(value)) return { kind: 'sqlite', path: value.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '') };
  // Anything else with a scheme ("mysql://", "redis:...") is a mistake, not a file name. A single
  // letter before ':' is a Windows drive, which is a path.
  const scheme = /^([a-z][a-z0-9+.-]+):/i.exec(value)?.[1];
  if (scheme !== undefined) {
    throw new Error(
      `unsupported database scheme "${scheme}:" in --db ${redactUrl(value)}: use sqlite:<path>, a file path, or postgres://user@host:port/db`,
    );
  }
  return { kind: 'sqlite', path: value };
}

/** Opens the store named by opts.db, applies pending migrations and returns it. */
export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  const target = parseDbTarget(opts.db, opts.dataDir);
  let store: Store;
  let where: string;
  if (target.kind === 'sqlite') {
    where = target.path;
    if (target.path === join(opts.dataDir, DEFAULT_SQLITE_FILE)) mkdirSync(opts.dataDir, { recursive: true });
    store = new ThreadedStore(target.path);
  } else {
    where = redactUrl(target.url);
    store = new PostgresStore(target.url, { poolSize: opts.postgresPoolSize ?? 10 });
  }
  let applied: string[];
  try {
    applied = await store.migrate();
  } catch (err) {
    await store.close().catch(() => undefined);
    const reason = errorMessage(err);
    const what = target.kind === 'sqlite' ? 'SQLite database' : 'PostgreSQL database';
    // SQLite's own message already names the file; otherwise say where.
    throw new Error(reason.includes(where) ? reason : `cannot open the ${what} at ${where}: ${reason}`, { cause: err });
  }
  opts.logger?.info({ store: target.kind, db: where, migrationsApplied: applied }, 'store opened');
  return store;
}
