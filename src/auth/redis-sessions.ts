// Sessions in Redis, shared by every gateway. Layout (prefix default 'bm:'):
//   <prefix>session:<tokenHash>        hash {playerId, username, createdAtMs, lastSeenAtMs}
//   <prefix>player-sessions:<playerId> set of the player's token hashes (for revokePlayer)
//   <prefix>sessions:ended             pub/sub channel announcing every ended session
// Each change is one Lua script, so a session is ended (and announced) exactly once even when two
// gateways race, e.g. a refresh against a logout. Expiry is decided from lastSeenAtMs against
// the caller's clock (so it is testable and the same as MemorySessions); PEXPIRE of idleMs plus a
// grace period sweeps out abandoned sessions without anyone touching them (silently: nobody
// holds a connection on a session that nobody touched for that long).
// Keys are built inside the scripts, which is fine for one Redis but not for Redis Cluster.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { z } from 'zod';
import type { Logger } from '../ops/log.ts';
import { EndedListeners } from './listeners.ts';
import { DEFAULT_IDLE_MS } from './sessions.ts';
import type { SessionEndReason, SessionEnded, SessionRecord, Sessions } from './sessions.ts';

/** Keys outlive idleMs by this much, so a late touch still finds and announces the expiry. */
const EXPIRY_GRACE_MS = 60_000;

// ARGV: tokenHash, playerId, username, createdAtMs, lastSeenAtMs, ttlMs, sessionPrefix, playerPrefix
const CREATE = `
local old = redis.call('HGET', KEYS[1], 'playerId')
if old and old ~= ARGV[2] then redis.call('SREM', ARGV[8] .. old, ARGV[1]) end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'playerId', ARGV[2], 'username', ARGV[3], 'createdAtMs', ARGV[4], 'lastSeenAtMs', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
for _, h in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if redis.call('EXISTS', ARGV[7] .. h) == 0 then redis.call('SREM', KEYS[2], h) end
end
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[6])
return 1
`;

// ARGV: tokenHash, nowMs, idleMs, ttlMs, playerPrefix, channel, origin
const TOUCH = `
local v = redis.call('HMGET', KEYS[1], 'playerId', 'username', 'createdAtMs', 'lastSeenAtMs')
if not v[1] then return false end
local playerKey = ARGV[5] .. v[1]
if tonumber(ARGV[2]) - tonumber(v[4]) > tonumber(ARGV[3]) then
  redis.call('DEL', KEYS[1])
  redis.call('SREM', playerKey, ARGV[1])
  redis.call('PUBLISH', ARGV[6], cjson.encode({origin = ARGV[7], tokenHash = ARGV[1], playerId = tonumber(v[1]), reason = 'expired'}))
  return {'expired', v[1]}
end
local last = v[4]
if tonumber(ARGV[2]) > tonumber(v[4]) then
  redis.call('HSET', KEYS[1], 'lastSeenAtMs', ARGV[2])
  last = ARGV[2]
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', playerKey, ARGV[4])
return {'ok', v[1], v[2], v[3], last}
`;

// ARGV: tokenHash, reason, playerPrefix, channel, origin
const REVOKE = `
local pid = redis.call('HGET', KEYS[1], 'playerId')
if not pid then return false end
redis.call('DEL', KEYS[1])
redis.call('SREM', ARGV[3] .. pid, ARGV[1])
redis.call('PUBLISH', ARGV[4], cjson.encode({origin = ARGV[5], tokenHash = ARGV[1], playerId = tonumber(pid), reason = ARGV[2]}))
return pid
`;

// ARGV: playerId, reason, sessionPrefix, channel, origin
const REVOKE_PLAYER = `
local ended = {}
for _, h in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('DEL', ARGV[3] .. h) == 1 then
    table.insert(ended, h)
    redis.call('PUBLISH', ARGV[4], cjson.encode({origin = ARGV[5], tokenHash = h, playerId = tonumber(ARGV[1]), reason = ARGV[2]}))
  end
end
redis.call('DEL', KEYS[1])
return ended
`;

const EndedMessage = z.object({
  origin: z.string(),
  tokenHash: z.string(),
  playerId: z.number().int(),
  reason: z.enum(['logout', 'logged_in_elsewhere', 'expired', 'refreshed']),
});

export interface RedisSessionsOptions {
  /** redis://host:port/db */
  url: string;
  /** Prepended to every key and the channel (default 'bm:'); tests use a random one. */
  prefix?: string;
  idleMs?: number;
  /** Connection errors and throwing listeners are reported here. */
  logger?: Logger;
}

