// Login attempt limiting. Two independent limits, both fixed windows that open at the first
// counted event and close windowMs later:
//  - per account: 5 failed logins per 15 minutes. Slows online guessing of one account's password
//    to 20 guesses an hour whatever the number of addresses used. A success clears the count.
//    Trade-off: anyone can lock an account for 15 minutes by failing 5 times; the owner is told
//    when to retry. Counted for unknown usernames too, so the answer never reveals existence.
//  - per remote address: 20 FAILED logins per minute, across all accounts. Stops one client from
//    spraying passwords across many accounts. Successful logins are never counted or refused, so
//    many players behind one address (a NAT'd LAN party, a load test's 1,000 bots on 127.0.0.1)
//    can all log in. A success does not clear the address's failures (else a sprayer holding one
//    valid account could reset its count). IPv6 addresses count per /64, since one host usually
//    owns a whole /64.
// Checking and counting are separate steps, so logins racing from one address can overshoot a
// limit by at most the number in flight (each costs the server a password hash, which bounds it).
// Adapters: MemoryLoginLimiter (one process) and RedisLoginLimiter (several gateways share counts).
// Contract tests: test/contract/sessions.contract.ts (limiterContract).
import { isIPv6 } from 'node:net';
import { Redis } from 'ioredis';
import type { Logger } from '../ops/log.ts';

export interface LoginLimits {
  accountFailures: number;
  accountWindowMs: number;
  addressFailures: number;
  addressWindowMs: number;
}

export const DEFAULT_LOGIN_LIMITS: Readonly<LoginLimits> = Object.freeze({
  accountFailures: 5,
  accountWindowMs: 15 * 60_000,
  addressFailures: 20,
  addressWindowMs: 60_000,
});

export type LimitScope = 'account' | 'address';

export type LimitDecision =
  | { allowed: true }
  | { allowed: false; scope: LimitScope; /** whole seconds, at least 1 */ retryAfterSeconds: number };

export interface LoginLimiter {
  /**
   * Says whether a login for `username` from `remote` may proceed: refused when the address or
   * the account has used up its failures. Counts nothing (only failures count).
   */
  attempt(username: string, remote: string): Promise<LimitDecision>;
  /** Records a failed login (wrong password or unknown user) against the account and the address. */
  failed(username: string, remote: string): Promise<void>;
  /** A successful login clears the account's failures (not the address's). */
  succeeded(username: string): Promise<void>;
  close(): Promise<void>;
}

/** Usernames are unique case-insensitively, so their failures are counted that way too. */
export function accountKey(username: string): string {
  return username.toLowerCase();
}

/** The address a limit is keyed by: IPv4 as is (also when IPv4-mapped), IPv6 by its /64. */
export function addressKey(remote: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remote);
  if (mapped?.[1] !== undefined) return mapped[1];
  if (!isIPv6(remote)) return remote;
  const [head = '', tail] = (remote.split('%')[0] ?? '').split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => g.toLowerCase().replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

function toSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

interface Window {
  count: number;
  resetAtMs: number;
}

export interface MemoryLoginLimiterOptions {
  limits?: Partial<LoginLimits>;
  now?: () => number;
}

export class MemoryLoginLimiter implements LoginLimiter {
  private readonly limits: LoginLimits;
  private readonly now: () => number;
  private readonly accounts = new Map<string, Window>();
  private readonly addresses = new Map<string, Window>();
  private opsSinceSweep = 0;

  constructor(opts: MemoryLoginLimiterOptions = {}) {
    this.limits = { ...DEFAULT_LOGIN_LIMITS, ...opts.limits };
    this.now = opts.now ?? Date.now;
  }

  async attempt(username: string, remote: string): Promise<LimitDecision> {
    const now = this.now();
    this.maybeSweep(now);
    const address = this.live(this.addresses, addressKey(remote), now);
    if (address !== undefined && address.count >= this.limits.addressFailures) {
      return { allowed: false, scope: 'address', retryAfterSeconds: toSeconds(address.resetAtMs - now) };
    }
    const account = this.live(this.accounts, accountKey(username), now);
    if (account !== undefined && account.count >= this.limits.accountFailures) {
      return { allowed: false, scope: 'account', retryAfterSeconds: toSeconds(account.resetAtMs - now) };
    }
    return { allowed: true };
  }

  async failed(username: string, remote: string): Promise<void> {
    const now = this.now();
    this.maybeSweep(now);
    this.bump(this.accounts, accountKey(username), this.limits.accountWindowMs, now);
    this.bump(this.addresses, addressKey(remote), this.limits.addressWindowMs, now);
  }

