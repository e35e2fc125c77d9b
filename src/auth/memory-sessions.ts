// Sessions kept in this process: the embedded default. Listeners are called in a microtask after
// the change, never inside the caller's own stack, matching the Redis adapter's asynchrony closely
// enough that code written against one behaves the same on the other.
import type { Logger } from '../ops/log.ts';
import { EndedListeners } from './listeners.ts';
import { DEFAULT_IDLE_MS } from './sessions.ts';
import type { SessionEndReason, SessionEnded, SessionRecord, Sessions } from './sessions.ts';

export interface MemorySessionsOptions {
  idleMs?: number;
  /** Clock for the periodic sweep (tests that inject time pass theirs). */
  now?: () => number;
  /** How often sessions nobody touches are swept out, announced as 'expired'; 0 = never. Default 60 s. */
  sweepEveryMs?: number;
  /** Where a throwing listener is reported. */
  logger?: Logger;
}

export class MemorySessions implements Sessions {
  readonly idleMs: number;
  private readonly now: () => number;
  private readonly byHash = new Map<string, SessionRecord>();
  private readonly byPlayer = new Map<number, Set<string>>();
  private readonly listeners: EndedListeners;
  private readonly sweeper: NodeJS.Timeout | undefined;

  constructor(opts: MemorySessionsOptions = {}) {
    this.idleMs = opts.idleMs ?? DEFAULT_IDLE_MS;
    this.now = opts.now ?? Date.now;
    this.listeners = new EndedListeners(opts.logger);
    const every = opts.sweepEveryMs ?? 60_000;
    if (every > 0) {
      this.sweeper = setInterval(() => this.sweep(this.now()), every);
      // Sweeping is housekeeping: it must not keep a process alive.
      this.sweeper.unref();
    }
  }

  get size(): number {
    return this.byHash.size;
  }

  async create(session: SessionRecord): Promise<void> {
    const existing = this.byHash.get(session.tokenHash);
    if (existing !== undefined) this.forget(existing);
    this.byHash.set(session.tokenHash, { ...session });
    let set = this.byPlayer.get(session.playerId);
    if (set === undefined) {
      set = new Set();
      this.byPlayer.set(session.playerId, set);
    }
    set.add(session.tokenHash);
  }

  async touch(tokenHash: string, nowMs: number): Promise<SessionRecord | undefined> {
    const record = this.byHash.get(tokenHash);
    if (record === undefined) return undefined;
    if (nowMs - record.lastSeenAtMs > this.idleMs) {
      this.end(record, 'expired');
      return undefined;
    }
    // max: another gateway's clock may be slightly behind; expiry never moves backwards.
    record.lastSeenAtMs = Math.max(record.lastSeenAtMs, nowMs);
    return { ...record };
  }

  async revoke(tokenHash: string, reason: SessionEndReason): Promise<boolean> {
    const record = this.byHash.get(tokenHash);
    if (record === undefined) return false;
    this.end(record, reason);
    return true;
  }

  async revokePlayer(playerId: number, reason: SessionEndReason): Promise<string[]> {
    const hashes = [...(this.byPlayer.get(playerId) ?? [])];
    for (const hash of hashes) {
      const record = this.byHash.get(hash);
      if (record !== undefined) this.end(record, reason);
    }
    return hashes;
  }

  onEnded(listener: (ended: SessionEnded) => void): { unsubscribe(): void } {
    return this.listeners.add(listener);
  }

  /** Ends every session idle for longer than idleMs at nowMs, as 'expired'; returns how many. */
  sweep(nowMs: number): number {
    let n = 0;
    for (const record of [...this.byHash.values()]) {
      if (nowMs - record.lastSeenAtMs > this.idleMs) {
        this.end(record, 'expired');
        n++;
      }
    }
    return n;
  }

  async close(): Promise<void> {
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    this.listeners.clear();
    this.byHash.clear();
    this.byPlayer.clear();
  }

  private end(record: SessionRecord, reason: SessionEndReason): void {
    this.forget(record);
    const ended: SessionEnded = { tokenHash: record.tokenHash, playerId: record.playerId, reason };
    queueMicrotask(() => this.listeners.emit(ended));
  }

  private forget(record: SessionRecord): void {
    this.byHash.delete(record.tokenHash);
    const set = this.byPlayer.get(record.playerId);
    set?.delete(record.tokenHash);
    if (set?.size === 0) this.byPlayer.delete(record.playerId);
  }
}
