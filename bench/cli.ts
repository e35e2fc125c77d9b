// `bluemarble bench [scenario...] [--json] [--quick]`: runs the benchmarks, progress on stderr,
// one table per scenario on stdout, and with --json one JSON object as the last stdout line.
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { redactUrl } from '../src/store/postgres.ts';
import { killAllChildren } from './proc.ts';
import { formatAoiOff, formatSockets, runAoiOff, runSockets } from './sockets.ts';
import type { AoiOffResult, SocketsResult } from './sockets.ts';
import { formatFloor, runFloor } from './floor.ts';
import type { FloorResult } from './floor.ts';
import { formatLogins, runLogins } from './logins.ts';
import type { LoginsResult } from './logins.ts';
import { formatSaveTick, runSaveTick } from './save-tick.ts';
import { formatCache, runCache } from './cache.ts';
import type { CacheResult } from './cache.ts';
import type { SaveTickResult } from './save-tick.ts';
import { formatSaves, runSavesBench } from './saves.ts';
import type { SavesResult } from './saves.ts';
import { formatTick, runTick } from './tick.ts';
import type { TickResult } from './tick.ts';
import { progress, round } from './util.ts';
import { parseBotsNice } from '../src/loadtest/runner.ts';

const SCENARIOS = ['tick', 'sockets', 'dense', 'aoi-off', 'ws-floor', 'saves', 'logins', 'save-tick', 'cache'] as const;
type Scenario = (typeof SCENARIOS)[number];
const DEFAULT_SCENARIOS: Scenario[] = ['tick', 'sockets', 'aoi-off'];
/** Where the persistence scenarios find PostgreSQL (the same variable as the test suites). */
const POSTGRES_URL = process.env.BLUEMARBLE_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test';

const USAGE = `Usage: bluemarble bench [scenario...] [options]

Scenarios (default: tick sockets aoi-off):
  tick       in-process tick cost per player, dense crowd, 1k/5k/20k players (--quick: 1k/5k)
  sockets    server + bots over loopback, client steps 500..3000 (--quick: 200, 500), then dense
  dense      only the dense variant of sockets: 50 clients + 60 NPCs packed together
  aoi-off    bytes per client with area of interest on vs effectively off, 1,000 clients (--quick: 200)
  ws-floor   the same message traffic through bare ws with no game: CPU floor per client (2,000 sockets),
             with ws clients, then with the bots' hand-written wire clients (--counts N: N sockets)
  saves      write-behind batch throughput, SQLite (worker thread) and PostgreSQL:
             10,000 players x 10 batches (--quick: 2,000 x 3)
  logins     AuthService logins/s with production argon2id, concurrency 1 and 4, 5 s each (--quick: 2 s)
  save-tick  tick timings while batches of 10,000 saves are written: 1,000 live players at 20 Hz,
             3 x (5 s idle + 5 s saving, a batch every second) per store (--quick: 1 x (2 s + 2 s))
  cache      L1/L2 hit rates for profiles and item definitions while 1,000 bots with accounts
             play and look up nameplates and items, 30 s (--quick: 100 bots, 10 s; --counts N
             sets the bots; BLUEMARBLE_BENCH_REDIS=redis://... adds the Redis L2)

PostgreSQL (saves, save-tick) is at $BLUEMARBLE_TEST_POSTGRES, default
postgres://postgres@127.0.0.1:5432/test; when it is not reachable its rows say so and are skipped.

Options:
  --quick            small, fast forms of each scenario (a smoke test)
  --json             also print all figures as one JSON object on the last stdout line
  --counts N,N,...   client counts for sockets (first one for aoi-off)
  --bot-procs N      bots processes per run (default: 1, or 2 above 1,000 clients)
  --bots-nice N      sockets, aoi-off: run the bots processes at this nice value (0..19, default 0),
                     so that on a machine shared with the server the load generator yields the CPU
                     to the server it measures; the server's own work is unchanged
  --repeat N         sockets: run each client count N times (1..9, default 1); a count is held
                     when more than half of its runs held, and the medians are printed
  --server-args=".." extra flags for every server started, e.g. --server-args="--zone-threads 1"
  --players N        saves: players per batch; save-tick: saves per batch (default 10,000; saves --quick: 2,000)
  --live N           save-tick: live players in the zones (default 1,000)
  --seconds S        logins: seconds per concurrency; save-tick: length of each idle/saving window
  -h, --help         show this help

Progress goes to stderr, results to stdout. Child processes are killed on exit and on Ctrl+C.
`;

