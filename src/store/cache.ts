// Cache tiers in front of the database for read-mostly records (player profiles, item definitions).
//
//   L1: an LRU with a short TTL inside each process; synchronous peek for hot paths.
//   L2: a SharedCache (Redis in a cluster, MemorySharedCache embedded) shared by every process.
//   DB: the `load` function (normally a Store call).
//
// Writers write the database first, then call TieredCache.set (write-through) or invalidate. Every
// change to L2 is announced, so other processes drop their L1 copy; L1's TTL bounds how stale a
// process can be when an announcement is lost (e.g. while its Redis subscription is reconnecting).
// The cache never makes the game fail: L2 errors and undecodable L2 data become misses served
// by the database, with a (throttled) log line and a metric.
import { LRUCache } from 'lru-cache';
import { Counter } from 'prom-client';
import type { Registry } from 'prom-client';
import { createLogger } from '../ops/log.ts';
import type { Logger } from '../ops/log.ts';

/** What is cached. Each space is a separate key namespace in L2 and one TieredCache per process. */
export type CacheSpace = 'player' | 'item';

export const CACHE_SPACES: readonly CacheSpace[] = ['player', 'item'];

export function isCacheSpace(s: string): s is CacheSpace {
  return s === 'player' || s === 'item';
}

/** Who made a change: each TieredCache has its own origin so it can ignore its own announcements. */
export interface CacheWriteOptions {
  /** Defaults to the SharedCache's own origin. */
  origin?: string;
}

export interface CacheSetOptions extends CacheWriteOptions {
  /**
   * Only store when the key holds nothing (Redis SET NX). Used to fill L2 after a database load:
   * a fill never overwrites a newer write-through value, and is not announced, since it holds
   * what every process would load anyway.
   */
  onlyIfAbsent?: boolean;
}

export type InvalidationListener = (space: CacheSpace, key: string, origin: string) => void;

export interface Subscription {
  unsubscribe(): void;
}

/**
 * L2: a cache shared by every process. Values cross it as strings so any adapter can hold them.
 * Adapters: RedisCache (redis-cache.ts) and MemorySharedCache (memory-cache.ts); one contract
 * suite (test/contract/cache.contract.ts) runs against both.
 *
 * Methods reject when the backing service fails; TieredCache turns that into a miss.
 */
export interface SharedCache {
  /** Random per instance unless given; the default origin of this instance's writes. */
  readonly origin: string;
  /** Resolves once connected and hearing invalidations. Using the cache before is allowed. */
  ready(): Promise<void>;
  get(space: CacheSpace, key: string): Promise<string | undefined>;
  /** One round trip for many keys; result[i] belongs to keys[i]. */
  getMany(space: CacheSpace, keys: readonly string[]): Promise<(string | undefined)[]>;
  /** ttlMs > 0. Unless onlyIfAbsent, announced to every listener with the write's origin. */
  set(space: CacheSpace, key: string, value: string, ttlMs: number, opts?: CacheSetOptions): Promise<void>;
  /** Removes the key (absent is fine) and announces it. */
  delete(space: CacheSpace, key: string, opts?: CacheWriteOptions): Promise<void>;
  /**
   * Hears announced changes made through any instance sharing the same backing store, except
   * those whose origin is this instance's own origin. Delivery is at most once.
   */
  onInvalidated(listener: InvalidationListener): Subscription;
  close(): Promise<void>;
}