export class RedisSessions implements Sessions {
  readonly idleMs: number;
  readonly prefix: string;
  /** Resolves once this instance hears other processes' announcements. */
  readonly ready: Promise<void>;
  private readonly redis: Redis;
  private readonly sub: Redis;
  private readonly channel: string;
  /** Tags our own announcements: local listeners hear those directly, not via the echo. */
  private readonly origin = randomUUID();
  private readonly listeners: EndedListeners;
  private readonly ttlMs: number;

  /** Connects and waits until the subscription is live. */
  static async connect(opts: RedisSessionsOptions): Promise<RedisSessions> {
    const sessions = new RedisSessions(opts);
    try {
      await sessions.ready;
    } catch (err) {
      await sessions.close().catch(() => undefined);
      throw err;
    }
    return sessions;
  }

  constructor(opts: RedisSessionsOptions) {
    this.idleMs = opts.idleMs ?? DEFAULT_IDLE_MS;
    this.prefix = opts.prefix ?? 'bm:';
    this.ttlMs = this.idleMs + EXPIRY_GRACE_MS;
    this.channel = `${this.prefix}sessions:ended`;
    this.listeners = new EndedListeners(opts.logger);
    this.redis = new Redis(opts.url, { maxRetriesPerRequest: 2 });
    // A subscribed connection can issue no other commands, hence a second one.
    this.sub = this.redis.duplicate();
    const logError = (err: Error): void => void opts.logger?.warn({ err: err.message }, 'redis sessions connection error');
    this.redis.on('error', logError);
    this.sub.on('error', logError);
    this.sub.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.heard(message, opts.logger);
    });
    this.ready = this.sub.subscribe(this.channel).then(() => undefined);
    // Callers that never await `ready` must not see an unhandled rejection.
    this.ready.catch(() => undefined);
  }

  async create(session: SessionRecord): Promise<void> {
    await this.redis.eval(
      CREATE,
      2,
      this.sessionKey(session.tokenHash),
      this.playerKey(session.playerId),
      session.tokenHash,
      String(session.playerId),
      session.username,
      String(session.createdAtMs),
      String(session.lastSeenAtMs),
      String(this.ttlMs),
      `${this.prefix}session:`,
      `${this.prefix}player-sessions:`,
    );
  }

  async touch(tokenHash: string, nowMs: number): Promise<SessionRecord | undefined> {
    const reply = (await this.redis.eval(
      TOUCH,
      1,
      this.sessionKey(tokenHash),
      tokenHash,
      String(Math.floor(nowMs)),
      String(this.idleMs),
      String(this.ttlMs),
      `${this.prefix}player-sessions:`,
      this.channel,
      this.origin,
    )) as string[] | null;
    if (reply === null) return undefined;
    if (reply[0] === 'expired') {
      this.listeners.emit({ tokenHash, playerId: Number(reply[1]), reason: 'expired' });
      return undefined;
    }
    const [, playerId, username, createdAtMs, lastSeenAtMs] = reply;
    return {
      tokenHash,
      playerId: Number(playerId),
      username: username ?? '',
      createdAtMs: Number(createdAtMs),
      lastSeenAtMs: Number(lastSeenAtMs),
    };
  }

  async revoke(tokenHash: string, reason: SessionEndReason): Promise<boolean> {
    const pid = (await this.redis.eval(
      REVOKE,
      1,
      this.sessionKey(tokenHash),
      tokenHash,
      reason,
      `${this.prefix}player-sessions:`,
      this.channel,
      this.origin,
    )) as string | null;
    if (pid === null) return false;
    this.listeners.emit({ tokenHash, playerId: Number(pid), reason });
    return true;
  }

  async revokePlayer(playerId: number, reason: SessionEndReason): Promise<string[]> {
    const ended = (await this.redis.eval(
      REVOKE_PLAYER,
      1,
      this.playerKey(playerId),
      String(playerId),
      reason,
      `${this.prefix}session:`,
      this.channel,
      this.origin,
    )) as string[];
    for (const tokenHash of ended) this.listeners.emit({ tokenHash, playerId, reason });
    return ended;
  }

  onEnded(listener: (ended: SessionEnded) => void): { unsubscribe(): void } {
    return this.listeners.add(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
    await Promise.allSettled([this.sub.quit(), this.redis.quit()]);
  }

  private heard(message: string, logger: Logger | undefined): void {
    let parsed: z.infer<typeof EndedMessage>;
    try {
      parsed = EndedMessage.parse(JSON.parse(message));
    } catch {
      logger?.warn('ignored a malformed session announcement');
      return;
    }
    if (parsed.origin === this.origin) return;
    this.listeners.emit({ tokenHash: parsed.tokenHash, playerId: parsed.playerId, reason: parsed.reason, remote: true });
  }

  private sessionKey(tokenHash: string): string {
    return `${this.prefix}session:${tokenHash}`;
  }

  private playerKey(playerId: number): string {
    return `${this.prefix}player-sessions:${playerId}`;
  }
}
