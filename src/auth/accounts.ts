// AuthService: registration, login, refresh, logout and token authentication, in the game's words,
// over the Store (accounts), Sessions (who is logged in) and LoginLimiter ports. HTTP lives in
// routes.ts; the WebSocket handshake calls authenticate() with HELLO's token.
import { Counter } from 'prom-client';
import type { Registry } from 'prom-client';
import type { z } from 'zod';
import type { Logger } from '../ops/log.ts';
import { AccountConflictError } from '../store/store.ts';
import type { Store } from '../store/store.ts';
import type { LoginLimiter } from './limiter.ts';
import { PasswordHasher } from './passwords.ts';
import { LoginRequest, RegisterRequest, firstIssue } from './schemas.ts';
import type { SessionRecord, Sessions } from './sessions.ts';
import { hashToken, looksLikeToken, newToken } from './tokens.ts';

export type AuthErrorCode = 'invalid_input' | 'conflict' | 'bad_credentials' | 'invalid_token' | 'rate_limited';

const STATUS: Record<AuthErrorCode, number> = {
  invalid_input: 400,
  conflict: 409,
  bad_credentials: 401,
  invalid_token: 401,
  rate_limited: 429,
};

/** A refusal the client caused; `status` is the HTTP status it maps to. */
export class AuthError extends Error {
  readonly status: number;
  constructor(
    readonly code: AuthErrorCode,
    message: string,
    /** The offending request field, for invalid_input and conflict. */
    readonly field?: string,
    /** For rate_limited: whole seconds until an attempt may succeed. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'AuthError';
    this.status = STATUS[code];
  }
}

export interface RegisterResult {
  playerId: number;
  username: string;
}

export interface LoginResult {
  /** Give it back as `Authorization: Bearer <token>` and in the WebSocket HELLO. */
  token: string;
  playerId: number;
  username: string;
  /** Inactivity after which the token stops working; any use slides it. */
  expiresInSeconds: number;
}

export interface AuthServiceOptions {
  store: Store;
  sessions: Sessions;
  limiter: LoginLimiter;
  logger: Logger;
  registry: Registry;
  now?: () => number;
  /** Must equal the Sessions adapter's idleMs: it is what expiresInSeconds reports. */
  idleMs: number;
  /** Default: production argon2id parameters. Tests pass `new PasswordHasher({ fast: true })`. */
  passwords?: PasswordHasher;
  /** After an account is stored: the composition root writes the new profile through its caches. */
  onRegistered?: (account: { playerId: number; username: string }) => void;
}

type Op = 'register' | 'login' | 'refresh' | 'logout' | 'authenticate';

/** A counter on `registry`, reused when another service already registered it there. */
function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: L[]): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing instanceof Counter) return existing as Counter<L>;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

export class AuthService {
  readonly idleMs: number;
  private readonly store: Store;
  private readonly sessions: Sessions;
  private readonly limiter: LoginLimiter;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly passwords: PasswordHasher;
  private readonly onRegistered: AuthServiceOptions['onRegistered'];
  private readonly requests: Counter<'op' | 'result'>;
  private readonly ended: Counter<'reason'>;
  private readonly subscription: { unsubscribe(): void };

  constructor(opts: AuthServiceOptions) {
    this.store = opts.store;
    this.sessions = opts.sessions;
    this.limiter = opts.limiter;
    this.logger = opts.logger;
    this.now = opts.now ?? Date.now;
    this.idleMs = opts.idleMs;
    this.passwords = opts.passwords ?? new PasswordHasher();
    this.onRegistered = opts.onRegistered;
    this.requests = counter(opts.registry, 'bluemarble_auth_requests_total', 'Account API requests by operation and result', [
      'op',
      'result',
    ]);
    this.ended = counter(opts.registry, 'bluemarble_sessions_ended_total', 'Sessions ended, by reason', ['reason']);
    // Counted where they end: endings heard from other processes are theirs to count.
    this.subscription = this.sessions.onEnded((e) => {
      if (e.remote !== true) this.ended.inc({ reason: e.reason });
    });
  }

  async register(input: RegisterRequest, remote: string): Promise<RegisterResult> {
    return this.counted('register', async () => {
      const { username, email, password } = this.parse(RegisterRequest, input, 'register', remote);
      const passwordHash = await this.passwords.hash(password);
      try {
        const account = await this.store.createAccount({ username, email: email.toLowerCase(), passwordHash });
        this.logger.info({ playerId: account.playerId, username: account.username, remote }, 'account registered');
        this.onRegistered?.({ playerId: account.playerId, username: account.username });
        return { playerId: account.playerId, username: account.username };
      } catch (err) {
        if (!(err instanceof AccountConflictError)) throw err;
        this.logger.info({ username, remote, field: err.field }, 'registration refused: taken');
        throw new AuthError('conflict', `that ${err.field} is already taken`, err.field);
      }
    });
  }

