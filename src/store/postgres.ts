// The PostgreSQL Store adapter: a pg Pool, Kysely for migrations and ordinary queries, and hand-written
// unnest() statements for the batched save, which must write tens of thousands of rows per second.
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { PoolClient } from 'pg';
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
import type { Database } from './migrations.ts';
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

const INT8_OID = 20;

// pg returns int8 as strings (it cannot know they fit a double). Every int8 here is an id, a count
// or epoch milliseconds, all far below 2^53, so numbers are exact. Set on our pools only, not
// globally, so other pg users in the process are unaffected.
const TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === INT8_OID && format !== 'binary'
      ? (v: string) => Number(v)
      : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

/** The URL with its password replaced, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
  }
}

/**
 * The URL with `options=-c search_path=<schema>` set: pg passes `options` to the server at
 * connect time, so every pooled connection works in that schema with no per-query qualification.
 */
export function withSearchPath(url: string, schema: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`invalid schema name ${JSON.stringify(schema)}`);
  const u = new URL(url);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return u.toString();
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates a schema (for isolated tests and benchmarks). */
export async function createPgSchema(url: string, schema: string): Promise<void> {
  withSearchPath(url, schema); // validates the name
  await withClient(url, (c) => c.query(`create schema if not exists ${schema}`));
}

/** Drops a schema and everything in it. */
export async function dropPgSchema(url: string, schema: string): Promise<void> {
  withSearchPath(url, schema);
  await withClient(url, (c) => c.query(`drop schema if exists ${schema} cascade`));
}

interface PgErrorLike {
  code?: unknown;
  detail?: unknown;
}

