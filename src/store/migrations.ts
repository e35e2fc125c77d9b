// The schema: one migration history for both dialects (Kysely's Migrator with the migrations listed
// in code, so nothing depends on files being found at run time), the table types, and the
// row <-> record mapping and input checks that both adapters share, so they behave identically.
import { Migrator, sql } from 'kysely';
import type { ColumnDefinitionBuilder, Generated, Kysely, Migration, MigrationProvider } from 'kysely';
import type {
  AccountRecord,
  InventoryItem,
  PlayerSave,
  PlayerState,
  SkillRecord,
  ItemDefinition,
  WorldEntityRecord,
} from './store.ts';

import { InvalidSaveError } from './store.ts';
export type Dialect = 'sqlite' | 'postgres';

// Timestamps are epoch milliseconds in bigint columns: the same values and the same comparisons in
// both dialects, with no time-zone or driver date conversion in between.
export interface PlayersTable {
  player_id: Generated<number>;
  username: string;
  /** username lower-cased: the unique, case-insensitive key. */
  username_key: string;
  /** stored lower-cased */
  email: string;
  password_hash: string;
  created_at: number;
  last_login: number | null;
  subscription_tier: string | null;
  total_playtime_seconds: Generated<number>;
}

export interface PlayerStateTable {
  player_id: number;
  zone: string;
  lat_e7: number;
  lon_e7: number;
  alt_cm: number;
  heading16: number;
  health: number;
  stamina: number;
  level: number;
  experience: number;
  playtime_seconds: number;
  save_seq: number;
  updated_at: number;
}

export interface PlayerInventoryTable {
  id: Generated<number>;
  player_id: number;
  slot: number;
  item_id: number;
  quantity: number;
  durability: number;
  quality: number;
  acquired_at: number;
}

export interface PlayerSkillsTable {
  player_id: number;
  skill_id: number;
  skill_level: number;
  skill_experience: number;
}

export interface ItemDefinitionsTable {
  item_id: number;
  name: string;
  stack_size: number;
  /** SQLite returns 0/1, PostgreSQL true/false: read through Boolean(). */
  rare: boolean | number;
}

export interface WorldEntitiesTable {
  id: number;
  kind: number;
  zone: string;
  lat_e7: number;
  lon_e7: number;
  alt_cm: number;
  heading16: number;
  /** JSON text */
  data: string;
  updated_at: number;
}

export interface Database {
  players: PlayersTable;
  player_state: PlayerStateTable;
  player_inventory: PlayerInventoryTable;
  player_skills: PlayerSkillsTable;
  item_definitions: ItemDefinitionsTable;
  world_entities: WorldEntitiesTable;
}

/** The seeded item catalogue. */
export const SEED_ITEMS: readonly ItemDefinition[] = [
  { itemId: 1, name: 'stone', stackSize: 99, rare: false },
  { itemId: 2, name: 'wood', stackSize: 99, rare: false },
  { itemId: 3, name: 'berry', stackSize: 20, rare: false },
  { itemId: 4, name: 'iron ore', stackSize: 50, rare: false },
  { itemId: 5, name: 'sky gem', stackSize: 1, rare: true },
];

// Reals are 'double precision' in both: PostgreSQL's 'real' is float4 and would round values that
// SQLite (always 8-byte floats) keeps exactly.
const REAL = 'double precision';

