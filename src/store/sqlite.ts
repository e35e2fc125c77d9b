// The embedded Store adapter: one SQLite file through better-sqlite3. better-sqlite3 is synchronous,
// so the server runs this class inside a worker thread (ThreadedStore, store-thread.ts); tests and
// tools may use it directly.
import BetterSqlite3 from 'better-sqlite3';
import type { Database as SqliteDb } from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import {
  migrateToLatest,
  normaliseEmail,
  normaliseUsername,
  prepareSaves,
  toAccount,
  toItem,
  toItemDefinition,
  toSkill,
  toState,
  toWorldEntity,
  worldEntityRow,
} from './migrations.ts';
import type {
  Database,
  ItemDefinitionsTable,
  PlayerInventoryTable,
  PlayerRow,
  PlayerSkillsTable,
  PlayerStateTable,
  WorldEntitiesTable,
} from './migrations.ts';
import { AccountConflictError, UnknownPlayerError } from './store.ts';
import type {
  AccountRecord,
  ItemDefinition,
  NewAccount,
  PlayerRecord,
  PlayerSave,
  SaveResult,
  Store,
  WorldEntityRecord,
} from './store.ts';

const STATE_COLUMNS =
  'player_id, zone, lat_e7, lon_e7, alt_cm, heading16, health, stamina, level, experience, playtime_seconds, save_seq, updated_at';