interface BenchArgs {
  scenarios: Scenario[];
  quick: boolean;
  json: boolean;
  counts: number[] | undefined;
  botProcs: number;
  botsNice: number;
  /** sockets: runs per client count. */
  repeat: number;
  serverArgs: string[];
  players: number | undefined;
  live: number | undefined;
  seconds: number | undefined;
}

function intOption(name: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min || v > max) throw new UsageError(`--${name} must be an integer ${min}..${max}, got '${raw}'`);
  return v;
}

class UsageError extends Error {}

function parseBenchArgs(argv: string[]): BenchArgs | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        quick: { type: 'boolean' },
        json: { type: 'boolean' },
        counts: { type: 'string' },
        'bot-procs': { type: 'string' },
        'bots-nice': { type: 'string' },
        repeat: { type: 'string' },
        'server-args': { type: 'string' },
        players: { type: 'string' },
        live: { type: 'string' },
        seconds: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  for (const p of positionals) {
    if (!(SCENARIOS as readonly string[]).includes(p)) {
      throw new UsageError(`unknown scenario '${p}': choose from ${SCENARIOS.join(', ')}`);
    }
  }
  let counts: number[] | undefined;
  if (values.counts !== undefined) {
    counts = values.counts.split(',').map((s) => Number(s.trim()));
    if (counts.some((n) => !Number.isInteger(n) || n < 1 || n > 100_000)) {
      throw new UsageError(`--counts must be a comma-separated list of integers 1..100000, got '${values.counts}'`);
    }
  }
  const botProcs = values['bot-procs'] === undefined ? 0 : Number(values['bot-procs']);
  if (!Number.isInteger(botProcs) || botProcs < 0 || botProcs > 8) {
    throw new UsageError(`--bot-procs must be an integer 1..8, got '${values['bot-procs']}'`);
  }
  let botsNice: number;
  try {
    botsNice = parseBotsNice(values['bots-nice']);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const scenarios = positionals.length > 0 ? [...new Set(positionals as Scenario[])] : DEFAULT_SCENARIOS;
  const serverArgs = (values['server-args'] ?? '').split(/\s+/).filter((a) => a.length > 0);
  const players = intOption('players', values.players, 1, 1_000_000);
  const live = intOption('live', values.live, 1, 100_000);
  const repeat = intOption('repeat', values.repeat, 1, 9) ?? 1;
  let seconds: number | undefined;
  if (values.seconds !== undefined) {
    seconds = Number(values.seconds);
    if (!Number.isFinite(seconds) || seconds < 0.1 || seconds > 3600) {
      throw new UsageError(`--seconds must be a number 0.1..3600, got '${values.seconds}'`);
    }
  }
  return {
    scenarios,
    quick: values.quick ?? false,
    json: values.json ?? false,
    counts,
    botProcs,
    botsNice,
    repeat,
    serverArgs,
    players,
    live,
    seconds,
  };
}

interface BenchReport {
  command: string;
  quick: boolean;
  startedAt: string;
  seconds: number;
  machine: { cpus: number; model: string; node: string; loadAvg1mAtStart: number };
  tick?: TickResult;
  sockets?: SocketsResult;
  'aoi-off'?: AoiOffResult;
  'ws-floor'?: FloorResult;
  saves?: SavesResult;
  logins?: LoginsResult;
  'save-tick'?: SaveTickResult;
  cache?: CacheResult;
  interrupted?: boolean;
}

