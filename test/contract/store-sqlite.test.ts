// The Store contract against SQLite: the plain adapter and the threaded one the server uses.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { ThreadedStore } from '../../src/store/store-thread.ts';
import { storeContract } from './store.contract.ts';

const dir = mkdtempSync(join(tmpdir(), 'bluemarble-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));

storeContract('SqliteStore', () => Promise.resolve(new SqliteStore(join(dir, 'plain.sqlite3'))));
storeContract('ThreadedStore (SQLite in a worker)', () => Promise.resolve(new ThreadedStore(join(dir, 'threaded.sqlite3'))));
