// Accounts for load-test bots: one account per bot, created on the first run and reused after.
// Bot i is `${prefix}${first + i}` with the email `${username}@bots.bluemarble.invalid`.
//
// Failed logins count against the address (docs/api.md, Rate limits: 20 a minute), and every bot
// logs in from the same one, so a first run must not try-and-fail a login per bot: after the
// first 401 (accounts missing) bots register first and log in after (a 409 then means "exists",
// which sends bots back to logging in first). Either way at most `concurrency` logins fail.
export const BOT_EMAIL_DOMAIN = 'bots.bluemarble.invalid';
export const DEFAULT_BOT_PASSWORD = 'bluemarble-bots-password';

/** A 429 asking for a longer wait than this is not waited for (an account locked for 15 minutes). */
const MAX_RETRY_WAIT_S = 65;
/** 429s waited for per bot before giving up. */
const MAX_RETRIES = 5;
const REQUEST_TIMEOUT_MS = 30_000;

/** A bot could not get a token; the message says why and what to do. */
export class BotAccountsError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BotAccountsError';
  }
}

export interface BotTokensOptions {
  /** The server's HTTP base URL, e.g. http://127.0.0.1:8080 (see httpBaseUrl). */
  httpUrl: string;
  prefix: string;
  /** Index of the first bot: usernames run prefix+first .. prefix+(first+count-1). */
  first: number;
  count: number;
  password: string;
  /** Logins in flight at once (default 8: each costs the server an argon2 verification). */
  concurrency?: number;
  signal?: AbortSignal;
  /** Called with the number of tokens obtained so far, after each one. */
  onProgress?: (done: number) => void;
}

/** The account API's base URL for a game WebSocket URL: ws→http, wss→https, a trailing /ws dropped. */
export function httpBaseUrl(wsUrl: string): string {
  const u = new URL(wsUrl);
  if (u.protocol === 'ws:') u.protocol = 'http:';
  else if (u.protocol === 'wss:') u.protocol = 'https:';
  else if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new RangeError(`not a ws:// or wss:// URL: '${wsUrl}'`);
  const path = u.pathname.replace(/\/ws\/?$/, '').replace(/\/+$/, '');
  return `${u.origin}${path}`;
}

/**
 * Why `prefix` cannot name bots first..first+count-1 as accounts (usernames are 3–20 characters
 * of A–Z a–z 0–9 _), or undefined when it can.
 */
export function botPrefixProblem(prefix: string, first: number, count: number): string | undefined {
  if (!/^[A-Za-z0-9_]+$/.test(prefix)) {
    return `bot name prefix '${prefix}' must be letters, digits or _ only (account usernames are [A-Za-z0-9_], 3-20 characters)`;
  }
  const last = `${prefix}${first + count - 1}`;
  if (last.length > 20) {
    return `bot name prefix '${prefix}' is too long for ${first + count} bots: '${last}' is over 20 characters (the username limit)`;
  }
  if (`${prefix}${first}`.length < 3) {
    return `bot name prefix '${prefix}' is too short: '${prefix}${first}' is under 3 characters (the username minimum)`;
  }
  return undefined;
}

interface ApiReply {
  status: number;
  body: { error?: unknown; message?: unknown; token?: unknown; retryAfterSeconds?: unknown };
  retryAfterS: number | undefined;
}

function describeFetchError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause as { code?: unknown; message?: unknown } | undefined;
  if (cause && typeof cause.code === 'string') return `${err.message} (${cause.code})`;
  if (cause && typeof cause.message === 'string') return `${err.message} (${cause.message})`;
  return err.message;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Logs every bot in and returns its session token, index-aligned (token i is for bot first+i).
 * Accounts that do not exist yet are registered with `password`; existing ones are reused.
 * Rejects with BotAccountsError when a bot cannot get one: the server is unreachable, an account
 * exists with another password, or the server keeps answering 429.
 */
