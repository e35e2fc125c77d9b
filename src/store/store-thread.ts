// ThreadedStore: the SQLite adapter on its own thread. better-sqlite3 is synchronous, and a
// 10,000-player save takes tens of milliseconds, which would stall the game tick if it ran on the
// main thread. Each call becomes a message to the worker (store-worker.ts) and resolves with its reply.
import type { Worker } from 'node:worker_threads';
import { startTsWorker } from '../ops/ts-worker.ts';
import { AccountConflictError, InvalidSaveError, UnknownPlayerError } from './store.ts';
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

/** The Store methods the worker serves (everything but kind). */
export type StoreMethod = Exclude<keyof Store, 'kind'>;

export interface StoreRequest {
  id: number;
  method: StoreMethod;
  /** For savePlayers: [PackedSaves]. */
  args: unknown[];
}

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
  field?: 'username' | 'email';
  playerId?: number;
}

export type StoreReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: SerializedError };

export interface StoreWorkerData {
  path: string;
}

// ---- batches as typed arrays ----
// A structured clone of 10,000 save objects costs ~15 ms on the sending thread, i.e. most of a
// tick; packed into typed arrays (transferred, not copied) plus one array of zone strings it is a
// few ms. Float64 holds every value exactly (integers are checked to be safe integers later).

const STATE_FIELDS = 11;
const ITEM_FIELDS = 5;
const SKILL_FIELDS = 3;

export interface PackedSaves {
  /** STATE_FIELDS per save, in the order written by packSaves. */
  states: Float64Array;
  zones: string[];
  /** Items per save; -1 = inventory undefined (unchanged). */
  itemCounts: Int32Array;
  items: Float64Array;
  /** Skills per save; -1 = skills undefined (unchanged). */
  skillCounts: Int32Array;
  skills: Float64Array;
}

export function packSaves(saves: readonly PlayerSave[]): PackedSaves {
  const n = saves.length;
  let itemTotal = 0;
  let skillTotal = 0;
  for (const s of saves) {
    itemTotal += s.inventory?.length ?? 0;
    skillTotal += s.skills?.length ?? 0;
  }
  const states = new Float64Array(n * STATE_FIELDS);
  const zones = new Array<string>(n);
  const itemCounts = new Int32Array(n);
  const items = new Float64Array(itemTotal * ITEM_FIELDS);
  const skillCounts = new Int32Array(n);
  const skills = new Float64Array(skillTotal * SKILL_FIELDS);
  let k = 0;
  let m = 0;
  for (let i = 0; i < n; i++) {
    const save = saves[i] as PlayerSave;
    const s = save.state;
    let o = i * STATE_FIELDS;
    states[o++] = s.playerId;
    states[o++] = s.latE7;
    states[o++] = s.lonE7;
    states[o++] = s.altCm;
    states[o++] = s.heading16;
    states[o++] = s.health;
    states[o++] = s.stamina;
    states[o++] = s.level;
    states[o++] = s.experience;
    states[o++] = s.playtimeSeconds;
    states[o] = s.saveSeq;
    zones[i] = s.zone;
    if (save.inventory === undefined) itemCounts[i] = -1;
    else {
      itemCounts[i] = save.inventory.length;
      for (const it of save.inventory) {
        items[k++] = it.slot;
        items[k++] = it.itemId;
        items[k++] = it.quantity;
        items[k++] = it.durability;
        items[k++] = it.quality;
      }
    }
    if (save.skills === undefined) skillCounts[i] = -1;
    else {
      skillCounts[i] = save.skills.length;
      for (const sk of save.skills) {
        skills[m++] = sk.skillId;
        skills[m++] = sk.level;
        skills[m++] = sk.experience;
      }
    }
  }
  return { states, zones, itemCounts, items, skillCounts, skills };
}

export function unpackSaves(p: PackedSaves): PlayerSave[] {
  const n = p.zones.length;
  const out = new Array<PlayerSave>(n);
  const st = p.states;
  const items = p.items;
  const skills = p.skills;
  let k = 0;
  let m = 0;
  for (let i = 0; i < n; i++) {
    const o = i * STATE_FIELDS;
    const save: PlayerSave = {
      state: {
        playerId: st[o] as number,
        zone: p.zones[i] as string,
        latE7: st[o + 1] as number,
        lonE7: st[o + 2] as number,
        altCm: st[o + 3] as number,
        heading16: st[o + 4] as number,
        health: st[o + 5] as number,
        stamina: st[o + 6] as number,
        level: st[o + 7] as number,
        experience: st[o + 8] as number,
        playtimeSeconds: st[o + 9] as number,
        saveSeq: st[o + 10] as number,
      },
    };
    const ic = p.itemCounts[i] as number;
    if (ic >= 0) {
      const inv = new Array(ic);
      for (let j = 0; j < ic; j++, k += ITEM_FIELDS) {
        inv[j] = {
          slot: items[k] as number,
          itemId: items[k + 1] as number,
          quantity: items[k + 2] as number,
          durability: items[k + 3] as number,
          quality: items[k + 4] as number,
        };
      }
      save.inventory = inv;
    }
    const sc = p.skillCounts[i] as number;
    if (sc >= 0) {
      const list = new Array(sc);
      for (let j = 0; j < sc; j++, m += SKILL_FIELDS) {
        list[j] = { skillId: skills[m] as number, level: skills[m + 1] as number, experience: skills[m + 2] as number };
      }
      save.skills = list;
    }
    out[i] = save;
  }
  return out;
}

