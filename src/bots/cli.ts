// `bluemarble bots`: argument parsing, live progress on stderr, summary on stdout.
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import type { Worker } from 'node:worker_threads';
import { startTsWorker } from '../ops/ts-worker.ts';
import type { WebSocketLike } from '../client/connection.ts';
import { BOT_SOCKET_KINDS, botSocketFactory, defaultBotSocketKind } from './socket.ts';
import type { BotSocketKind } from './socket.ts';
import { BotAccountsError, DEFAULT_BOT_PASSWORD, botPrefixProblem, botTokens, httpBaseUrl } from './accounts.ts';
import { BotsConnectError, combineProgress, runBots, summarizeBots } from './bots.ts';
import type { BotProgress, BotRawResult, BotSummary } from './bots.ts';
import type { BotsWorkerCommand, BotsWorkerInput, BotsWorkerMessage } from './worker.ts';

const USAGE = `Usage: bluemarble bots [options]

Connects simulated players that walk around, and reports traffic and latency.

By default each bot plays with its own account, <prefix><index> (bot0, bot1, ...): accounts that
do not exist yet are registered (email <name>@bots.bluemarble.invalid) and reused on later runs.
All bots log in before the measured run starts. Bot accounts are for load testing: do not create
them on a server with real players. With accounts, bots also fetch what a game client fetches for
nameplates and tooltips (GET /api/players/:id, /api/items/:id), which exercises the server's caches.

Options:
  --url URL            server WebSocket URL (default ws://127.0.0.1:8080/ws)
  --count N            number of bots (default 200)
  --duration S         measured seconds, after ramp-up (default 30)
  --ramp S             seconds over which bots connect (default min(10, count/100))
  --seed N             random seed for reproducible walks (default: time based)
  --name-prefix P      bot names (and account usernames) are P0, P1, ... (default bot);
                       with accounts: letters, digits and _ only, names at most 20 characters
  --guest              connect as guests, without accounts (for servers started with
                       --guests true, as the benchmarks do)
  --bot-password P     password of the bot accounts (default ${DEFAULT_BOT_PASSWORD});
                       accounts created with another password are refused, not changed
  --no-lookups         do not fetch player profiles and item definitions
  --input-timing T     aligned (default): each input is timed to reach the server just before
                       its tick (input-to-update latency of about the margin plus the frame's
                       trip); free: one input per tick at the bot's own phase
  --socket S           WebSocket client: wire (default), a minimal hand-written client over
                       node:net that costs the bots less CPU per message; or ws, the ws
                       package (for comparison, and the default for wss:// URLs: wire speaks
                       no TLS)
  --workers N          split the bots over N worker threads (default 1; use more when
                       one core cannot keep up: watch 'late scheduler ticks')
  --json               also print the summary as one JSON object on the last stdout line
  -h, --help           show this help
`;

/** Where the command writes; injectable for tests. */
export interface BotsCommandIO {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown; isTTY?: boolean };
  /** Test hook: replaces the socket factory (--socket) in this thread; worker threads still use --socket. */
  createSocket?: (url: string) => WebSocketLike;
  /** Test hook: stop early (the CLI also stops on SIGINT). */
  signal?: AbortSignal;
}

class UsageError extends Error {}

interface BotsArgs {
  url: string;
  count: number;
  durationS: number;
  rampS: number | undefined;
  seed: number | undefined;
  namePrefix: string;
  json: boolean;
  workers: number;
  guest: boolean;
  botPassword: string;
  lookups: boolean;
  inputTiming: 'aligned' | 'free';
  socket: BotSocketKind;
}

function parseNumber(flag: string, raw: string | undefined, opts: { integer?: boolean; min: number; minExclusive?: boolean }): number | undefined {
  if (raw === undefined) return undefined;
  const v = raw.trim() === '' ? NaN : Number(raw);
  const kind = opts.integer ? 'an integer' : 'a number';
  if (!Number.isFinite(v) || (opts.integer && !Number.isInteger(v))) throw new UsageError(`--${flag} must be ${kind}, got '${raw}'`);
  if (opts.minExclusive ? v <= opts.min : v < opts.min) {
    throw new UsageError(`--${flag} must be ${opts.minExclusive ? '>' : '>='} ${opts.min}, got ${raw}`);
  }
  return v;
}

