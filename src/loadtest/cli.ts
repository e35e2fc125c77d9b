// `bluemarble loadtest`: argument parsing, live progress on stderr, the summary on stdout, and
// the JSON + HTML report on disk.
import { parseArgs } from 'node:util';
import { formatSummary, writeReport } from './report.ts';
import { parseBotsNice, runScenario } from './runner.ts';
import { SCENARIOS, SCENARIO_NAMES, isScenarioName } from './scenarios.ts';
import type { ScenarioName } from './scenarios.ts';
import { BluemarbleTarget, UrlTarget } from './target.ts';
import type { Target } from './target.ts';

export const USAGE = `Usage: bluemarble loadtest --scenario <name> [options]

Runs a named load scenario against a server it starts itself (or --url), with the bots in
separate processes; shows progress, prints a summary, and writes the raw samples (JSON) and a
self-contained HTML report with plots. docs/loadtest.md explains each scenario and the method.

Scenarios:
${SCENARIO_NAMES.map((n) => `  ${n.padEnd(8)} ${SCENARIOS[n].description} (default ${SCENARIOS[n].defaults.clients} clients, ${SCENARIOS[n].defaults.durationS} s)`).join('\n')}

Options:
  --scenario NAME      one of: ${SCENARIO_NAMES.join(', ')}
  --clients N          clients (ramp: the most it may add; default per scenario)
  --duration S         measured seconds after connecting and warm-up (ramp: time budget
                       for its levels, at most 270)
  --report DIR         folder for <scenario>-<time>.json and .html (default loadtest-results)
  --no-report          write nothing, only print
  --smoke              the scenario's small form: a few dozen bots, seconds (what npm test runs)
  --url URL            run against this running server (ws://host:port/ws; it must allow
                       guests) instead of starting one
  --pid N              with --url: its process id, for CPU and memory from /proc
  --server-args "..."  extra flags for the server this command starts (e.g. "--zone-threads 1")
  --bot-procs N        bots processes for the honest bots (default one per 1,000 clients, 1..2)
  --bots-nice N        run the bots processes at this nice value (0..19, default 0), so that on a
                       machine shared with the server the bots yield the CPU to it
  --seed N             random seed of the bots (default 1)
  --json               also print the summary and checks as one JSON line last on stdout
  -h, --help           show this help

Exit status: 0 when every check passed, 1 when a check failed or the run could not be made,
2 for bad arguments.
`;

export interface LoadtestIO {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown; isTTY?: boolean };
  signal?: AbortSignal;
}

class UsageError extends Error {}

interface LoadtestArgs {
  scenario: ScenarioName;
  clients: number | undefined;
  durationS: number | undefined;
  report: string | undefined;
  smoke: boolean;
  url: string | undefined;
  pid: number | undefined;
  serverArgs: string[];
  botProcs: number | undefined;
  botsNice: number;
  seed: number;
  json: boolean;
}

function positiveNumber(flag: string, raw: string | undefined, integer: boolean, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const v = raw.trim() === '' ? NaN : Number(raw);
  if (!Number.isFinite(v) || (integer && !Number.isInteger(v)) || v <= 0) {
    throw new UsageError(`--${flag} must be a positive ${integer ? 'integer' : 'number'}, got '${raw}'`);
  }
  if (v > max) throw new UsageError(`--${flag} must be <= ${max}, got ${raw}`);
  return v;
}