export function serializeError(err: unknown): SerializedError {
  if (err instanceof AccountConflictError) return { name: err.name, message: err.message, field: err.field };
  if (err instanceof UnknownPlayerError || err instanceof InvalidSaveError) {
    return { name: err.name, message: err.message, playerId: err.playerId ?? -1 };
  }
  if (err instanceof Error) {
    const out: SerializedError = { name: err.name, message: err.message };
    if (err.stack !== undefined) out.stack = err.stack;
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string') out.code = code;
    return out;
  }
  return { name: 'Error', message: String(err) };
}

/** Re-creates a worker's error on this side, keeping the class where callers test for it. */
export function deserializeError(e: SerializedError): Error {
  if (e.name === 'AccountConflictError' && e.field !== undefined) return new AccountConflictError(e.field);
  if (e.name === 'InvalidSaveError') {
    return new InvalidSaveError(e.playerId === undefined || e.playerId < 0 ? undefined : e.playerId, e.message);
  }
  if (e.name === 'UnknownPlayerError') return new UnknownPlayerError(e.playerId === undefined || e.playerId < 0 ? undefined : e.playerId);
  const err =
    e.name === 'TypeError' ? new TypeError(e.message) : e.name === 'RangeError' ? new RangeError(e.message) : new Error(e.message);
  err.name = e.name;
  if (e.code !== undefined) Object.assign(err, { code: e.code });
  // This side's stack shows the caller; the worker's shows where it failed. Keep both.
  if (e.stack !== undefined) err.stack = `${err.stack ?? ''}\n    --- in the store worker ---\n${e.stack}`;
  return err;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

export interface ThreadedStoreOptions {
  /** The worker module; tests pass a stand-in that speaks the same protocol. Default store-worker.ts. */
  workerUrl?: URL;
}

export class ThreadedStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly path: string;
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  /** Set once the worker is gone: every later call rejects with it. */
  #dead: Error | undefined;
  #closing: Promise<void> | undefined;

  constructor(path: string, opts: ThreadedStoreOptions = {}) {
    this.path = path;
    const data: StoreWorkerData = { path };
    this.#worker = startTsWorker(opts.workerUrl ?? new URL('./store-worker.ts', import.meta.url), data);
    // Referenced only while calls are pending: an idle store does not keep the process alive, and a
    // pending write does (its commit must not be cut short by a natural exit).
    this.#worker.unref();
    this.#worker.on('message', (reply: StoreReply) => this.#onReply(reply));
    this.#worker.on('error', (err: Error) => {
      this.#fail(new Error(`SQLite store worker crashed: ${err.message}`, { cause: err }));
    });
    this.#worker.on('exit', (code: number) => {
      this.#fail(new Error(`SQLite store worker exited unexpectedly (exit code ${code})`));
    });
  }

  #onReply(reply: StoreReply): void {
    const p = this.#pending.get(reply.id);
    if (p === undefined) return;
    this.#pending.delete(reply.id);
    if (this.#pending.size === 0) this.#worker.unref();
    if (reply.ok) p.resolve(reply.value);
    else p.reject(deserializeError(reply.error));
  }

  #fail(err: Error): void {
    if (this.#dead !== undefined) return;
    this.#dead = err;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(err);
  }

  #call<T>(method: StoreMethod, args: unknown[], transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.#dead !== undefined) return Promise.reject(this.#dead);
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      if (this.#pending.size === 0) this.#worker.ref();
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      const request: StoreRequest = { id, method, args };
      this.#worker.postMessage(request, transfer);
    });
  }

  migrate(): Promise<string[]> {
    return this.#call('migrate', []);
  }

  createAccount(account: NewAccount): Promise<AccountRecord> {
    return this.#call('createAccount', [account]);
  }

  findAccountByUsername(username: string): Promise<AccountRecord | undefined> {
    return this.#call('findAccountByUsername', [username]);
  }

  findAccountById(playerId: number): Promise<AccountRecord | undefined> {
    return this.#call('findAccountById', [playerId]);
  }

  recordLogin(playerId: number, atMs: number): Promise<void> {
    return this.#call('recordLogin', [playerId, atMs]);
  }

  loadPlayer(playerId: number): Promise<PlayerRecord | undefined> {
    return this.#call('loadPlayer', [playerId]);
  }

  savePlayers(saves: readonly PlayerSave[]): Promise<SaveResult> {
    let packed: PackedSaves;
    try {
      packed = packSaves(saves);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    const transfer = [packed.states, packed.itemCounts, packed.items, packed.skillCounts, packed.skills].map(
      (a) => a.buffer as ArrayBuffer,
    );
    return this.#call('savePlayers', [packed], transfer);
  }

  itemDefinitions(): Promise<ItemDefinition[]> {
    return this.#call('itemDefinitions', []);
  }

  itemDefinition(itemId: number): Promise<ItemDefinition | undefined> {
    return this.#call('itemDefinition', [itemId]);
  }

  saveWorldEntities(entities: readonly WorldEntityRecord[]): Promise<void> {
    return this.#call('saveWorldEntities', [entities]);
  }

  loadWorldEntities(): Promise<WorldEntityRecord[]> {
    return this.#call('loadWorldEntities', []);
  }

  /** Closes the database in the worker, then ends the worker. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      try {
        if (this.#dead === undefined) await this.#call<void>('close', []);
      } finally {
        // From here on the worker's exit is expected; calls made after close() get this error.
        this.#fail(new Error('the SQLite store is closed'));
        await this.#worker.terminate();
      }
    })();
    return this.#closing;
  }
}