/** Runs `bluemarble bench`; resolves with the exit code (0 ok, 1 failed, 2 usage, 130 interrupted). */
export async function benchCommand(argv: string[]): Promise<number> {
  let args: BenchArgs | 'help';
  try {
    args = parseBenchArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`bluemarble bench: ${err.message}\nRun 'bluemarble bench --help' for usage.\n`);
    return 2;
  }
  if (args === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }

  // Children die with us however we end: normal exit, thrown error, Ctrl+C or kill.
  const abort = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    progress(`${sig}: stopping, killing child processes`);
    abort.abort();
    killAllChildren();
    process.exit(130);
  };
  process.on('exit', killAllChildren);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const startedAt = performance.now();
  const report: BenchReport = {
    command: `bluemarble bench ${argv.join(' ')}`.trim(),
    quick: args.quick,
    startedAt: new Date().toISOString(),
    seconds: 0,
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version, loadAvg1mAtStart: round(loadavg()[0] ?? 0, 2) },
  };
  const socketOpts = {
    quick: args.quick,
    signal: abort.signal,
    botProcs: args.botProcs,
    botsNice: args.botsNice,
    repeat: args.repeat,
    counts: args.counts,
    serverArgs: args.serverArgs,
  };
  let code = 0;
  try {
    for (const s of args.scenarios) {
      if (abort.signal.aborted) break;
      const t0 = performance.now();
      switch (s) {
        case 'tick':
          report.tick = await runTick({ quick: args.quick, signal: abort.signal });
          process.stdout.write(`\n${formatTick(report.tick)}`);
          break;
        case 'sockets':
          report.sockets = await runSockets(socketOpts);
          process.stdout.write(`\n${formatSockets(report.sockets)}`);
          break;
        case 'dense': {
          // Only the dense run: no client steps.
          const r = await runSockets({ ...socketOpts, counts: [] });
          report.sockets = r;
          process.stdout.write(`\n${formatSockets(r)}`);
          break;
        }
        case 'ws-floor':
          report['ws-floor'] = await runFloor({ quick: args.quick, signal: abort.signal, counts: args.counts });
          process.stdout.write(`\n${formatFloor(report['ws-floor'])}`);
          break;
        case 'aoi-off':
          report['aoi-off'] = await runAoiOff(socketOpts);
          process.stdout.write(`\n${formatAoiOff(report['aoi-off'])}`);
          break;
        case 'saves': {
          const players = args.players ?? (args.quick ? 2000 : 10_000);
          const batches = args.quick ? 3 : 10;
          progress(`saves: ${players} players x ${batches} batches, sqlite then postgres at ${redactUrl(POSTGRES_URL)}`);
          const rows = await runSavesBench({ players, batches, postgresUrl: POSTGRES_URL });
          report.saves = { players, batches, rows };
          process.stdout.write(`\n${formatSaves(report.saves)}`);
          break;
        }
        case 'logins':
          report.logins = await runLogins({
            concurrencies: [1, 4],
            seconds: args.seconds ?? (args.quick ? 2 : 5),
            accounts: 100,
            signal: abort.signal,
          });
          process.stdout.write(`\n${formatLogins(report.logins)}`);
          break;
        case 'save-tick':
          report['save-tick'] = await runSaveTick({
            quick: args.quick,
            signal: abort.signal,
            postgresUrl: POSTGRES_URL,
            ...(args.players !== undefined && { batchSize: args.players }),
            ...(args.live !== undefined && { live: args.live }),
            ...(args.seconds !== undefined && { windowMs: args.seconds * 1000 }),
          });
          process.stdout.write(`\n${formatSaveTick(report['save-tick'])}`);
          break;
        case 'cache':
          report.cache = await runCache({
            clients: args.counts?.[0] ?? (args.quick ? 100 : 1000),
            durationS: args.seconds ?? (args.quick ? 10 : 30),
            ...(process.env.BLUEMARBLE_BENCH_REDIS && { redis: process.env.BLUEMARBLE_BENCH_REDIS }),
            signal: abort.signal,
          });
          process.stdout.write(`\n${formatCache(report.cache)}`);
          break;
      }
      progress(`${s}: done in ${Math.round((performance.now() - t0) / 1000)} s`);
    }
  } catch (err) {
    process.stderr.write(`bluemarble bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    code = 1;
  } finally {
    killAllChildren();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
  report.seconds = Math.round((performance.now() - startedAt) / 1000);
  if (abort.signal.aborted) report.interrupted = true;
  if (args.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  return code;
}
