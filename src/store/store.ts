// The Store port: what the game keeps on disk, in the game's words. Two adapters implement it with
// identical behaviour: SQLite (embedded default, a file under --data) and PostgreSQL (--db postgres://...).
// One contract suite (test/contract/store.contract.ts) runs against both.
import type { InventoryItem, SkillRecord } from '../world/character.ts';
import type { ZoneId } from '../world/types.ts';

// Inventory and skill rows are the world's own shapes (shared with the client).
export type { InventoryItem, SkillRecord };

/** An account as stored. Usernames are unique case-insensitively; emails are stored lower-cased. */
export interface AccountRecord {
  playerId: number;
  username: string;
  email: string;
  /** argon2id PHC string; never leaves the server. */
  passwordHash: string;
  createdAtMs: number;
  lastLoginAtMs: number | null;
}

export interface NewAccount {
  username: string;
  email: string;
  passwordHash: string;
}

/** The frequently saved part of a character (the brief's player_state row). */
export interface PlayerState {
  playerId: number;
  zone: ZoneId;
  latE7: number;
  lonE7: number;
  altCm: number;
  heading16: number;
  health: number;
  stamina: number;
  level: number;
  experience: number;
  playtimeSeconds: number;
  /**
   * Monotonic per player, bumped each time the live character is snapshotted for saving. A save
   * whose saveSeq is not newer than the stored one is ignored, so replays and late writers from
   * another host can never move a character back in time.
   */
  saveSeq: number;
}

/**
 * One character's save. inventory/skills undefined means "unchanged since the last save": the
 * stored rows stay as they are; an array (even empty) replaces them.
 */
export interface PlayerSave {
  state: PlayerState;
  inventory?: InventoryItem[];
  skills?: SkillRecord[];
}

/** Everything loaded at login. state is null for an account that never entered the world. */
export interface PlayerRecord {
  playerId: number;
  username: string;
  state: PlayerState | null;
  inventory: InventoryItem[];
  skills: SkillRecord[];
}

export interface ItemDefinition {
  itemId: number;
  name: string;
  stackSize: number;
  /** Rare items are critical: saved before the player is told they have one. */
  rare: boolean;
}

/** A server-owned entity that survives restarts (NPCs today; resources and structures later). */
export interface WorldEntityRecord {
  id: number;
  kind: number;
  zone: ZoneId;
  latE7: number;
  lonE7: number;
  altCm: number;
  heading16: number;
  /** Opaque JSON-serialisable state of the entity's behaviour (e.g. an NPC brain). */
  data: unknown;
}

export interface SaveResult {
  /** Player states written. */
  written: number;
  /** Player saves ignored because a newer saveSeq was already stored. */
  stale: number;
}

export type StoreKind = 'sqlite' | 'postgres';

/** A username or email that is already taken. `field` says which. */
export class AccountConflictError extends Error {
  constructor(readonly field: 'username' | 'email') {
    super(`${field} is already taken`);
    this.name = 'AccountConflictError';
  }
}

/** A save named a player the database does not know (e.g. an account deleted meanwhile). */
export class UnknownPlayerError extends Error {
  constructor(readonly playerId: number | undefined) {
    super(`savePlayers: unknown player id ${playerId ?? '(unknown)'}; the batch was not written`);
    this.name = 'UnknownPlayerError';
  }
}

/** A save holding values no database column can take (NaN health, duplicate slots...). */
export class InvalidSaveError extends Error {
  constructor(
    readonly playerId: number | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'InvalidSaveError';
  }
}

export interface Store {
  readonly kind: StoreKind;
  /** Applies pending migrations; returns the names applied now (empty when up to date). */
  migrate(): Promise<string[]>;
  /** Throws AccountConflictError when the username or email is taken. */
  createAccount(account: NewAccount): Promise<AccountRecord>;
  /** Case-insensitive username lookup. */
  findAccountByUsername(username: string): Promise<AccountRecord | undefined>;
  findAccountById(playerId: number): Promise<AccountRecord | undefined>;
  recordLogin(playerId: number, atMs: number): Promise<void>;
  loadPlayer(playerId: number): Promise<PlayerRecord | undefined>;
  /**
   * Saves many characters in ONE transaction: all or nothing. Used by the write-behind batches
   * and, with one or two saves, by critical events (a trade between two players is one call).
   * Saves for unknown player ids reject the whole batch.
   */
  savePlayers(saves: readonly PlayerSave[]): Promise<SaveResult>;
  itemDefinitions(): Promise<ItemDefinition[]>;
  itemDefinition(itemId: number): Promise<ItemDefinition | undefined>;
  /** Replaces the whole set of world entities in one transaction. */
  saveWorldEntities(entities: readonly WorldEntityRecord[]): Promise<void>;
  loadWorldEntities(): Promise<WorldEntityRecord[]>;
  close(): Promise<void>;
}