  async login(input: LoginRequest, remote: string): Promise<LoginResult> {
    return this.counted('login', async () => {
      const { username, password } = this.parse(LoginRequest, input, 'login', remote);

      const decision = await this.limiter.attempt(username, remote);
      if (!decision.allowed) {
        this.logger.warn({ username, remote, scope: decision.scope }, 'login rate limited');
        const who = decision.scope === 'account' ? 'this account' : 'this address';
        throw new AuthError(
          'rate_limited',
          `too many login attempts for ${who}; retry in ${decision.retryAfterSeconds} s`,
          undefined,
          decision.retryAfterSeconds,
        );
      }

      const account = await this.store.findAccountByUsername(username);
      const ok =
        account === undefined
          ? await this.passwords.verifyDummy(password)
          : await this.passwords.verify(account.passwordHash, password);
      if (account === undefined || !ok) {
        await this.limiter.failed(username, remote);
        this.logger.info({ username, remote, known: account !== undefined }, 'login failed');
        throw new AuthError('bad_credentials', 'unknown username or wrong password');
      }
      await this.limiter.succeeded(username);

      // Single login: whatever else holds this account is told to go (its gateway kicks it).
      // Two logins racing across processes can both survive; the next login ends both.
      await this.sessions.revokePlayer(account.playerId, 'logged_in_elsewhere');
      const now = this.now();
      await this.store.recordLogin(account.playerId, now);
      const token = await this.startSession(account.playerId, account.username, now);
      this.logger.info({ playerId: account.playerId, username: account.username, remote }, 'logged in');
      return this.tokenResult(token, account.playerId, account.username);
    });
  }

  /** A new token for a live one; the old one stops working at once (reason 'refreshed'). */
  async refresh(token: string): Promise<LoginResult> {
    return this.counted('refresh', async () => {
      const now = this.now();
      const session = await this.live(token, now);
      // revoke() is atomic: of two refreshes racing with one token, exactly one gets a new one.
      if (session === undefined || !(await this.sessions.revoke(session.tokenHash, 'refreshed'))) {
        throw new AuthError('invalid_token', 'the token is unknown, expired or revoked; log in again');
      }
      const fresh = await this.startSession(session.playerId, session.username, now);
      return this.tokenResult(fresh, session.playerId, session.username);
    });
  }

  /** Ends the token's session. Idempotent: an unknown or already ended token is not an error. */
  async logout(token: string): Promise<void> {
    return this.counted('logout', async () => {
      if (!looksLikeToken(token)) return;
      await this.sessions.revoke(hashToken(token), 'logout');
    });
  }

  /**
   * The live session for a token, sliding its expiry; undefined when it is unknown, expired or
   * revoked. Used by the WebSocket handshake with HELLO's token.
   */
  async authenticate(token: string, nowMs?: number): Promise<SessionRecord | undefined> {
    const session = await this.live(token, nowMs ?? this.now());
    this.requests.inc({ op: 'authenticate', result: session === undefined ? 'invalid_token' : 'ok' });
    return session;
  }

  /** Stops counting ended sessions. Store, sessions and limiter belong to the caller. */
  close(): void {
    this.subscription.unsubscribe();
  }

  private live(token: string, nowMs: number): Promise<SessionRecord | undefined> {
    if (!looksLikeToken(token)) return Promise.resolve(undefined);
    return this.sessions.touch(hashToken(token), nowMs);
  }

  private async startSession(playerId: number, username: string, now: number): Promise<string> {
    const token = newToken();
    await this.sessions.create({ tokenHash: hashToken(token), playerId, username, createdAtMs: now, lastSeenAtMs: now });
    return token;
  }

  private tokenResult(token: string, playerId: number, username: string): LoginResult {
    return { token, playerId, username, expiresInSeconds: Math.floor(this.idleMs / 1000) };
  }

  private parse<T>(schema: z.ZodType<T>, input: unknown, op: Op, remote: string): T {
    const result = schema.safeParse(input);
    if (result.success) return result.data;
    const { field, message } = firstIssue(result.error);
    // Not the input itself: it may be a password or arbitrary junk.
    this.logger.info({ op, remote, field }, 'invalid input');
    throw new AuthError('invalid_input', message, field);
  }

  private async counted<T>(op: Op, run: () => Promise<T>): Promise<T> {
    try {
      const value = await run();
      this.requests.inc({ op, result: 'ok' });
      return value;
    } catch (err) {
      this.requests.inc({ op, result: err instanceof AuthError ? err.code : 'error' });
      if (!(err instanceof AuthError)) this.logger.error({ err, op }, 'auth operation failed');
      throw err;
    }
  }
}