export async function botTokens(opts: BotTokensOptions): Promise<string[]> {
  const { httpUrl, prefix, first, count, password, signal } = opts;
  if (!Number.isInteger(first) || first < 0) throw new BotAccountsError(`first must be a non-negative integer, got ${first}`);
  if (!Number.isInteger(count) || count < 0) throw new BotAccountsError(`count must be a non-negative integer, got ${count}`);
  const problem = botPrefixProblem(prefix, first, Math.max(1, count));
  if (problem !== undefined) throw new BotAccountsError(problem);
  if (password.length < 8 || password.length > 128) {
    throw new BotAccountsError('the bot password must be 8-128 characters (--bot-password)');
  }
  const concurrency = opts.concurrency ?? 8;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new BotAccountsError(`concurrency must be a positive integer, got ${concurrency}`);
  const base = httpUrl.replace(/\/+$/, '');

  // Shared by all lanes: true once accounts turned out to be missing (see the header comment).
  let registerFirst = false;
  let failure: unknown;
  const inner = new AbortController();
  const onOuterAbort = (): void => inner.abort(signal?.reason);
  signal?.addEventListener('abort', onOuterAbort, { once: true });

  async function call(path: string, body: unknown): Promise<ApiReply> {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.any([inner.signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
      });
    } catch (err) {
      if (inner.signal.aborted) throw err;
      throw new BotAccountsError(`cannot reach ${base}${path}: ${describeFetchError(err)}`, { cause: err });
    }
    const text = await res.text();
    let parsed: ApiReply['body'] = {};
    try {
      parsed = text === '' ? {} : (JSON.parse(text) as ApiReply['body']);
    } catch {
      parsed = {};
    }
    const header = Number(res.headers.get('retry-after'));
    const fromBody = typeof parsed.retryAfterSeconds === 'number' ? parsed.retryAfterSeconds : undefined;
    return { status: res.status, body: parsed ?? {}, retryAfterS: Number.isFinite(header) && header > 0 ? header : fromBody };
  }

  function unexpected(what: string, username: string, r: ApiReply): BotAccountsError {
    const msg = typeof r.body.message === 'string' ? `: ${r.body.message}` : '';
    const code = typeof r.body.error === 'string' ? ` ${r.body.error}` : '';
    return new BotAccountsError(`${what} for bot '${username}' failed with HTTP ${r.status}${code}${msg}`);
  }

  /** One request, waiting out 429s (bounded). */
  async function withRetries(path: string, body: unknown, username: string): Promise<ApiReply> {
    for (let attempt = 0; ; attempt++) {
      const r = await call(path, body);
      if (r.status !== 429) return r;
      const wait = r.retryAfterS ?? 1;
      if (wait > MAX_RETRY_WAIT_S || attempt >= MAX_RETRIES) {
        throw new BotAccountsError(
          `the server rate-limits logins for bot '${username}' (retry in ${wait} s${attempt > 0 ? ` after ${attempt} retries` : ''}): ` +
            `${typeof r.body.message === 'string' ? r.body.message : 'rate_limited'}; try again later`,
        );
      }
      await sleep(wait * 1000, inner.signal);
    }
  }

  async function login(username: string): Promise<string | undefined> {
    const r = await withRetries('/api/login', { username, password }, username);
    if (r.status === 200 && typeof r.body.token === 'string') return r.body.token;
    if (r.status === 401 && r.body.error === 'bad_credentials') return undefined;
    throw unexpected('login', username, r);
  }

  /** True when created, false when the username (or its email) is taken. */
  async function register(username: string): Promise<boolean> {
    const email = `${username}@${BOT_EMAIL_DOMAIN}`;
    const r = await withRetries('/api/register', { username, email, password }, username);
    if (r.status === 201) return true;
    if (r.status === 409) return false;
    throw unexpected('registration', username, r);
  }

  const wrongPassword = (username: string): BotAccountsError =>
    new BotAccountsError(
      `bot account '${username}' already exists with another password: pass the password it was created with ` +
        `(--bot-password), or choose another --name-prefix`,
    );

  async function tokenFor(username: string): Promise<string> {
    if (!registerFirst) {
      const token = await login(username);
      if (token !== undefined) return token;
      registerFirst = true; // this account is missing: the next ones probably are too
      if (!(await register(username))) throw wrongPassword(username);
      const fresh = await login(username);
      if (fresh === undefined) throw wrongPassword(username);
      return fresh;
    }
    const created = await register(username);
    const token = await login(username);
    if (token === undefined) throw wrongPassword(username);
    if (!created) registerFirst = false; // accounts exist again: log in first
    return token;
  }

  const tokens = new Array<string>(count);
  let next = 0;
  let done = 0;
  const lane = async (): Promise<void> => {
    while (failure === undefined && next < count) {
      const i = next++;
      tokens[i] = await tokenFor(`${prefix}${first + i}`);
      done++;
      opts.onProgress?.(done);
    }
  };
  try {
    await Promise.all(
      Array.from({ length: Math.min(concurrency, count) }, () =>
        lane().catch((err: unknown) => {
          // The first failure stops every lane; later ones (aborts it caused) are not news.
          if (failure === undefined) failure = err;
          inner.abort(err);
        }),
      ),
    );
  } finally {
    signal?.removeEventListener('abort', onOuterAbort);
  }
  if (failure !== undefined) throw failure;
  return tokens;
}
