// Logins per second through AuthService itself (no HTTP): production argon2id parameters, the
// real SQLite store in a temp dir, memory sessions. Argon2 verification dominates, so this is
// roughly the thread pool's capacity (UV_THREADPOOL_SIZE, default 4) over one verify's cost.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { AuthService } from '../src/auth/accounts.ts';
import { MemoryLoginLimiter } from '../src/auth/limiter.ts';
import { MemorySessions } from '../src/auth/memory-sessions.ts';
import { ARGON2_PARAMS, PasswordHasher } from '../src/auth/passwords.ts';
import { createLogger } from '../src/ops/log.ts';
import { SqliteStore } from '../src/store/sqlite.ts';
import { percentile, progress, round, table } from './util.ts';

export interface LoginsBenchOptions {
  accounts: number;
  seconds: number;
  /** Logins in flight at once. */
  concurrency: number;
}

export interface LoginsBenchResult {
  loginsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

export async function runLoginsBench(opts: LoginsBenchOptions): Promise<LoginsBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'bm-bench-logins-'));
  const store = new SqliteStore(join(dir, 'bench.sqlite3'));
  const sessions = new MemorySessions({ sweepEveryMs: 0 });
  const passwords = new PasswordHasher();
  const auth = new AuthService({
    store,
    sessions,
    // The limits would throttle one client logging in thousands of times; measure the work instead.
    limiter: new MemoryLoginLimiter({
      limits: { addressFailures: Number.MAX_SAFE_INTEGER, accountFailures: Number.MAX_SAFE_INTEGER },
    }),
    logger: createLogger({ level: 'silent' }),
    registry: new Registry(),
    idleMs: sessions.idleMs,
    passwords,
  });
  try {
    await store.migrate();
    const password = 'bench password 1';
    // One hash for all: verifying costs the same for each account, and setup stays short.
    const passwordHash = await passwords.hash(password);
    const usernames: string[] = [];
    for (let i = 0; i < opts.accounts; i++) {
      const username = `bench_${i}`;
      await store.createAccount({ username, email: `bench${i}@example.com`, passwordHash });
      usernames.push(username);
    }

    const latencies: number[] = [];
    let next = 0;
    const start = performance.now();
    const deadline = start + opts.seconds * 1000;
    const worker = async (): Promise<void> => {
      while (performance.now() < deadline) {
        const username = usernames[next++ % usernames.length] ?? 'bench_0';
        const t = performance.now();
        await auth.login({ username, password }, '127.0.0.1');
        latencies.push(performance.now() - t);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, opts.concurrency) }, worker));
    const elapsed = (performance.now() - start) / 1000;
    latencies.sort((a, b) => a - b);
    return {
      loginsPerSecond: latencies.length / elapsed,
      p50Ms: percentile(latencies, 0.5),
      p99Ms: percentile(latencies, 0.99),
    };
  } finally {
    auth.close();
    await sessions.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface LoginsRow extends LoginsBenchResult {
  concurrency: number;
  seconds: number;
}

export interface LoginsResult {
  accounts: number;
  /** UV_THREADPOOL_SIZE in effect (argon2 runs on libuv's pool). */
  threadPool: number;
  rows: LoginsRow[];
}

/** The `logins` scenario: each concurrency in turn, `seconds` each. */
export async function runLogins(opts: {
  concurrencies: readonly number[];
  seconds: number;
  accounts: number;
  signal?: AbortSignal;
}): Promise<LoginsResult> {
  const rows: LoginsRow[] = [];
  for (const concurrency of opts.concurrencies) {
    if (opts.signal?.aborted) break;
    progress(`logins: concurrency ${concurrency}, ${opts.seconds} s, production argon2id`);
    const r = await runLoginsBench({ accounts: opts.accounts, seconds: opts.seconds, concurrency });
    rows.push({
      concurrency,
      seconds: opts.seconds,
      loginsPerSecond: round(r.loginsPerSecond, 1),
      p50Ms: round(r.p50Ms, 1),
      p99Ms: round(r.p99Ms, 1),
    });
  }
  const pool = Number(process.env.UV_THREADPOOL_SIZE);
  return { accounts: opts.accounts, threadPool: Number.isInteger(pool) && pool > 0 ? pool : 4, rows };
}

export function formatLogins(r: LoginsResult): string {
  return table(
    `logins: AuthService.login with production argon2id (${argonParams()}), SQLite, ${r.accounts} accounts, libuv pool ${r.threadPool}`,
    ['concurrency', 'seconds', 'logins/s', 'p50 ms', 'p99 ms'],
    r.rows.map((x) => [x.concurrency, x.seconds, x.loginsPerSecond, x.p50Ms, x.p99Ms]),
  );
}

function argonParams(): string {
  const p = ARGON2_PARAMS;
  return `m=${round((p.memoryCost ?? 0) / 1024, 1)} MiB, t=${p.timeCost ?? '?'}, p=${p.parallelism ?? '?'}`;
}
