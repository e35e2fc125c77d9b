// Write-behind for characters. Zones never wait on the database: every `intervalMs` the changed
// characters are collected and written in ONE transaction. A player who leaves is written within
// LEFT_FLUSH_MS, and a new login of that player waits for it (whenSaved) so it never loads an older
// state. Critical saves (a rare item, a trade) are written on their own, ahead of the next batch,
// and resolve only once durable. All writes run one at a time, in the order their snapshots were
// taken, so a later snapshot is never overwritten by an earlier one.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Logger } from '../ops/log.ts';
import type { CharacterSink } from '../zone/zone.ts';
import { InvalidSaveError, UnknownPlayerError, type PlayerSave, type Store } from './store.ts';

/** Leaving players are coalesced for this long into one transaction. */
const LEFT_FLUSH_MS = 50;
const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 5000;

export interface WriteBehindOptions {
  store: Store;
  /** Snapshots of every character changed since the last call (the zones' dirty sets). */
  collect: () => PlayerSave[] | Promise<PlayerSave[]>;
  intervalMs: number;
  logger: Logger;
  registry: Registry;
  /** After a commit, with what it wrote: the caches are written through from here. */
  onSaved?: (saves: readonly PlayerSave[]) => void;
}

export interface FlushResult {
  written: number;
  stale: number;
  failed: number;
}

export class WriteBehind implements CharacterSink {
  /** Saves waiting for a batch: players who left, and batches whose write failed. */
  private pending = new Map<number, PlayerSave>();
  /** Saves inside the transaction being written now. */
  private inFlight = new Map<number, PlayerSave>();
  private chain: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private leftTimer: NodeJS.Timeout | undefined;
  private flushing = false;
  private closed = false;
  private readonly waiters = new Map<number, Array<() => void>>();
  private readonly m: ReturnType<typeof writeBehindMetrics>;

