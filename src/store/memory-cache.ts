// The embedded SharedCache: what Redis is to a cluster, for a single process. Instances made with
// peer() share one store and one announcement channel, like processes sharing one Redis, so the
// tiering logic can be tested (and benchmarked) without a server. Several TieredCaches may also
// share one instance: each has its own origin, so each still hears the others.
import { LRUCache } from 'lru-cache';
import { randomOrigin } from './cache.ts';
import type {
  CacheSetOptions,
  CacheSpace,
  CacheWriteOptions,
  InvalidationListener,
  SharedCache,
  Subscription,
} from './cache.ts';

export interface MemorySharedCacheOptions {
  origin?: string;
  /**
   * Entries kept before the least recently used are evicted (Redis would use maxmemory). Default
   * 100 000; the store is allocated up front, so tests making many instances pass less.
   */
  maxEntries?: number;
}

/** What peers share: the values and everyone listening. */
interface Hub {
  entries: LRUCache<string, string>;
  listeners: Set<{ owner: MemorySharedCache; listener: InvalidationListener }>;
}

export class MemorySharedCache implements SharedCache {
  readonly origin: string;
  private readonly hub: Hub;
  private closed = false;

  constructor(opts: MemorySharedCacheOptions = {}, hub?: Hub) {
    this.origin = opts.origin ?? randomOrigin();
    this.hub = hub ?? {
      entries: new LRUCache<string, string>({ max: opts.maxEntries ?? 100_000, ttlAutopurge: false }),
      listeners: new Set(),
    };
  }

  /** Another instance over the same store, as another process connected to the same Redis. */
  peer(opts: { origin?: string } = {}): MemorySharedCache {
    return new MemorySharedCache(opts, this.hub);
  }

  async ready(): Promise<void> {
    this.check();
  }

  async get(space: CacheSpace, key: string): Promise<string | undefined> {
    this.check();
    return this.hub.entries.get(slot(space, key));
  }

  async getMany(space: CacheSpace, keys: readonly string[]): Promise<(string | undefined)[]> {
    this.check();
    return keys.map((key) => this.hub.entries.get(slot(space, key)));
  }

  async set(space: CacheSpace, key: string, value: string, ttlMs: number, opts: CacheSetOptions = {}): Promise<void> {
    this.check();
    if (!(ttlMs > 0)) throw new RangeError('ttlMs must be > 0');
    const k = slot(space, key);
    if (opts.onlyIfAbsent === true) {
      if (!this.hub.entries.has(k)) this.hub.entries.set(k, value, { ttl: ttlMs });
      return;
    }
    this.hub.entries.set(k, value, { ttl: ttlMs });
    this.announce(space, key, opts.origin ?? this.origin);
  }

  async delete(space: CacheSpace, key: string, opts: CacheWriteOptions = {}): Promise<void> {
    this.check();
    this.hub.entries.delete(slot(space, key));
    this.announce(space, key, opts.origin ?? this.origin);
  }

  onInvalidated(listener: InvalidationListener): Subscription {
    const entry = { owner: this as MemorySharedCache, listener };
    this.hub.listeners.add(entry);
    return { unsubscribe: () => void this.hub.listeners.delete(entry) };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const entry of this.hub.listeners) if (entry.owner === this) this.hub.listeners.delete(entry);
  }

  private check(): void {
    // A closed connection fails like Redis's would, so callers' error paths are exercised.
    if (this.closed) throw new Error('MemorySharedCache is closed');
  }

  private announce(space: CacheSpace, key: string, origin: string): void {
    // Synchronous, after the write: a listener that reads back sees the new state. Redis delivers
    // later; callers must not rely on either timing.
    for (const { owner, listener } of [...this.hub.listeners]) {
      if (owner.origin === origin) continue;
      try {
        listener(space, key, origin);
      } catch {
        // One broken listener must not stop the others from hearing the change.
      }
    }
  }
}

function slot(space: CacheSpace, key: string): string {
  // NUL cannot appear in a space name, so 'player' + 'x' never collides with another space's key.
  return `${space}\u0000${key}`;
}