export function parseLoadtestArgs(argv: string[]): LoadtestArgs | 'help' {
  let values;
  let positionals: string[];
  // "--server-args '--zone-threads 1'": a value that starts with a dash is still this flag's value.
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--server-args' && i + 1 < argv.length) args.push(`--server-args=${argv[++i]}`);
    else args.push(argv[i]!);
  }
  try {
    ({ values, positionals } = parseArgs({
      args,
      strict: true,
      allowPositionals: true,
      options: {
        scenario: { type: 'string' },
        clients: { type: 'string' },
        duration: { type: 'string' },
        report: { type: 'string' },
        'no-report': { type: 'boolean' },
        smoke: { type: 'boolean' },
        url: { type: 'string' },
        pid: { type: 'string' },
        'server-args': { type: 'string' },
        'bot-procs': { type: 'string' },
        'bots-nice': { type: 'string' },
        seed: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  if (values.help) return 'help';
  const name = values.scenario ?? positionals[0];
  if (positionals.length > (values.scenario === undefined ? 1 : 0)) throw new UsageError(`unexpected argument '${positionals.at(-1)}'`);
  if (name === undefined) throw new UsageError(`--scenario is required: one of ${SCENARIO_NAMES.join(', ')}`);
  if (!isScenarioName(name)) throw new UsageError(`unknown scenario '${name}': one of ${SCENARIO_NAMES.join(', ')}`);
  const clients = positiveNumber('clients', values.clients, true, 100_000);
  const durationS = positiveNumber('duration', values.duration, false, 3600);
  if (name === 'ramp' && durationS !== undefined && durationS > 270) throw new UsageError('--duration of ramp is its time budget: at most 270 s');
  if (values.url !== undefined) {
    let u: URL;
    try {
      u = new URL(values.url);
    } catch {
      throw new UsageError(`--url is not a valid URL: '${values.url}'`);
    }
    if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new UsageError(`--url must be ws:// or wss://, got '${values.url}'`);
    if (values['server-args'] !== undefined) throw new UsageError('--server-args has no effect with --url (the server is already running)');
  } else if (values.pid !== undefined) {
    throw new UsageError('--pid only goes with --url');
  }
  if (values.report !== undefined && values['no-report']) throw new UsageError('--report and --no-report contradict each other');
  let botsNice: number;
  try {
    botsNice = parseBotsNice(values['bots-nice']);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const seedRaw = values.seed;
  const seed = seedRaw === undefined ? 1 : Number(seedRaw);
  if (!Number.isInteger(seed)) throw new UsageError(`--seed must be an integer, got '${seedRaw}'`);
  return {
    scenario: name,
    clients,
    durationS,
    report: values['no-report'] ? undefined : (values.report ?? 'loadtest-results'),
    smoke: values.smoke ?? false,
    url: values.url,
    pid: positiveNumber('pid', values.pid, true, 2 ** 31),
    serverArgs: (values['server-args'] ?? '').split(/\s+/).filter((s) => s !== ''),
    botProcs: positiveNumber('bot-procs', values['bot-procs'], true, 16),
    botsNice,
    seed,
    json: values.json ?? false,
  };
}

export async function loadtestCommand(argv: string[], io: LoadtestIO = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const { stdout, stderr } = io;
  let args;
  try {
    args = parseLoadtestArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      stderr.write(`bluemarble loadtest: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    throw err;
  }
  if (args === 'help') {
    stdout.write(USAGE);
    return 0;
  }
  const abort = new AbortController();
  const onSigint = (): void => abort.abort();
  io.signal?.addEventListener('abort', onSigint, { once: true });
  if (!io.signal) process.once('SIGINT', onSigint);
  const tty = stderr.isTTY === true;
  let lineOpen = false;
  let lastTickPrint = -Infinity;
  const onProgress = (line: string, kind: 'tick' | 'level' | 'info'): void => {
    if (kind === 'tick') {
      if (tty) {
        stderr.write(`\r${line}\x1b[K`);
        lineOpen = true;
      } else if (performance.now() - lastTickPrint >= 5000) {
        lastTickPrint = performance.now();
        stderr.write(`${line}\n`);
      }
      return;
    }
    if (lineOpen) stderr.write('\n');
    lineOpen = false;
    stderr.write(`${line}\n`);
  };
  const target: Target = args.url !== undefined ? new UrlTarget(args.url, args.pid) : new BluemarbleTarget(args.serverArgs);
  try {
    const result = await runScenario({
      scenario: args.scenario,
      target,
      smoke: args.smoke,
      seed: args.seed,
      signal: abort.signal,
      onProgress,
      ...(args.clients !== undefined && { clients: args.clients }),
      ...(args.durationS !== undefined && { durationS: args.durationS }),
      ...(args.botProcs !== undefined && { botProcs: args.botProcs }),
      botsNice: args.botsNice,
    });
    if (lineOpen) stderr.write('\n');
    lineOpen = false;
    stdout.write(formatSummary(result));
    if (args.report !== undefined) {
      const files = writeReport(result, args.report);
      stdout.write(`\nraw samples: ${files.json}\nreport:      ${files.html}\n`);
    }
    if (args.json) {
      const { samples: _samples, ...rest } = result;
      stdout.write(`${JSON.stringify(rest)}\n`);
    }
    if (abort.signal.aborted) {
      stderr.write('bluemarble loadtest: interrupted; the figures cover the run up to then\n');
      return 1;
    }
    const failed = result.checks.filter((c) => !c.ok);
    if (failed.length > 0) {
      stderr.write(`bluemarble loadtest: ${failed.length} check(s) failed: ${failed.map((c) => c.name).join(', ')}\n`);
      return 1;
    }
    return 0;
  } catch (err) {
    if (lineOpen) stderr.write('\n');
    stderr.write(`bluemarble loadtest: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  } finally {
    process.removeListener('SIGINT', onSigint);
    io.signal?.removeEventListener('abort', onSigint);
  }
}