function pgCode(err: unknown): string | undefined {
  const code = (err as PgErrorLike | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

// Array literals built here rather than by pg's generic serialiser: for 10,000 players times 12
// columns this is the hot part of the client-side work, and numbers need no escaping.
function numArray(values: readonly number[]): string {
  return `{${values.join(',')}}`;
}

function textArray(values: readonly string[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ',';
    out += `"${(values[i] as string).replace(/["\\]/g, '\\$&')}"`;
  }
  return out + '}';
}

const SAVE_STATE_SQL = `
  insert into player_state (player_id, zone, lat_e7, lon_e7, alt_cm, heading16, health, stamina, level,
                            experience, playtime_seconds, save_seq, updated_at)
  select t.*, $13::bigint
  from unnest($1::bigint[], $2::text[], $3::int[], $4::int[], $5::int[], $6::int[], $7::float8[], $8::float8[],
              $9::int[], $10::bigint[], $11::bigint[], $12::bigint[]) as t
  on conflict (player_id) do update set
    zone = excluded.zone, lat_e7 = excluded.lat_e7, lon_e7 = excluded.lon_e7, alt_cm = excluded.alt_cm,
    heading16 = excluded.heading16, health = excluded.health, stamina = excluded.stamina, level = excluded.level,
    experience = excluded.experience, playtime_seconds = excluded.playtime_seconds, save_seq = excluded.save_seq,
    updated_at = excluded.updated_at
  where player_state.save_seq < excluded.save_seq
  returning player_id`;

const INSERT_ITEMS_SQL = `
  insert into player_inventory (player_id, slot, item_id, quantity, durability, quality, acquired_at)
  select t.*, $7::bigint
  from unnest($1::bigint[], $2::int[], $3::int[], $4::int[], $5::float8[], $6::float8[]) as t`;

const INSERT_SKILLS_SQL = `
  insert into player_skills (player_id, skill_id, skill_level, skill_experience)
  select * from unnest($1::bigint[], $2::int[], $3::int[], $4::bigint[])`;

const INSERT_ENTITIES_SQL = `
  insert into world_entities (id, kind, zone, lat_e7, lon_e7, alt_cm, heading16, data, updated_at)
  select t.*, $9::bigint
  from unnest($1::bigint[], $2::int[], $3::text[], $4::int[], $5::int[], $6::int[], $7::int[], $8::text[]) as t`;

export interface PostgresStoreOptions {
  /** Pool size. Default 10. */
  poolSize?: number;
  /** Players per statement in a batched save. Default 2000 (measured: larger chunks were no faster). */
  chunkSize?: number;
  /** Time to wait for a connection (ms). Default 10000. */
  connectTimeoutMs?: number;
}

export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  /** The connection URL without its password. */
  readonly url: string;
  readonly #pool: pg.Pool;
  readonly #db: Kysely<Database>;
  readonly #chunk: number;
  #closing: Promise<void> | undefined;

  constructor(connectionString: string, opts: PostgresStoreOptions = {}) {
    this.url = redactUrl(connectionString);
    this.#chunk = Math.max(1, Math.floor(opts.chunkSize ?? 2000));
    this.#pool = new pg.Pool({
      connectionString,
      max: Math.max(1, Math.floor(opts.poolSize ?? 10)),
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000,
      types: TYPES,
    });
    // An idle client that loses its connection emits 'error' on the pool; unhandled, that would
    // crash the process. The next query reconnects, and fails on its own if the server is gone.
    this.#pool.on('error', () => undefined);
    this.#db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: this.#pool }) });
  }

  migrate(): Promise<string[]> {
    return migrateToLatest(this.#db, 'postgres');
  }

  async createAccount(account: NewAccount): Promise<AccountRecord> {
    const key = normaliseUsername(account.username);
    try {
      const row = await this.#db
        .insertInto('players')
        .values({
          username: account.username,
          username_key: key,
          email: normaliseEmail(account.email),
          password_hash: account.passwordHash,
          created_at: Date.now(),
        })
        .returning(['player_id', 'username', 'email', 'password_hash', 'created_at', 'last_login'])
        .executeTakeFirstOrThrow();
      return toAccount(row);
    } catch (err) {
      if (pgCode(err) === '23505') {
        // Same rule as SQLite: ask which is taken; username wins when both are.
        const taken = await this.#db.selectFrom('players').select('player_id').where('username_key', '=', key).executeTakeFirst();
        throw new AccountConflictError(taken !== undefined ? 'username' : 'email');
      }
      throw err;
    }
  }

  async findAccountByUsername(username: string): Promise<AccountRecord | undefined> {
    const row = await this.#db
      .selectFrom('players')
      .select(['player_id', 'username', 'email', 'password_hash', 'created_at', 'last_login'])
      .where('username_key', '=', normaliseUsername(username))
      .executeTakeFirst();
    return row === undefined ? undefined : toAccount(row);
  }

  async findAccountById(playerId: number): Promise<AccountRecord | undefined> {
    const row = await this.#db
      .selectFrom('players')
      .select(['player_id', 'username', 'email', 'password_hash', 'created_at', 'last_login'])
      .where('player_id', '=', playerId)
      .executeTakeFirst();
    return row === undefined ? undefined : toAccount(row);
  }

  async recordLogin(playerId: number, atMs: number): Promise<void> {
    await this.#db.updateTable('players').set({ last_login: atMs }).where('player_id', '=', playerId).execute();
  }

  loadPlayer(playerId: number): Promise<PlayerRecord | undefined> {
    // Repeatable read: state, inventory and skills come from the same committed save.
    return this.#db
      .transaction()
      .setIsolationLevel('repeatable read')
      .execute(async (tx) => {
        const account = await tx
          .selectFrom('players')
          .select(['player_id', 'username'])
          .where('player_id', '=', playerId)
          .executeTakeFirst();
        if (account === undefined) return undefined;
        const state = await tx.selectFrom('player_state').selectAll().where('player_id', '=', playerId).executeTakeFirst();
        const inventory = await tx
          .selectFrom('player_inventory')
          .select(['slot', 'item_id', 'quantity', 'durability', 'quality'])
          .where('player_id', '=', playerId)
          .orderBy('slot')
          .execute();
        const skills = await tx
          .selectFrom('player_skills')
          .select(['skill_id', 'skill_level', 'skill_experience'])
          .where('player_id', '=', playerId)
          .orderBy('skill_id')
          .execute();
        return {
          playerId: Number(account.player_id),
          username: account.username,
          state: state === undefined ? null : toState(state),
          inventory: inventory.map(toItem),
          skills: skills.map(toSkill),
        };
      });
  }

  async savePlayers(input: readonly PlayerSave[]): Promise<SaveResult> {
    const { saves, superseded } = prepareSaves(input);
    if (saves.length === 0) return { written: 0, stale: superseded };
    const now = Date.now();
    try {
      // One transaction on one connection for the whole batch: all or nothing.
      const written = await this.#inTransaction(async (client) => {
        const written = new Set<number>();
        for (let from = 0; from < saves.length; from += this.#chunk) {
          const ids = await this.#saveStates(client, saves.slice(from, from + this.#chunk), now);
          for (const id of ids) written.add(id);
        }
        // Inventories and skills are replaced only where the state was newer than the stored one.
        const replaced = saves.filter((s) => written.has(s.state.playerId));
        const inventories = replaced.filter((s) => s.inventory !== undefined);
        await this.#replaceRows(
          client,
          inventories,
          'player_inventory',
          { name: 'bm_insert_inventory', text: INSERT_ITEMS_SQL },
          (s) => (s.inventory ?? []).map((it) => [it.slot, it.itemId, it.quantity, it.durability, it.quality]),
          5,
          [String(now)],
        );
        await this.#replaceRows(
          client,
          replaced.filter((s) => s.skills !== undefined),
          'player_skills',
          { name: 'bm_insert_skills', text: INSERT_SKILLS_SQL },
          (s) => (s.skills ?? []).map((sk) => [sk.skillId, sk.level, sk.experience]),
          3,
        );
        return written.size;
      });
      return { written, stale: input.length - written };
    } catch (err) {
      if (pgCode(err) === '23503') {
        const detail = (err as PgErrorLike).detail;
        const id = typeof detail === 'string' ? /\(player_id\)=\((\d+)\)/.exec(detail)?.[1] : undefined;
        throw new UnknownPlayerError(id === undefined ? undefined : Number(id));
      }
      throw err;
    }
  }

  async #inTransaction<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('begin');
      const result = await fn(client);
      await client.query('commit');
      return result;
    } catch (err) {
      try {
        await client.query('rollback');
      } catch (rollbackErr) {
        // The connection is unusable: destroy it rather than return it to the pool.
        broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
      }
      throw err;
    } finally {
      client.release(broken);
    }
  }

  async #saveStates(client: PoolClient, saves: readonly PlayerSave[], now: number): Promise<number[]> {
    const n = saves.length;
    const cols: number[][] = Array.from({ length: 11 }, () => new Array<number>(n));
    const zones = new Array<string>(n);
    for (let i = 0; i < n; i++) {
      const s = (saves[i] as PlayerSave).state;
      (cols[0] as number[])[i] = s.playerId;
      zones[i] = s.zone;
      (cols[1] as number[])[i] = s.latE7;
      (cols[2] as number[])[i] = s.lonE7;
      (cols[3] as number[])[i] = s.altCm;
      (cols[4] as number[])[i] = s.heading16;
      (cols[5] as number[])[i] = s.health;
      (cols[6] as number[])[i] = s.stamina;
      (cols[7] as number[])[i] = s.level;
      (cols[8] as number[])[i] = s.experience;
      (cols[9] as number[])[i] = s.playtimeSeconds;
      (cols[10] as number[])[i] = s.saveSeq;
    }
    const [ids, ...rest] = cols.map(numArray);
    const res = await client.query<{ player_id: number }>({
      // Named: parsed and planned once per connection, not once per batch.
      name: 'bm_save_player_state',
      text: SAVE_STATE_SQL,
      values: [ids, textArray(zones), ...rest, now],
    });
    return res.rows.map((r) => Number(r.player_id));
  }

  /**
   * Replaces a child table's rows (inventory or skills) for these players: one delete, then the
   * new rows as column arrays through `unnest`, in chunks.
   */
  async #replaceRows(
    client: PoolClient,
    saves: readonly PlayerSave[],
    table: 'player_inventory' | 'player_skills',
    insert: { name: string; text: string },
    rowsOf: (s: PlayerSave) => ReadonlyArray<readonly number[]>,
    width: number,
    extra: string[] = [],
  ): Promise<void> {
    if (saves.length === 0) return;
    await client.query(`delete from ${table} where player_id = any($1::bigint[])`, [
      numArray(saves.map((s) => s.state.playerId)),
    ]);
    const columns: number[][] = Array.from({ length: width + 1 }, () => []);
    for (const s of saves) {
      for (const row of rowsOf(s)) {
        columns[0]!.push(s.state.playerId);
        for (let c = 0; c < width; c++) columns[c + 1]!.push(row[c]!);
      }
    }
    for (let from = 0; from < columns[0]!.length; from += this.#chunk) {
      const to = from + this.#chunk;
      await client.query({ ...insert, values: [...columns.map((c) => numArray(c.slice(from, to))), ...extra] });
    }
  }


  async itemDefinitions(): Promise<ItemDefinition[]> {
    const rows = await this.#db.selectFrom('item_definitions').selectAll().orderBy('item_id').execute();
    return rows.map(toItemDefinition);
  }

  async itemDefinition(itemId: number): Promise<ItemDefinition | undefined> {
    const row = await this.#db.selectFrom('item_definitions').selectAll().where('item_id', '=', itemId).executeTakeFirst();
    return row === undefined ? undefined : toItemDefinition(row);
  }

  async saveWorldEntities(entities: readonly WorldEntityRecord[]): Promise<void> {
    const now = Date.now();
    const rows = entities.map((e) => worldEntityRow(e, now));
    await this.#inTransaction(async (client) => {
      await client.query('delete from world_entities');
      for (let from = 0; from < rows.length; from += this.#chunk) {
        const chunk = rows.slice(from, from + this.#chunk);
        const num = (f: (r: (typeof rows)[number]) => number): string => numArray(chunk.map(f));
        await client.query(INSERT_ENTITIES_SQL, [
          num((r) => r.id),
          num((r) => r.kind),
          textArray(chunk.map((r) => r.zone)),
          num((r) => r.lat_e7),
          num((r) => r.lon_e7),
          num((r) => r.alt_cm),
          num((r) => r.heading16),
          textArray(chunk.map((r) => r.data)),
          now,
        ]);
      }
    });
  }

  async loadWorldEntities(): Promise<WorldEntityRecord[]> {
    const rows = await this.#db.selectFrom('world_entities').selectAll().orderBy('id').execute();
    return rows.map(toWorldEntity);
  }

  close(): Promise<void> {
    // Kysely's destroy() ends the pool once checked-out clients are released.
    this.#closing ??= this.#db.destroy();
    return this.#closing;
  }
}
