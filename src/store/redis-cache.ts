// The shared L2 for a cluster: Redis via ioredis. Keys are `${prefix}${space}:${key}`; changes are
// announced on the pub/sub channel `${prefix}invalidate`, so deployments (and test runs) with
// different prefixes neither see each other's values nor hear each other's announcements.
//
// A cache must fail fast rather than make the game wait: there is no offline queue (a command
// while Redis is away rejects at once and TieredCache goes to the database), every command has a
// timeout, and only commands issued before the very first connection wait for it (briefly).
import { Redis } from 'ioredis';
import { ThrottledWarn, defaultCacheLogger, errorMessage, isCacheSpace, randomOrigin } from './cache.ts';
import type {
  CacheLogger,
  CacheSetOptions,
  CacheSpace,
  CacheWriteOptions,
  InvalidationListener,
  SharedCache,
  Subscription,
} from './cache.ts';

export interface RedisCacheOptions {
  /** redis://host:port/db */
  url: string;
  /** Defaults to 'bm:cache:'. Tests use a random one. */
  prefix?: string;
  origin?: string;
  /** Per command; defaults to 500 ms. */
  commandTimeoutMs?: number;
  /** How long commands issued before the first connection wait for it; defaults to 2000 ms. */
  connectTimeoutMs?: number;
  /** Defaults to a pino logger at warn level. */
  log?: CacheLogger;
}

interface Announcement {
  s: CacheSpace;
  k: string;
  o: string;
}

export class RedisCache implements SharedCache {
  readonly origin: string;
  readonly prefix: string;
  readonly channel: string;
  private readonly client: Redis;
  private readonly subscriber: Redis;
  private readonly listeners = new Set<InvalidationListener>();
  private readonly connectTimeoutMs: number;
  private readonly warnings: ThrottledWarn;
  private readonly firstConnect: Promise<void>;
  /** Settles on the first connection attempt's outcome, whichever it is. */
  private readonly firstAttempt: Promise<void>;
  private readonly subscribed: Promise<void>;
  private attempted = false;
  private closed = false;

  constructor(opts: RedisCacheOptions) {
    this.origin = opts.origin ?? randomOrigin();
    this.prefix = opts.prefix ?? 'bm:cache:';
    this.channel = `${this.prefix}invalidate`;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 2000;
    this.warnings = new ThrottledWarn(opts.log ?? defaultCacheLogger());
    const common = {
      connectTimeout: this.connectTimeoutMs,
      // Reconnect forever with a capped backoff: Redis coming back must heal the cache by itself.
      retryStrategy: (times: number) => Math.min(times * 100, 2000),
    };
    this.client = new Redis(opts.url, {
      ...common,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: opts.commandTimeoutMs ?? 500,
    });
    // Subscriber mode needs its own connection. It keeps the offline queue so the SUBSCRIBE
    // issued now is sent once connected; ioredis re-subscribes after every reconnect.
    this.subscriber = new Redis(opts.url, { ...common, maxRetriesPerRequest: null });
    for (const [role, conn] of [
      ['client', this.client],
      ['subscriber', this.subscriber],
    ] as const) {
      conn.on('error', (err: unknown) =>
        this.warnings.warn(`${role}:error`, { role, err: errorMessage(err) }, 'cache: Redis connection error'),
      );
    }
    this.firstConnect = new Promise<void>((resolve) => this.client.once('ready', resolve));
    this.firstAttempt = new Promise<void>((resolve) => {
      const settle = () => {
        this.attempted = true;
        resolve();
      };
      this.client.once('ready', settle);
      this.client.once('error', settle);
      this.client.once('close', settle);
    });
    this.subscriber.on('message', (channel: string, message: string) => this.heard(channel, message));
    this.subscribed = this.subscriber.subscribe(this.channel).then(() => undefined);
    // Rejections surface through ready(); never as an unhandled rejection.
    this.subscribed.catch(() => undefined);
  }

  /** Resolves when both connections are up and the announcement channel is subscribed. */
  async ready(): Promise<void> {
    await withTimeout(this.firstConnect, this.connectTimeoutMs, 'Redis did not connect');
    await withTimeout(this.subscribed, this.connectTimeoutMs, 'Redis subscription did not complete');
  }

  async get(space: CacheSpace, key: string): Promise<string | undefined> {
    const value = await (await this.conn()).get(this.slot(space, key));
    return value ?? undefined;
  }