export function randomOrigin(): string {
  return `${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
}

/** What the cache needs from a logger (pino's Logger fits). */
export type CacheLogger = Pick<Logger, 'warn'>;

let defaultLogger: CacheLogger | undefined;
export function defaultCacheLogger(): CacheLogger {
  defaultLogger ??= createLogger({ level: 'warn', name: 'cache' });
  return defaultLogger;
}

/**
 * One warn line per `intervalMs` per topic, with how many were suppressed in between: when Redis
 * is down every request fails, and a line per request would drown the log.
 */
export class ThrottledWarn {
  private readonly last = new Map<string, { atMs: number; suppressed: number }>();

  constructor(
    private readonly log: CacheLogger,
    private readonly intervalMs = 10_000,
  ) {}

  warn(topic: string, fields: Record<string, unknown>, msg: string): void {
    const now = Date.now();
    const seen = this.last.get(topic);
    if (seen !== undefined && now - seen.atMs < this.intervalMs) {
      seen.suppressed++;
      return;
    }
    this.last.set(topic, { atMs: now, suppressed: 0 });
    this.log.warn({ ...fields, suppressed: seen?.suppressed ?? 0 }, msg);
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export interface TieredCacheOptions<T> {
  space: CacheSpace;
  l1: { max: number; ttlMs: number };
  /** Without L2 the cache is L1 + database (a single process). */
  l2?: SharedCache;
  /** TTL of values written to L2; required when l2 is given. */
  l2TtlMs?: number;
  /** The database read. undefined = no such record (not cached, see get). Errors reach the caller. */
  load: (key: string) => Promise<T | undefined>;
  /** Defaults to JSON.stringify. */
  encode?: (value: T) => string;
  /**
   * Defaults to JSON.parse. Throwing means "not ours" (corrupt, or written by another version):
   * the value is treated as a miss. Pass a validating decoder to reject well-formed foreign JSON.
   */
  decode?: (text: string) => T;
  registry: Registry;
  /** Identifies this cache in L2 announcements; random by default. */
  origin?: string;
  /** Defaults to a pino logger at warn level. */
  log?: CacheLogger;
  /**
   * invalidate() leaves a marker in L2 for this long (default 2000 ms, at most l2TtlMs) instead of
   * deleting the key. Fills after a database load are set-if-absent, so a process whose load
   * read the old row just before the invalidation cannot put that old value back into L2 (its
   * announcement may reach that process only after the load). Loads must take less than this.
   */
  invalidateHoldMs?: number;
}

/** L2 value of an invalidated key during its hold: never produced by encoding real data. */
export const CACHE_TOMBSTONE = '\u0000bluemarble:invalidated';

export interface CacheStats {
  /** get() calls. */
  requests: number;
  l1Hits: number;
  /** Requests served by L2 (including those that joined an in-flight L2 read). */
  l2Hits: number;
  /** Requests that had to go to the database. */
  misses: number;
  /** Database loads actually made (concurrent misses of one key share a load). */
  loads: number;
  /** (l1Hits + l2Hits) / requests; 0 before any request. */
  hitRate: number;
}

type Source = 'l2' | 'db';

interface CacheMetrics {
  requests: Counter<'space' | 'tier' | 'result'>;
  loads: Counter<'space'>;
  errors: Counter<'space' | 'tier'>;
}

function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: L[]): Counter<L> {
  // Several TieredCaches (one per space, or several "processes" in a test) share a registry:
  // the first creates each metric, the others reuse it.
  const existing = registry.getSingleMetric(name);
  if (existing !== undefined) {
    if (!(existing instanceof Counter)) throw new Error(`metric ${name} is already registered as another type`);
    return existing as Counter<L>;
  }
  return new Counter({ name, help, labelNames, registers: [registry] });
}

function cacheMetrics(registry: Registry): CacheMetrics {
  return {
    requests: counter(registry, 'bluemarble_cache_requests_total', 'Cache lookups by space, tier and result', [
      'space',
      'tier',
      'result',
    ]),
    loads: counter(registry, 'bluemarble_cache_loads_total', 'Database loads made on cache misses', ['space']),
    errors: counter(registry, 'bluemarble_cache_errors_total', 'Cache tier failures (L2 down, undecodable data)', [
      'space',
      'tier',
    ]),
  };
}

/** A lookup that missed L1; concurrent gets of the key share it. */
interface Flight<T> {
  /** Identity of this lookup, so it can tell whether it is still the key's current one. */
  token: object;
  promise: Promise<{ value: T | undefined; source: Source }>;
}

/**
 * L1 → L2 → database, for one CacheSpace. Absent records (load → undefined) are not cached:
 * lookups of missing ids are rare in the game (ids come from the database) and caching them would
 * need an invalidation when the record is created; concurrent lookups still share one load.
 */
export class TieredCache<T> {
  readonly space: CacheSpace;
  readonly origin: string;
  private readonly l1: LRUCache<string, { value: T }>;
  private readonly l2: SharedCache | undefined;
  private readonly l2TtlMs: number;
  private readonly holdMs: number;
  private readonly load: (key: string) => Promise<T | undefined>;
  private readonly encode: (value: T) => string;
  private readonly decode: (text: string) => T;
  private readonly warnings: ThrottledWarn;
  private readonly subscription: Subscription | undefined;
  /**
   * In-flight misses. set/invalidate (local or announced) remove the key's entry, which both
   * stops later gets joining a lookup that may return the old value and tells that lookup not to
   * fill the tiers with it when it completes.
   */
  private readonly flights = new Map<string, Flight<T>>();
  private readonly counts = { requests: 0, l1Hits: 0, l2Hits: 0, misses: 0, loads: 0 };
  private readonly m: {
    l1Hit: Counter.Internal;
    l1Miss: Counter.Internal;
    l2Hit: Counter.Internal;
    l2Miss: Counter.Internal;
    loads: Counter.Internal;
    l2Errors: Counter.Internal;
  };

  constructor(opts: TieredCacheOptions<T>) {
    if (!(opts.l1.max > 0) || !(opts.l1.ttlMs > 0)) throw new RangeError('l1.max and l1.ttlMs must be > 0');
    if (opts.l2 !== undefined && !(opts.l2TtlMs !== undefined && opts.l2TtlMs > 0)) {
      throw new RangeError('l2TtlMs must be > 0 when l2 is given');
    }
    this.space = opts.space;
    this.origin = opts.origin ?? randomOrigin();
    this.l1 = new LRUCache<string, { value: T }>({ max: opts.l1.max, ttl: opts.l1.ttlMs });
    this.l2 = opts.l2;
    this.l2TtlMs = opts.l2TtlMs ?? 0;
    this.holdMs = Math.min(opts.invalidateHoldMs ?? 2000, this.l2TtlMs);
    this.load = opts.load;
    this.encode = opts.encode ?? ((v: T) => JSON.stringify(v));
    this.decode = opts.decode ?? ((s: string) => JSON.parse(s) as T);
    this.warnings = new ThrottledWarn(opts.log ?? defaultCacheLogger());
    const metrics = cacheMetrics(opts.registry);
    const space = opts.space;
    this.m = {
      l1Hit: metrics.requests.labels({ space, tier: 'l1', result: 'hit' }),
      l1Miss: metrics.requests.labels({ space, tier: 'l1', result: 'miss' }),
      l2Hit: metrics.requests.labels({ space, tier: 'l2', result: 'hit' }),
      l2Miss: metrics.requests.labels({ space, tier: 'l2', result: 'miss' }),
      loads: metrics.loads.labels({ space }),
      l2Errors: metrics.errors.labels({ space, tier: 'l2' }),
    };
    this.subscription = this.l2?.onInvalidated((s, key, origin) => {
      if (s !== this.space || origin === this.origin) return;
      this.drop(key);
    });
  }

  /** The value, from the nearest tier that has it; undefined when the database has no record. */
  async get(key: string): Promise<T | undefined> {
    this.counts.requests++;
    const hit = this.l1.get(key);
    if (hit !== undefined) {
      this.counts.l1Hits++;
      this.m.l1Hit.inc();
      return hit.value;
    }
    this.m.l1Miss.inc();
    let flight = this.flights.get(key);
    if (flight === undefined) {
      const token = {};
      const promise = this.fetch(key, token).finally(() => {
        if (this.flights.get(key)?.token === token) this.flights.delete(key);
      });
      flight = { token, promise };
      this.flights.set(key, flight);
    }
    const { value, source } = await flight.promise;
    if (source === 'l2') this.counts.l2Hits++;
    else this.counts.misses++;
    return value;
  }

  /** L1 only, synchronous: for hot paths that must not wait. Not counted in stats. */
  peek(key: string): T | undefined {
    return this.l1.get(key)?.value;
  }

  /**
   * Write-through: the caller has already written the database. Updates L1 and L2 and makes other
   * processes drop their L1 copy. An L2 failure is logged and counted, not thrown; L2 may then
   * hold the old value until its TTL, which is why L2's TTL should stay modest.
   */
  async set(key: string, value: T): Promise<void> {
    this.flights.delete(key);
    this.l1.set(key, { value });
    if (this.l2 === undefined) return;
    let text: string;
    try {
      text = this.encode(value);
    } catch (err) {
      // Not storable in L2: make sure L2 does not keep serving the previous value.
      this.failed('encode', key, err);
      await this.l2Delete(key);
      return;
    }
    try {
      await this.l2.set(this.space, key, text, this.l2TtlMs, { origin: this.origin });
    } catch (err) {
      this.failed('set', key, err);
    }
  }

  /** Drops the key from L1 and L2 and from every other process's L1. */
  async invalidate(key: string): Promise<void> {
    this.drop(key);
    if (this.l2 === undefined) return;
    if (!(this.holdMs > 0)) {
      await this.l2Delete(key);
      return;
    }
    try {
      await this.l2.set(this.space, key, CACHE_TOMBSTONE, this.holdMs, { origin: this.origin });
    } catch (err) {
      this.failed('invalidate', key, err);
    }
  }

  stats(): CacheStats {
    const { requests, l1Hits, l2Hits, misses, loads } = this.counts;
    return { requests, l1Hits, l2Hits, misses, loads, hitRate: requests === 0 ? 0 : (l1Hits + l2Hits) / requests };
  }

  resetStats(): void {
    for (const k of Object.keys(this.counts) as (keyof typeof this.counts)[]) this.counts[k] = 0;
  }

  /** Entries in L1 (for tests and gauges). */
  get l1Size(): number {
    return this.l1.size;
  }

  /** Stops hearing invalidations. Does not close the SharedCache, which other caches may share. */
  close(): void {
    this.subscription?.unsubscribe();
    this.l1.clear();
    this.flights.clear();
  }

  private drop(key: string): void {
    this.flights.delete(key);
    this.l1.delete(key);
  }

  private async l2Delete(key: string): Promise<void> {
    if (this.l2 === undefined) return;
    try {
      await this.l2.delete(this.space, key, { origin: this.origin });
    } catch (err) {
      this.failed('delete', key, err);
    }
  }

  private async fetch(key: string, token: object): Promise<{ value: T | undefined; source: Source }> {
    // Still current = no set/invalidate for this key since the lookup began.
    const current = () => this.flights.get(key)?.token === token;
    let l2Usable = this.l2 !== undefined;
    let overwrite = false;
    if (this.l2 !== undefined) {
      let text: string | undefined;
      try {
        text = await this.l2.get(this.space, key);
      } catch (err) {
        l2Usable = false;
        this.failed('get', key, err);
      }
      if (text !== undefined && text !== CACHE_TOMBSTONE) {
        try {
          const value = this.decode(text);
          this.m.l2Hit.inc();
          if (current()) this.l1.set(key, { value });
          return { value, source: 'l2' };
        } catch (err) {
          // Corrupt or foreign: a miss, and the loaded value replaces it.
          overwrite = true;
          this.failed('decode', key, err);
        }
      }
      this.m.l2Miss.inc();
    }
    this.counts.loads++;
    this.m.loads.inc();
    const value = await this.load(key);
    if (value === undefined || !current()) return { value, source: 'db' };
    this.l1.set(key, { value });
    if (l2Usable && this.l2 !== undefined) {
      // Not awaited: the caller has its value; the fill only helps later lookups.
      void this.fillL2(this.l2, key, value, overwrite);
    }
    return { value, source: 'db' };
  }

  private async fillL2(l2: SharedCache, key: string, value: T, overwrite: boolean): Promise<void> {
    try {
      const text = this.encode(value);
      await l2.set(this.space, key, text, this.l2TtlMs, { origin: this.origin, onlyIfAbsent: !overwrite });
    } catch (err) {
      this.failed('fill', key, err);
    }
  }

  /** Only L2 can fail: L1 is process memory. */
  private failed(op: string, key: string, err: unknown): void {
    this.m.l2Errors.inc();
    // One throttle for every L2 operation: when Redis is down they all fail together.
    this.warnings.warn(
      op === 'decode' ? 'decode' : 'l2',
      { space: this.space, tier: 'l2', op, key, err: errorMessage(err) },
      op === 'decode' ? 'cache: undecodable L2 value treated as a miss' : 'cache: L2 failed; served by the database',
    );
  }
}