function migrationsFor(dialect: Dialect): Record<string, Migration> {
  // The only dialect difference: how an id is generated. Explicit ids stay allowed ("by default"),
  // which tools and tests may use.
  const identity = (c: ColumnDefinitionBuilder): ColumnDefinitionBuilder =>
    dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey().generatedByDefaultAsIdentity();
  const idType = dialect === 'sqlite' ? 'integer' : 'bigint';

  return {
    '0001_initial': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .createTable('players')
          .addColumn('player_id', idType, identity)
          .addColumn('username', 'text', (c) => c.notNull())
          .addColumn('username_key', 'text', (c) => c.notNull())
          .addColumn('email', 'text', (c) => c.notNull())
          .addColumn('password_hash', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('last_login', 'bigint')
          .addColumn('subscription_tier', 'text')
          .addColumn('total_playtime_seconds', 'bigint', (c) => c.notNull().defaultTo(0))
          .execute();
        // Named unique indexes: a violation names the index, which tells which field is taken.
        await db.schema.createIndex('players_username_key_uq').on('players').column('username_key').unique().execute();
        await db.schema.createIndex('players_email_uq').on('players').column('email').unique().execute();

        await db.schema
          .createTable('player_state')
          .addColumn('player_id', 'bigint', (c) => c.primaryKey().references('players.player_id').onDelete('cascade'))
          .addColumn('zone', 'text', (c) => c.notNull())
          .addColumn('lat_e7', 'integer', (c) => c.notNull())
          .addColumn('lon_e7', 'integer', (c) => c.notNull())
          .addColumn('alt_cm', 'integer', (c) => c.notNull())
          .addColumn('heading16', 'integer', (c) => c.notNull())
          .addColumn('health', REAL, (c) => c.notNull())
          .addColumn('stamina', REAL, (c) => c.notNull())
          .addColumn('level', 'integer', (c) => c.notNull())
          .addColumn('experience', 'bigint', (c) => c.notNull())
          .addColumn('playtime_seconds', 'bigint', (c) => c.notNull())
          .addColumn('save_seq', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('player_state_zone_idx').on('player_state').column('zone').execute();
        await db.schema.createIndex('player_state_updated_at_idx').on('player_state').column('updated_at').execute();

        await db.schema
          .createTable('player_inventory')
          .addColumn('id', idType, identity)
          .addColumn('player_id', 'bigint', (c) => c.notNull().references('players.player_id').onDelete('cascade'))
          .addColumn('slot', 'integer', (c) => c.notNull())
          .addColumn('item_id', 'integer', (c) => c.notNull())
          .addColumn('quantity', 'integer', (c) => c.notNull())
          .addColumn('durability', REAL, (c) => c.notNull())
          .addColumn('quality', REAL, (c) => c.notNull())
          .addColumn('acquired_at', 'bigint', (c) => c.notNull())
          .execute();
        // (player_id, slot) leads with player_id, so this index also serves "all rows of a player"
        // and replaces a separate index on player_id (one index less to maintain on every save).
        await db.schema
          .createIndex('player_inventory_slot_uq')
          .on('player_inventory')
          .columns(['player_id', 'slot'])
          .unique()
          .execute();

        await db.schema
          .createTable('player_skills')
          .addColumn('player_id', 'bigint', (c) => c.notNull().references('players.player_id').onDelete('cascade'))
          .addColumn('skill_id', 'integer', (c) => c.notNull())
          .addColumn('skill_level', 'integer', (c) => c.notNull())
          .addColumn('skill_experience', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('player_skills_pk', ['player_id', 'skill_id'])
          .execute();

        await db.schema
          .createTable('item_definitions')
          .addColumn('item_id', 'integer', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('stack_size', 'integer', (c) => c.notNull())
          .addColumn('rare', 'boolean', (c) => c.notNull().defaultTo(false))
          .execute();
        // Literal TRUE/FALSE work in both (SQLite >= 3.23 stores them as 1/0); better-sqlite3
        // cannot bind JS booleans as parameters.
        for (const item of SEED_ITEMS) {
          await sql`insert into item_definitions (item_id, name, stack_size, rare)
                    values (${item.itemId}, ${item.name}, ${item.stackSize}, ${sql.raw(item.rare ? 'true' : 'false')})`.execute(
            db,
          );
        }

        await db.schema
          .createTable('world_entities')
          .addColumn('id', 'bigint', (c) => c.primaryKey())
          .addColumn('kind', 'integer', (c) => c.notNull())
          .addColumn('zone', 'text', (c) => c.notNull())
          .addColumn('lat_e7', 'integer', (c) => c.notNull())
          .addColumn('lon_e7', 'integer', (c) => c.notNull())
          .addColumn('alt_cm', 'integer', (c) => c.notNull())
          .addColumn('heading16', 'integer', (c) => c.notNull())
          .addColumn('data', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('world_entities_zone_idx').on('world_entities').column('zone').execute();
      },
    },
  };
}

class StaticMigrationProvider implements MigrationProvider {
  constructor(private readonly migrations: Record<string, Migration>) {}
  getMigrations(): Promise<Record<string, Migration>> {
    return Promise.resolve(this.migrations);
  }
}

/** Names of every migration in the history, oldest first. */
export const MIGRATION_NAMES: readonly string[] = Object.keys(migrationsFor('sqlite')).sort();

/** A readable message for any thrown value; Node's connect errors can be AggregateErrors with no message. */
export function errorMessage(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return err.errors.map(errorMessage).join('; ');
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return err.message !== '' ? err.message : typeof code === 'string' ? code : err.name;
  }
  return String(err);
}

/** Applies pending migrations; returns the names applied now. Throws the migration's own error. */
export async function migrateToLatest(db: Kysely<Database>, dialect: Dialect): Promise<string[]> {
  // Kysely looks for its own bookkeeping tables in every schema unless told which one, so another
  // schema's kysely_migration (e.g. in public) would hide that this one has none. Name ours: the
  // first schema on the search_path, the one our unqualified tables live in.
  let migrationTableSchema: string | undefined;
  if (dialect === 'postgres') {
    const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db);
    const schema = rows[0]?.schema ?? null;
    if (schema === null) throw new Error('cannot run migrations: the search_path names no existing schema');
    migrationTableSchema = schema;
  }
  const migrator = new Migrator({
    db,
    provider: new StaticMigrationProvider(migrationsFor(dialect)),
    ...(migrationTableSchema === undefined ? {} : { migrationTableSchema }),
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    const reason = errorMessage(error);
    throw new Error(failed === undefined ? `cannot run migrations: ${reason}` : `migration ${failed} failed: ${reason}`, {
      cause: error,
    });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

// ---- row mapping (Number() because pg returns int8 as strings unless told otherwise) ----

export type PlayerRow = Pick<
  PlayersTable,
  'username' | 'email' | 'password_hash' | 'created_at' | 'last_login'
> & { player_id: number };

export function toAccount(row: PlayerRow): AccountRecord {
  return {
    playerId: Number(row.player_id),
    username: row.username,
    email: row.email,
    passwordHash: row.password_hash,
    createdAtMs: Number(row.created_at),
    lastLoginAtMs: row.last_login === null ? null : Number(row.last_login),
  };
}

export function toState(row: PlayerStateTable): PlayerState {
  return {
    playerId: Number(row.player_id),
    zone: row.zone,
    latE7: Number(row.lat_e7),
    lonE7: Number(row.lon_e7),
    altCm: Number(row.alt_cm),
    heading16: Number(row.heading16),
    health: Number(row.health),
    stamina: Number(row.stamina),
    level: Number(row.level),
    experience: Number(row.experience),
    playtimeSeconds: Number(row.playtime_seconds),
    saveSeq: Number(row.save_seq),
  };
}

export function toItem(row: Pick<PlayerInventoryTable, 'slot' | 'item_id' | 'quantity' | 'durability' | 'quality'>): InventoryItem {
  return {
    slot: Number(row.slot),
    itemId: Number(row.item_id),
    quantity: Number(row.quantity),
    durability: Number(row.durability),
    quality: Number(row.quality),
  };
}

export function toSkill(row: Pick<PlayerSkillsTable, 'skill_id' | 'skill_level' | 'skill_experience'>): SkillRecord {
  return { skillId: Number(row.skill_id), level: Number(row.skill_level), experience: Number(row.skill_experience) };
}

export function toItemDefinition(row: ItemDefinitionsTable): ItemDefinition {
  return { itemId: Number(row.item_id), name: row.name, stackSize: Number(row.stack_size), rare: Boolean(row.rare) };
}

export function toWorldEntity(row: WorldEntitiesTable): WorldEntityRecord {
  return {
    id: Number(row.id),
    kind: Number(row.kind),
    zone: row.zone,
    latE7: Number(row.lat_e7),
    lonE7: Number(row.lon_e7),
    altCm: Number(row.alt_cm),
    heading16: Number(row.heading16),
    data: JSON.parse(row.data) as unknown,
  };
}

export function worldEntityRow(e: WorldEntityRecord, nowMs: number): WorldEntitiesTable {
  checkInt('saveWorldEntities: entity id', e.id);
  checkInt32('saveWorldEntities: entity kind', e.kind);
  checkInt32('saveWorldEntities: entity latE7', e.latE7);
  checkInt32('saveWorldEntities: entity lonE7', e.lonE7);
  checkInt32('saveWorldEntities: entity altCm', e.altCm);
  checkInt32('saveWorldEntities: entity heading16', e.heading16);
  // undefined would become no JSON at all; store null so loading always gets a value back.
  const data = JSON.stringify(e.data ?? null);
  return {
    id: e.id,
    kind: e.kind,
    zone: e.zone,
    lat_e7: e.latE7,
    lon_e7: e.lonE7,
    alt_cm: e.altCm,
    heading16: e.heading16,
    data,
    updated_at: nowMs,
  };
}

export function normaliseUsername(username: string): string {
  return username.toLowerCase();
}

export function normaliseEmail(email: string): string {
  return email.toLowerCase();
}

// ---- saves: checked and de-duplicated the same way before either adapter writes ----

function checkInt(what: string, v: number): void {
  // Both dialects must refuse the same values: PostgreSQL rejects 1.5 for an integer column while
  // SQLite would store it, so refuse it here, for both.
  if (!Number.isSafeInteger(v)) throw new TypeError(`${what} must be an integer, got ${v}`);
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** For 'integer' columns: PostgreSQL's are 32-bit, SQLite's are not, so the range is checked here. */
function checkInt32(what: string, v: number): void {
  checkInt(what, v);
  if (v < INT32_MIN || v > INT32_MAX) throw new RangeError(`${what} is outside the 32-bit range, got ${v}`);
}

function checkReal(what: string, v: number): void {
  if (!Number.isFinite(v)) throw new TypeError(`${what} must be a finite number, got ${v}`);
}

/** Any refusal names the player, as an InvalidSaveError: the write-behind drops that save alone. */
function checkSaveOf(save: PlayerSave): void {
  try {
    checkSave(save);
  } catch (err) {
    throw new InvalidSaveError(save.state?.playerId, err instanceof Error ? err.message : String(err));
  }
}

function checkSave(save: PlayerSave): void {
  const s = save.state;
  const who = `savePlayers: player ${s.playerId}`;
  checkInt('savePlayers: playerId', s.playerId);
  if (typeof s.zone !== 'string' || s.zone === '') throw new TypeError(`${who} has no zone`);
  checkInt32(`${who} latE7`, s.latE7);
  checkInt32(`${who} lonE7`, s.lonE7);
  checkInt32(`${who} altCm`, s.altCm);
  checkInt32(`${who} heading16`, s.heading16);
  checkReal(`${who} health`, s.health);
  checkReal(`${who} stamina`, s.stamina);
  checkInt32(`${who} level`, s.level);
  checkInt(`${who} experience`, s.experience);
  checkInt(`${who} playtimeSeconds`, s.playtimeSeconds);
  checkInt(`${who} saveSeq`, s.saveSeq);
  if (save.inventory !== undefined) {
    const slots = new Set<number>();
    for (const it of save.inventory) {
      checkInt32(`${who} inventory slot`, it.slot);
      if (slots.has(it.slot)) throw new TypeError(`${who} has two items in slot ${it.slot}`);
      slots.add(it.slot);
      checkInt32(`${who} inventory itemId`, it.itemId);
      checkInt32(`${who} inventory quantity`, it.quantity);
      checkReal(`${who} inventory durability`, it.durability);
      checkReal(`${who} inventory quality`, it.quality);
    }
  }
  if (save.skills !== undefined) {
    const ids = new Set<number>();
    for (const sk of save.skills) {
      checkInt32(`${who} skillId`, sk.skillId);
      if (ids.has(sk.skillId)) throw new TypeError(`${who} has skill ${sk.skillId} twice`);
      ids.add(sk.skillId);
      checkInt32(`${who} skill level`, sk.level);
      checkInt(`${who} skill experience`, sk.experience);
    }
  }
}

export interface PreparedSaves {
  /** One save per player, in the order each player first appears. */
  saves: PlayerSave[];
  /** Saves dropped because the same batch held a newer one for that player. */
  superseded: number;
}

/**
 * Checks every save and keeps one per player: the highest saveSeq, carrying over the newest
 * inventory/skills given by the others it replaces (as if they had been applied one after the
 * other). PostgreSQL cannot upsert one key twice in one statement, and SQLite must match it.
 */
export function prepareSaves(input: readonly PlayerSave[]): PreparedSaves {
  for (const save of input) checkSaveOf(save);
  const byPlayer = new Map<number, PlayerSave[]>();
  for (const save of input) {
    const list = byPlayer.get(save.state.playerId);
    if (list === undefined) byPlayer.set(save.state.playerId, [save]);
    else list.push(save);
  }
  if (byPlayer.size === input.length) return { saves: input.slice(), superseded: 0 };
  const saves: PlayerSave[] = [];
  for (const list of byPlayer.values()) {
    if (list.length === 1) {
      saves.push(list[0] as PlayerSave);
      continue;
    }
    // Stable: among equal saveSeqs the first one wins, as a later equal one would be stale.
    const ordered = list.slice().sort((a, b) => a.state.saveSeq - b.state.saveSeq);
    const deduped: PlayerSave[] = [];
    for (const s of ordered) {
      const last = deduped[deduped.length - 1];
      if (last === undefined || s.state.saveSeq > last.state.saveSeq) deduped.push(s);
    }
    const newest = deduped[deduped.length - 1] as PlayerSave;
    const merged: PlayerSave = { state: newest.state };
    for (const s of deduped) {
      if (s.inventory !== undefined) merged.inventory = s.inventory;
      if (s.skills !== undefined) merged.skills = s.skills;
    }
    saves.push(merged);
  }
  return { saves, superseded: input.length - saves.length };
}

/** The message both adapters use when a batch names a player that does not exist. */