  async getMany(space: CacheSpace, keys: readonly string[]): Promise<(string | undefined)[]> {
    if (keys.length === 0) return [];
    const values = await (await this.conn()).mget(keys.map((k) => this.slot(space, k)));
    return values.map((v) => v ?? undefined);
  }

  async set(space: CacheSpace, key: string, value: string, ttlMs: number, opts: CacheSetOptions = {}): Promise<void> {
    if (!(ttlMs > 0)) throw new RangeError('ttlMs must be > 0');
    const ttl = Math.ceil(ttlMs);
    const conn = await this.conn();
    if (opts.onlyIfAbsent === true) {
      await conn.set(this.slot(space, key), value, 'PX', ttl, 'NX');
      return;
    }
    // One transaction: nobody can see the new value before the announcement is queued.
    const results = await conn
      .multi()
      .set(this.slot(space, key), value, 'PX', ttl)
      .publish(this.channel, this.announcement(space, key, opts))
      .exec();
    throwFirstError(results);
  }

  async delete(space: CacheSpace, key: string, opts: CacheWriteOptions = {}): Promise<void> {
    const results = await (await this.conn())
      .multi()
      .del(this.slot(space, key))
      .publish(this.channel, this.announcement(space, key, opts))
      .exec();
    throwFirstError(results);
  }

  onInvalidated(listener: InvalidationListener): Subscription {
    this.listeners.add(listener);
    return { unsubscribe: () => void this.listeners.delete(listener) };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    await Promise.all([this.client, this.subscriber].map((conn) => closeConnection(conn)));
  }

  /** Deletes every key under this prefix (test cleanup; SCAN, so safe on a shared server). */
  async clearPrefix(): Promise<number> {
    const conn = await this.conn();
    let cursor = '0';
    let deleted = 0;
    do {
      const [next, keys] = await conn.scan(cursor, 'MATCH', `${escapeGlob(this.prefix)}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) deleted += await conn.del(...keys);
    } while (cursor !== '0');
    return deleted;
  }

  private slot(space: CacheSpace, key: string): string {
    return `${this.prefix}${space}:${key}`;
  }

  private announcement(space: CacheSpace, key: string, opts: CacheWriteOptions): string {
    const a: Announcement = { s: space, k: key, o: opts.origin ?? this.origin };
    return JSON.stringify(a);
  }

  private heard(channel: string, message: string): void {
    if (channel !== this.channel) return;
    const a = parseAnnouncement(message);
    if (a === undefined) {
      this.warnings.warn('announcement', { channel }, 'cache: ignored a malformed invalidation message');
      return;
    }
    if (a.o === this.origin) return;
    for (const listener of [...this.listeners]) {
      try {
        listener(a.s, a.k, a.o);
      } catch (err) {
        this.warnings.warn('listener', { err: errorMessage(err) }, 'cache: invalidation listener threw');
      }
    }
  }

  private isReady(): boolean {
    return this.client.status === 'ready';
  }

  /** The command connection, or a rejection when it is unusable (never a long wait). */
  private async conn(): Promise<Redis> {
    if (this.closed) throw new Error('RedisCache is closed');
    if (this.isReady()) return this.client;
    // Only the first connection attempt is worth waiting for; after it, "not ready" means Redis
    // is away, and waiting would make every lookup slow instead of going to the database.
    if (!this.attempted) {
      await withTimeout(this.firstAttempt, this.connectTimeoutMs, 'Redis did not connect');
      if (this.isReady()) return this.client;
    }
    throw new Error(`Redis is not available (connection ${this.client.status})`);
  }
}

function parseAnnouncement(message: string): Announcement | undefined {
  let v: unknown;
  try {
    v = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const { s, k, o } = v as Record<string, unknown>;
  if (typeof s !== 'string' || !isCacheSpace(s) || typeof k !== 'string' || typeof o !== 'string') return undefined;
  return { s, k, o };
}

function throwFirstError(results: [error: Error | null, result: unknown][] | null): void {
  // exec() resolves null when the transaction was discarded.
  if (results === null) throw new Error('Redis transaction aborted');
  for (const [err] of results) if (err !== null) throw err;
}

async function closeConnection(conn: Redis): Promise<void> {
  if (conn.status === 'ready') {
    try {
      await conn.quit();
      return;
    } catch {
      // Fall through: a failed QUIT still needs the socket gone.
    }
  }
  conn.disconnect();
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${message} within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