function parseBotsArgs(argv: string[]): BotsArgs | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        url: { type: 'string' },
        count: { type: 'string' },
        duration: { type: 'string' },
        ramp: { type: 'string' },
        seed: { type: 'string' },
        'name-prefix': { type: 'string' },
        json: { type: 'boolean' },
        workers: { type: 'string' },
        guest: { type: 'boolean' },
        'bot-password': { type: 'string' },
        'no-lookups': { type: 'boolean' },
        'input-timing': { type: 'string' },
        socket: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  if (values.help) return 'help';
  const url = values.url ?? 'ws://127.0.0.1:8080/ws';
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`--url is not a valid URL: '${url}'`);
  }
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') throw new UsageError(`--url must be ws:// or wss://, got '${url}'`);
  const count = parseNumber('count', values.count, { integer: true, min: 1 }) ?? 200;
  if (count > 100_000) throw new UsageError(`--count must be <= 100000, got ${count}`);
  const durationS = parseNumber('duration', values.duration, { min: 0, minExclusive: true }) ?? 30;
  const rampS = parseNumber('ramp', values.ramp, { min: 0 });
  const seed = parseNumber('seed', values.seed, { integer: true, min: -(2 ** 31) });
  const namePrefix = values['name-prefix'] ?? 'bot';
  if (namePrefix.length === 0) throw new UsageError('--name-prefix must not be empty');
  if (new TextEncoder().encode(`${namePrefix}${count - 1}`).byteLength > 32) {
    throw new UsageError(`--name-prefix too long: names must fit 32 bytes (e.g. '${namePrefix}${count - 1}')`);
  }
  const workers = parseNumber('workers', values.workers, { integer: true, min: 1 }) ?? 1;
  const maxWorkers = Math.max(1, availableParallelism() * 2);
  if (workers > maxWorkers) throw new UsageError(`--workers must be <= ${maxWorkers} on this machine, got ${workers}`);
  if (workers > count) throw new UsageError(`--workers (${workers}) must not exceed --count (${count})`);
  const guest = values.guest ?? false;
  const botPassword = values['bot-password'] ?? DEFAULT_BOT_PASSWORD;
  if (!guest) {
    const problem = botPrefixProblem(namePrefix, 0, count);
    if (problem !== undefined) throw new UsageError(`--name-prefix: ${problem} (or use --guest)`);
    if (botPassword.length < 8 || botPassword.length > 128) throw new UsageError('--bot-password must be 8-128 characters');
  } else if (values['bot-password'] !== undefined) {
    throw new UsageError('--bot-password has no effect with --guest');
  }
  const inputTiming = values['input-timing'] ?? 'aligned';
  if (inputTiming !== 'aligned' && inputTiming !== 'free') {
    throw new UsageError(`--input-timing must be aligned or free, got '${inputTiming}'`);
  }
  const socket = values.socket ?? defaultBotSocketKind(url);
  if (!BOT_SOCKET_KINDS.includes(socket as BotSocketKind)) {
    throw new UsageError(`--socket must be ${BOT_SOCKET_KINDS.join(' or ')}, got '${socket}'`);
  }
  if (socket === 'wire' && parsed.protocol === 'wss:') {
    throw new UsageError('--socket wire speaks plain ws:// only (the bots never use TLS); use --socket ws for wss:// URLs');
  }
  return {
    inputTiming,
    socket: socket as BotSocketKind,
    url,
    count,
    durationS,
    rampS,
    seed,
    namePrefix,
    json: values.json ?? false,
    workers,
    guest,
    botPassword,
    lookups: !guest && values['no-lookups'] !== true,
  };
}

function fmt(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
}

function progressLine(p: BotProgress): string {
  const phase = p.phase === 'ramp' ? `ramp ${p.opened}/${p.target}` : 'measure';
  return (
    `[${fmt(p.elapsedS, 0)}s ${phase}] connected ${p.connected}` +
    ` | frames/s ${fmt(p.framesPerClientPerSecond)}` +
    ` | in ${fmt(p.bytesInPerClientPerSecond / 1024, 2)} KB/s out ${fmt(p.bytesOutPerClientPerSecond / 1024, 2)} KB/s per client` +
    ` | rtt p50 ${fmt(p.rttP50Ms)} ms | rejects ${p.inputsRejected}` +
    (p.disconnects > 0 ? ` | disconnects ${p.disconnects}` : '') +
    (p.protocolErrors > 0 ? ` | protocol errors ${p.protocolErrors}` : '')
  );
}