function prepareAll(db: SqliteDb) {
  return {
    insertAccount: db.prepare<[string, string, string, string, number], PlayerRow>(
      `insert into players (username, username_key, email, password_hash, created_at) values (?, ?, ?, ?, ?)
       returning player_id, username, email, password_hash, created_at, last_login`,
    ),
    accountByKey: db.prepare<[string], PlayerRow>(
      'select player_id, username, email, password_hash, created_at, last_login from players where username_key = ?',
    ),
    accountById: db.prepare<[number], PlayerRow>(
      'select player_id, username, email, password_hash, created_at, last_login from players where player_id = ?',
    ),
    recordLogin: db.prepare<[number, number]>('update players set last_login = ? where player_id = ?'),
    stateById: db.prepare<[number], PlayerStateTable>(`select ${STATE_COLUMNS} from player_state where player_id = ?`),
    inventoryById: db.prepare<[number], PlayerInventoryTable>(
      'select slot, item_id, quantity, durability, quality from player_inventory where player_id = ? order by slot',
    ),
    skillsById: db.prepare<[number], PlayerSkillsTable>(
      'select skill_id, skill_level, skill_experience from player_skills where player_id = ? order by skill_id',
    ),
    // The save_seq guard makes a replayed or late save a no-op (changes = 0), so it never moves a
    // character back in time.
    upsertState: db.prepare<[number, string, number, number, number, number, number, number, number, number, number, number, number]>(
      `insert into player_state (${STATE_COLUMNS}) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       on conflict (player_id) do update set
         zone = excluded.zone, lat_e7 = excluded.lat_e7, lon_e7 = excluded.lon_e7, alt_cm = excluded.alt_cm,
         heading16 = excluded.heading16, health = excluded.health, stamina = excluded.stamina,
         level = excluded.level, experience = excluded.experience, playtime_seconds = excluded.playtime_seconds,
         save_seq = excluded.save_seq, updated_at = excluded.updated_at
       where excluded.save_seq > player_state.save_seq`,
    ),
    deleteInventory: db.prepare<[number]>('delete from player_inventory where player_id = ?'),
    insertItem: db.prepare<[number, number, number, number, number, number, number]>(
      `insert into player_inventory (player_id, slot, item_id, quantity, durability, quality, acquired_at)
       values (?, ?, ?, ?, ?, ?, ?)`,
    ),
    deleteSkills: db.prepare<[number]>('delete from player_skills where player_id = ?'),
    insertSkill: db.prepare<[number, number, number, number]>(
      'insert into player_skills (player_id, skill_id, skill_level, skill_experience) values (?, ?, ?, ?)',
    ),
    itemDefinitions: db.prepare<[], ItemDefinitionsTable>(
      'select item_id, name, stack_size, rare from item_definitions order by item_id',
    ),
    itemDefinition: db.prepare<[number], ItemDefinitionsTable>(
      'select item_id, name, stack_size, rare from item_definitions where item_id = ?',
    ),
    deleteEntities: db.prepare('delete from world_entities'),
    insertEntity: db.prepare<[number, number, string, number, number, number, number, string, number]>(
      `insert into world_entities (id, kind, zone, lat_e7, lon_e7, alt_cm, heading16, data, updated_at)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    loadEntities: db.prepare<[], WorldEntitiesTable>(
      'select id, kind, zone, lat_e7, lon_e7, alt_cm, heading16, data, updated_at from world_entities order by id',
    ),
  };
}

type Statements = ReturnType<typeof prepareAll>;

interface SqliteErrorLike {
  code?: unknown;
}

function sqliteCode(err: unknown): string | undefined {
  const code = (err as SqliteErrorLike | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export interface SqliteStoreOptions {
  /** How long a writer waits for another connection's lock before failing (ms). Default 5000. */
  busyTimeoutMs?: number;
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly path: string;
  readonly #db: SqliteDb;
  readonly #kysely: Kysely<Database>;
  #stmts: Statements | undefined;
  /** Calls run one after another: migrate() is async (Kysely) and must not interleave with a save. */
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(path: string, opts: SqliteStoreOptions = {}) {
    this.path = path;
    try {
      this.#db = new BetterSqlite3(path);
    } catch (err) {
      throw new Error(`cannot open SQLite database at ${path}: ${(err as Error).message}`, { cause: err });
    }
    // WAL + synchronous=NORMAL: a commit is in the WAL (the OS's page cache) before the call returns,
    // so it survives a crash of this process, which is what the write-behind window promises. It is
    // not fsynced per commit, so an OS crash or power loss may lose the last commits; in exchange a
    // commit costs no fsync and readers never block the writer.
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = NORMAL');
    this.#db.pragma(`busy_timeout = ${Math.max(0, Math.floor(opts.busyTimeoutMs ?? 5000))}`);
    this.#db.pragma('foreign_keys = ON');
    this.#kysely = new Kysely<Database>({ dialect: new SqliteDialect({ database: this.#db }) });
  }

  #run<T>(fn: () => T | Promise<T>): Promise<T> {
    const result = this.#queue.then(() => {
      if (this.#closed) throw new Error('the SQLite store is closed');
      return fn();
    });
    this.#queue = result.catch(() => undefined);
    return result;
  }

  /** Statements are prepared on first use: they need the tables that migrate() creates. */
  #s(): Statements {
    this.#stmts ??= prepareAll(this.#db);
    return this.#stmts;
  }

  migrate(): Promise<string[]> {
    return this.#run(async () => {
      const applied = await migrateToLatest(this.#kysely, 'sqlite');
      if (applied.length > 0) this.#stmts = undefined;
      return applied;
    });
  }

  createAccount(account: NewAccount): Promise<AccountRecord> {
    return this.#run(() => {
      const s = this.#s();
      const key = normaliseUsername(account.username);
      try {
        const row = s.insertAccount.get(account.username, key, normaliseEmail(account.email), account.passwordHash, Date.now());
        if (row === undefined) throw new Error('createAccount: insert returned no row');
        return toAccount(row);
      } catch (err) {
        if (sqliteCode(err) === 'SQLITE_CONSTRAINT_UNIQUE') {
          // Asking is simpler and more predictable than parsing the message; username wins when both are taken.
          throw new AccountConflictError(s.accountByKey.get(key) !== undefined ? 'username' : 'email');
        }
        throw err;
      }
    });
  }

  findAccountByUsername(username: string): Promise<AccountRecord | undefined> {
    return this.#run(() => {
      const row = this.#s().accountByKey.get(normaliseUsername(username));
      return row === undefined ? undefined : toAccount(row);
    });
  }

  findAccountById(playerId: number): Promise<AccountRecord | undefined> {
    return this.#run(() => {
      const row = this.#s().accountById.get(playerId);
      return row === undefined ? undefined : toAccount(row);
    });
  }

  recordLogin(playerId: number, atMs: number): Promise<void> {
    return this.#run(() => {
      this.#s().recordLogin.run(atMs, playerId);
    });
  }

  loadPlayer(playerId: number): Promise<PlayerRecord | undefined> {
    return this.#run(() => {
      const s = this.#s();
      // One read transaction: the state, inventory and skills come from the same committed save.
      return this.#db.transaction((): PlayerRecord | undefined => {
        const account = s.accountById.get(playerId);
        if (account === undefined) return undefined;
        const state = s.stateById.get(playerId);
        return {
          playerId: Number(account.player_id),
          username: account.username,
          state: state === undefined ? null : toState(state),
          inventory: s.inventoryById.all(playerId).map(toItem),
          skills: s.skillsById.all(playerId).map(toSkill),
        };
      })();
    });
  }

  savePlayers(input: readonly PlayerSave[]): Promise<SaveResult> {
    return this.#run(() => {
      const { saves, superseded } = prepareSaves(input);
      if (saves.length === 0) return { written: 0, stale: superseded };
      const s = this.#s();
      const now = Date.now();
      // One transaction for the whole batch: all or nothing, and one WAL commit instead of thousands.
      const written = this.#db.transaction((): number => {
        let written = 0;
        for (const save of saves) {
          const st = save.state;
          let changes: number;
          try {
            changes = s.upsertState.run(
              st.playerId, st.zone, st.latE7, st.lonE7, st.altCm, st.heading16, st.health, st.stamina,
              st.level, st.experience, st.playtimeSeconds, st.saveSeq, now,
            ).changes;
          } catch (err) {
            if (sqliteCode(err) === 'SQLITE_CONSTRAINT_FOREIGNKEY') {
              throw new UnknownPlayerError(st.playerId);
            }
            throw err;
          }
          if (changes === 0) continue; // stale: keep the newer rows already stored
          written++;
          if (save.inventory !== undefined) {
            s.deleteInventory.run(st.playerId);
            for (const it of save.inventory) {
              s.insertItem.run(st.playerId, it.slot, it.itemId, it.quantity, it.durability, it.quality, now);
            }
          }
          if (save.skills !== undefined) {
            s.deleteSkills.run(st.playerId);
            for (const sk of save.skills) s.insertSkill.run(st.playerId, sk.skillId, sk.level, sk.experience);
          }
        }
        return written;
      })();
      return { written, stale: input.length - written };
    });
  }

  itemDefinitions(): Promise<ItemDefinition[]> {
    return this.#run(() => this.#s().itemDefinitions.all().map(toItemDefinition));
  }

  itemDefinition(itemId: number): Promise<ItemDefinition | undefined> {
    return this.#run(() => {
      const row = this.#s().itemDefinition.get(itemId);
      return row === undefined ? undefined : toItemDefinition(row);
    });
  }

  saveWorldEntities(entities: readonly WorldEntityRecord[]): Promise<void> {
    return this.#run(() => {
      const s = this.#s();
      const now = Date.now();
      const rows = entities.map((e) => worldEntityRow(e, now));
      this.#db.transaction(() => {
        s.deleteEntities.run();
        for (const r of rows) {
          s.insertEntity.run(r.id, r.kind, r.zone, r.lat_e7, r.lon_e7, r.alt_cm, r.heading16, r.data, r.updated_at);
        }
      })();
    });
  }

  loadWorldEntities(): Promise<WorldEntityRecord[]> {
    return this.#run(() => this.#s().loadEntities.all().map(toWorldEntity));
  }

  close(): Promise<void> {
    return this.#run(() => {
      this.#closed = true;
      this.#db.close();
    }).catch((err: unknown) => {
      // A second close() finds the store closed: that is not an error.
      if (this.#closed) return;
      throw err;
    });
  }
}