  async succeeded(username: string): Promise<void> {
    this.accounts.delete(accountKey(username));
  }

  async close(): Promise<void> {
    this.accounts.clear();
    this.addresses.clear();
  }

  private live(map: Map<string, Window>, key: string, now: number): Window | undefined {
    const w = map.get(key);
    if (w === undefined) return undefined;
    if (w.resetAtMs <= now) {
      map.delete(key);
      return undefined;
    }
    return w;
  }

  private bump(map: Map<string, Window>, key: string, windowMs: number, now: number): Window {
    let w = this.live(map, key, now);
    if (w === undefined) {
      w = { count: 0, resetAtMs: now + windowMs };
      map.set(key, w);
    }
    w.count++;
    return w;
  }

  /** Drops closed windows now and then, so addresses seen once do not accumulate forever. */
  private maybeSweep(now: number): void {
    if (++this.opsSinceSweep < 1000) return;
    this.opsSinceSweep = 0;
    for (const map of [this.accounts, this.addresses]) {
      for (const [key, w] of map) if (w.resetAtMs <= now) map.delete(key);
    }
  }
}

// Both counts and their expiries are read in one script (one consistent snapshot, one round trip).
// Time is Redis' own clock.
const CHECK_SCRIPT = `
local addrFailures = tonumber(redis.call('GET', KEYS[1]) or '0')
local addrTtl = redis.call('PTTL', KEYS[1])
local acctFailures = tonumber(redis.call('GET', KEYS[2]) or '0')
local acctTtl = redis.call('PTTL', KEYS[2])
return {addrFailures, addrTtl, acctFailures, acctTtl}
`;

// A failure counts against the address and the account in one script, so concurrent gateways
// never lose an increment and each window's expiry is set exactly once, by the failure that
// opened it.
const FAIL_SCRIPT = `
local a = redis.call('INCR', KEYS[1])
if a == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local b = redis.call('INCR', KEYS[2])
if b == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
return {a, b}
`;

export interface RedisLoginLimiterOptions {
  /** redis://host:port/db */
  url: string;
  /** Prepended to every key (default 'bm:'), so tests and deployments can share a Redis. */
  prefix?: string;
  limits?: Partial<LoginLimits>;
  /** Connection errors are reported here (a failed command also rejects the login with a 500). */
  logger?: Logger;
}

export class RedisLoginLimiter implements LoginLimiter {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly limits: LoginLimits;

  constructor(opts: RedisLoginLimiterOptions) {
    this.redis = new Redis(opts.url, { maxRetriesPerRequest: 2 });
    this.redis.on('error', (err: Error) => opts.logger?.warn({ err: err.message }, 'redis login limiter connection error'));
    this.prefix = opts.prefix ?? 'bm:';
    this.limits = { ...DEFAULT_LOGIN_LIMITS, ...opts.limits };
  }

  async attempt(username: string, remote: string): Promise<LimitDecision> {
    const reply = (await this.redis.eval(CHECK_SCRIPT, 2, this.addressRedisKey(remote), this.accountRedisKey(username))) as [
      number,
      number,
      number,
      number,
    ];
    const [addressFailures, addressTtl, accountFailures, accountTtl] = reply;
    if (addressFailures >= this.limits.addressFailures) {
      return { allowed: false, scope: 'address', retryAfterSeconds: toSeconds(addressTtl) };
    }
    if (accountFailures >= this.limits.accountFailures) {
      return { allowed: false, scope: 'account', retryAfterSeconds: toSeconds(accountTtl) };
    }
    return { allowed: true };
  }

  async failed(username: string, remote: string): Promise<void> {
    await this.redis.eval(
      FAIL_SCRIPT,
      2,
      this.addressRedisKey(remote),
      this.accountRedisKey(username),
      String(this.limits.addressWindowMs),
      String(this.limits.accountWindowMs),
    );
  }

  async succeeded(username: string): Promise<void> {
    await this.redis.del(this.accountRedisKey(username));
  }

  async close(): Promise<void> {
    await this.redis.quit();
  }

  private accountRedisKey(username: string): string {
    return `${this.prefix}login:account:${accountKey(username)}`;
  }

  private addressRedisKey(remote: string): string {
    // Not 'login:address:', which counted attempts before: old and new counts never mix.
    return `${this.prefix}login:address-failures:${addressKey(remote)}`;
  }
}