function counts(r: Record<string, number>): string {
  const entries = Object.entries(r);
  return entries.length === 0 ? 'none' : entries.map(([k, v]) => `${k}=${v}`).join(', ');
}

export function formatSummary(s: BotSummary): string {
  const rows: [string, string][] = [
    ['clients', `${s.clients} (peak connected ${s.connected})`],
    ['measured', `${fmt(s.seconds)} s (after ${fmt(s.rampSeconds)} s ramp-up)`],
    ['frames / client / s', fmt(s.framesPerClientPerSecond)],
    ['in / client / s', `${fmt(s.bytesInPerClientPerSecond / 1024, 2)} KB`],
    ['out / client / s', `${fmt(s.bytesOutPerClientPerSecond / 1024, 2)} KB`],
    ['rtt p50 / p99', `${fmt(s.rttP50Ms)} / ${fmt(s.rttP99Ms)} ms`],
    ['input->update p50 / p99', `${fmt(s.updateLatencyP50Ms)} / ${fmt(s.updateLatencyP99Ms)} ms`],
    ['visible entities (avg)', fmt(s.visibleEntitiesAvg)],
    ['inputs sent', String(s.inputsSent)],
    ['inputs rejected', `${s.inputsRejected} (${counts(s.rejectsByReason)})`],
    ['prediction mismatches', `${s.predictionMismatches} (of ${s.predictionChecks} frames checked)`],
    ['inputs late for their tick', `${s.inputsLate} (of ${s.inputsLate + s.inputsOnTime} aligned)`],
    ['disconnects', String(s.disconnects)],
    ['kicks', counts(s.kicksByReason)],
    ['connect failures', String(s.connectFailures)],
    ['protocol errors', String(s.protocolErrors)],
    ['late scheduler ticks', String(s.lateTicks)],
    ['CHARACTER messages', `${s.charactersReceived} (bots with one: ${s.botsWithCharacter})`],
    ['lookups', `${s.lookups} (failed ${s.lookupFailures}, dropped ${s.lookupsDropped})`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n';
}


/** Runs the bots split over worker threads (each with its own scheduler) and merges the results. */
async function runBotsInWorkers(
  args: BotsArgs,
  tokens: string[] | undefined,
  lookupsUrl: string | undefined,
  onProgress: (p: BotProgress) => void,
  signal: AbortSignal,
): Promise<BotSummary> {
  const n = args.workers;
  const rampS = args.rampS ?? Math.min(10, args.count / 100);
  const latest: (BotProgress | undefined)[] = new Array<BotProgress | undefined>(n);
  const fresh: boolean[] = new Array<boolean>(n).fill(false);
  const workers: Worker[] = [];
  let nextIndex = 0;
  const stopAll = (): void => {
    for (const w of workers) w.postMessage({ type: 'stop' } satisfies BotsWorkerCommand);
  };
  signal.addEventListener('abort', stopAll, { once: true });
  try {
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) => {
        const share = Math.floor(args.count / n) + (i < args.count % n ? 1 : 0);
        const input: BotsWorkerInput = {
          url: args.url,
          count: share,
          durationS: args.durationS,
          rampS,
          namePrefix: args.namePrefix,
          indexOffset: nextIndex,
          seed: args.seed === undefined ? undefined : (args.seed + i * 1_000_003) | 0,
          inputTiming: args.inputTiming,
          socket: args.socket,
          ...(tokens !== undefined && { tokens: tokens.slice(nextIndex, nextIndex + share) }),
          ...(lookupsUrl !== undefined && { lookupsUrl }),
        };
        nextIndex += share; // bot names stay unique across workers
        const worker = startTsWorker(new URL('./worker.ts', import.meta.url), input);
        workers.push(worker);
        return new Promise<BotRawResult>((resolve, reject) => {
          let settled = false;
          worker.on('message', (m: BotsWorkerMessage) => {
            if (m.type === 'progress') {
              latest[i] = m.progress;
              fresh[i] = true;
              // One combined line per round of reports from every worker.
              if (fresh.every(Boolean)) {
                fresh.fill(false);
                onProgress(combineProgress(latest.filter((p): p is BotProgress => p !== undefined)));
              }
            } else if (m.type === 'done') {
              settled = true;
              resolve(m.result);
              void worker.terminate();
            } else {
              settled = true;
              reject(m.connect ? new BotsConnectError(m.message) : new Error(`bots worker ${i}: ${m.message}`));
              void worker.terminate();
            }
          });
          worker.on('error', (err) => {
            settled = true;
            reject(err);
          });
          worker.on('exit', (code) => {
            if (!settled) reject(new Error(`bots worker ${i} exited with code ${code} before reporting`));
          });
        });
      }),
    );
    return summarizeBots(results);
  } finally {
    signal.removeEventListener('abort', stopAll);
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** Runs `bluemarble bots`; resolves with the process exit code (0 ok, 1 run failed, 2 usage). */
export async function botsCommand(argv: string[], io: Partial<BotsCommandIO> = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  let args: BotsArgs | 'help';
  try {
    args = parseBotsArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    stderr.write(`bluemarble bots: ${err.message}\nRun 'bluemarble bots --help' for usage.\n`);
    return 2;
  }
  if (args === 'help') {
    stdout.write(USAGE);
    return 0;
  }

  const tty = stderr.isTTY === true;
  let lastPrinted = -Infinity;
  let lineOpen = false;
  const onProgress = (p: BotProgress): void => {
    const line = progressLine(p);
    if (tty) {
      stderr.write(`\r${line}\x1b[K`);
      lineOpen = true;
    } else if (p.elapsedS - lastPrinted >= 4.5) {
      // Logs and CI: one line every ~5 s rather than a line per second.
      lastPrinted = p.elapsedS;
      stderr.write(`${line}\n`);
    }
  };

  // Ctrl-C ends the run early but still prints the summary.
  const abort = new AbortController();
  const onSigint = (): void => abort.abort();
  const external = io.signal;
  external?.addEventListener('abort', onSigint, { once: true });
  if (!io.signal) process.once('SIGINT', onSigint);
  const createSocket = io.createSocket ?? botSocketFactory(args.socket);
  const httpUrl = httpBaseUrl(args.url);

  let summary: BotSummary;
  try {
    // Accounts: every bot logs in before the measured run, so argon2 work does not skew it.
    let tokens: string[] | undefined;
    if (!args.guest) {
      const started = performance.now();
      let lastLoginPrint = -Infinity;
      const showLogin = (done: number): void => {
        const line = `logging in ${done}/${args.count}`;
        if (tty) {
          stderr.write(`\r${line}\x1b[K`);
          lineOpen = true;
        } else if (done === args.count || performance.now() - lastLoginPrint >= 5000) {
          lastLoginPrint = performance.now();
          stderr.write(`${line}\n`);
        }
      };
      showLogin(0);
      tokens = await botTokens({
        httpUrl,
        prefix: args.namePrefix,
        first: 0,
        count: args.count,
        password: args.botPassword,
        signal: abort.signal,
        onProgress: showLogin,
      });
      if (lineOpen) stderr.write('\n');
      lineOpen = false;
      stderr.write(`logged in ${args.count} bots in ${fmt((performance.now() - started) / 1000)} s\n`);
    }
    const lookupsUrl = args.lookups ? httpUrl : undefined;
    summary =
      args.workers > 1
        ? await runBotsInWorkers(args, tokens, lookupsUrl, onProgress, abort.signal)
        : await runBots({
            url: args.url,
            count: args.count,
            durationS: args.durationS,
            rampS: args.rampS,
            seed: args.seed,
            namePrefix: args.namePrefix,
            inputTiming: args.inputTiming,
            onProgress,
            createSocket,
            signal: abort.signal,
            ...(tokens !== undefined && { tokens }),
            ...(lookupsUrl !== undefined && { lookupsUrl }),
          });
  } catch (err) {
    if (lineOpen) stderr.write('\n');
    if (err instanceof BotsConnectError || err instanceof BotAccountsError) {
      stderr.write(`bluemarble bots: cannot run against ${args.url}: ${err.message}\n`);
      return 1;
    }
    if (abort.signal.aborted) {
      stderr.write('bluemarble bots: interrupted while logging in\n');
      return 1;
    }
    throw err;
  } finally {
    process.removeListener('SIGINT', onSigint);
    external?.removeEventListener('abort', onSigint);
  }
  if (lineOpen) stderr.write('\n');
  stdout.write(formatSummary(summary));
  if (args.json) stdout.write(`${JSON.stringify(summary)}\n`);
  return 0;
}