  constructor(private readonly o: WriteBehindOptions) {
    this.m = writeBehindMetrics(o.registry);
  }

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.o.intervalMs);
    this.timer.unref();
  }

  // ---- CharacterSink --------------------------------------------------------------------------

  left(playerId: number, save: PlayerSave | undefined): void {
    if (save) this.queue(save);
    if (!this.leftTimer && this.pending.size > 0) {
      this.leftTimer = setTimeout(() => {
        this.leftTimer = undefined;
        void this.flush({ collect: false });
      }, LEFT_FLUSH_MS);
    }
    this.settleIfSaved(playerId);
  }

  critical(save: PlayerSave): Promise<void> {
    this.m.saves.inc({ kind: 'critical' });
    let durable!: () => void;
    const told = new Promise<void>((resolve) => (durable = resolve));
    void this.serial(async () => {
      const t0 = performance.now();
      for (let attempt = 0; ; attempt++) {
        try {
          this.inFlight.set(save.state.playerId, save);
          await this.o.store.savePlayers([save]);
          this.inFlight.delete(save.state.playerId);
          this.m.batchSeconds.observe({ kind: 'critical' }, (performance.now() - t0) / 1000);
          this.o.onSaved?.([save]);
          this.settleIfSaved(save.state.playerId);
          durable();
          return;
        } catch (err) {
          this.inFlight.delete(save.state.playerId);
          if (isDataError(err)) {
            // Never durable, so never told: the player is not promised what was not kept.
            this.m.failures.inc({ kind: 'dropped' });
            this.o.logger.error({ err, player: save.state.playerId }, 'critical save refused by the database; not confirmed');
            this.settleIfSaved(save.state.playerId);
            return;
          }
          this.m.failures.inc({ kind: 'critical' });
          if (this.closed) {
            // Shutting down with the database gone: the player was never told, so nothing
            // acknowledged is lost; keep it for the final batch attempt anyway.
            this.queue(save);
            this.o.logger.error({ err, player: save.state.playerId }, 'critical save failed at shutdown');
            return;
          }
          const wait = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** attempt);
          this.o.logger.error({ err, player: save.state.playerId, retryInMs: wait }, 'critical save failed; retrying');
          await delay(wait);
        }
      }
    });
    return told;
  }

  // ---- batches --------------------------------------------------------------------------------

  /**
   * One batch now: pending saves plus (unless collect is false) every changed character. A timer
   * flush is skipped while a batch is being written (the next one picks its changes up); a forced
   * one queues behind it.
   */
  flush(opts: { collect?: boolean; force?: boolean } = {}): Promise<FlushResult> {
    if (this.flushing && opts.collect !== false && opts.force !== true) {
      return Promise.resolve({ written: 0, stale: 0, failed: 0 });
    }
    this.flushing = true;
    return this.serial(async () => {
      try {
        let collected: PlayerSave[] = [];
        try {
          if (opts.collect !== false) collected = await this.o.collect();
        } catch (err) {
          // The zones could not be asked (stopping): write what is pending anyway.
          this.o.logger.error({ err }, 'could not collect changed characters');
        }
        for (const s of collected) this.queue(s);
        if (this.pending.size === 0) return { written: 0, stale: 0, failed: 0 };
        // Let a tick that fell due while collecting run before the batch is packed and sent.
        await new Promise<void>((resolve) => setImmediate(resolve));
        const batch = this.pending;
        this.pending = new Map();
        this.inFlight = batch;
        const saves = [...batch.values()];
        const t0 = performance.now();
        const r = await this.write(saves);
        this.m.batchSeconds.observe({ kind: 'batch' }, (performance.now() - t0) / 1000);
        this.m.batchPlayers.observe(saves.length);
        this.inFlight = new Map();
        // What failed for want of a database is put back (newer saves win) for the next batch.
        for (const s of r.failed) this.queue(s);
        for (const id of batch.keys()) this.settleIfSaved(id);
        return { written: r.written, stale: r.stale, failed: r.failed.length };
      } finally {
        this.flushing = false;
        this.m.pending.set(this.pending.size);
      }
    }) as Promise<FlushResult>;
  }

  /** Resolves once nothing of this player is waiting to be written (at once if nothing is). */
  whenSaved(playerId: number): Promise<void> {
    if (!this.pending.has(playerId) && !this.inFlight.has(playerId)) return Promise.resolve();
    return new Promise((resolve) => {
      let list = this.waiters.get(playerId);
      if (!list) this.waiters.set(playerId, (list = []));
      list.push(resolve);
    });
  }

  /** Final batch: collects everything still changed and writes it. */
  async close(): Promise<FlushResult> {
    if (this.timer) clearInterval(this.timer);
    if (this.leftTimer) clearTimeout(this.leftTimer);
    await this.chain;
    const r = await this.flush({ force: true });
    this.closed = true;
    await this.chain;
    if (this.pending.size > 0) {
      this.o.logger.error({ players: this.pending.size }, 'characters not saved at shutdown: the database refused them');
    }
    return r;
  }

  get pendingCount(): number {
    return this.pending.size + this.inFlight.size;
  }

  // ---- internals ------------------------------------------------------------------------------

  /**
   * Writes saves as one transaction. When the database refuses the data itself (a player it does
   * not know, a value it cannot hold), the batch is split until the culprits are found; they are
   * dropped loudly and everything else is written, so one bad save cannot hold every player's
   * progress hostage. Any other failure (connection, disk) returns the whole batch as failed.
   */
  private async write(saves: PlayerSave[]): Promise<{ written: number; stale: number; failed: PlayerSave[] }> {
    try {
      const r = await this.o.store.savePlayers(saves);
      this.m.saves.inc({ kind: 'batch' }, saves.length);
      this.o.onSaved?.(saves);
      return { written: r.written, stale: r.stale, failed: [] };
    } catch (err) {
      if (!isDataError(err)) {
        this.m.failures.inc({ kind: 'batch' });
        this.o.logger.error({ err, players: saves.length }, 'save batch failed; kept for the next batch');
        return { written: 0, stale: 0, failed: saves };
      }
      const culprit = err.playerId;
      if (saves.length === 1 || (culprit !== undefined && saves.some((s) => s.state.playerId === culprit))) {
        const bad = saves.length === 1 ? saves[0]! : saves.find((s) => s.state.playerId === culprit)!;
        this.m.failures.inc({ kind: 'dropped' });
        this.o.logger.error({ err, player: bad.state.playerId }, 'character save refused by the database; dropped');
        const rest = saves.filter((s) => s !== bad);
        return rest.length > 0 ? this.write(rest) : { written: 0, stale: 0, failed: [] };
      }
      const mid = saves.length >> 1;
      const a = await this.write(saves.slice(0, mid));
      const b = await this.write(saves.slice(mid));
      return { written: a.written + b.written, stale: a.stale + b.stale, failed: [...a.failed, ...b.failed] };
    }
  }

  /**
   * Adds a save, merging with one already waiting for the same player: the newer state wins, and
   * an inventory or skill list the newer save leaves out ("unchanged") is taken from the older,
   * which has not been written yet.
   */
  private queue(save: PlayerSave): void {
    const id = save.state.playerId;
    const have = this.pending.get(id);
    if (!have) {
      this.pending.set(id, save);
    } else {
      const [older, newer] = have.state.saveSeq > save.state.saveSeq ? [save, have] : [have, save];
      const merged: PlayerSave = { state: newer.state };
      const inventory = newer.inventory ?? older.inventory;
      const skills = newer.skills ?? older.skills;
      if (inventory) merged.inventory = inventory;
      if (skills) merged.skills = skills;
      this.pending.set(id, merged);
    }
    this.m.pending.set(this.pending.size);
  }

  private settleIfSaved(playerId: number): void {
    if (this.pending.has(playerId) || this.inFlight.has(playerId)) return;
    const list = this.waiters.get(playerId);
    if (!list) return;
    this.waiters.delete(playerId);
    for (const resolve of list) resolve();
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn);
    this.chain = run.catch(() => undefined);
    return run;
  }
}

function writeBehindMetrics(registry: Registry) {
  const registers = [registry];
  return {
    saves: new Counter({
      name: 'bluemarble_character_saves_total',
      help: 'Character saves written, by kind (batch: write-behind; critical: saved before the player is told).',
      labelNames: ['kind'] as const,
      registers,
    }),
    failures: new Counter({
      name: 'bluemarble_character_save_failures_total',
      help: 'Failed character save transactions (kept and retried).',
      labelNames: ['kind'] as const,
      registers,
    }),
    batchSeconds: new Histogram({
      name: 'bluemarble_character_save_seconds',
      help: 'Duration of one character save transaction.',
      labelNames: ['kind'] as const,
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    batchPlayers: new Histogram({
      name: 'bluemarble_character_save_batch_players',
      help: 'Characters per write-behind batch.',
      buckets: [1, 10, 100, 1000, 5000, 10000, 50000],
      registers,
    }),
    pending: new Gauge({
      name: 'bluemarble_character_saves_pending',
      help: 'Character saves waiting for the next batch.',
      registers,
    }),
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** The database refused what was written, not how: retrying the same save would fail forever. */
function isDataError(err: unknown): err is UnknownPlayerError | InvalidSaveError {
  return err instanceof UnknownPlayerError || err instanceof InvalidSaveError;
}
