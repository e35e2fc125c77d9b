// Server configuration: one validated object built from CLI flags, environment variables and
// defaults (precedence flag > env > default). Every setting is described once in SETTINGS, which
// drives parsing, validation, error messages and the help text, so they cannot drift apart.
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface ServerConfig {
  host: string;
  port: number;
  /** Zone simulation rate in Hz. */
  tickRate: number;
  /** 0: zones tick on the network thread; 1: in one worker thread beside it. */
  zoneThreads: number;
  /** Absolute path of the folder for anything kept on disk. */
  dataDir: string;
  logLevel: LogLevel;
  world: {
    /** H3 resolution of the cells a zone owns. */
    zoneResolution: number;
    /** H3 resolution used to group zones into regions; always coarser than zoneResolution. */
    regionResolution: number;
    /** World RNG seed. */
    seed: number;
    npcs: number;
    spawn: { lat: number; lon: number; radiusM: number };
  };
  aoi: {
    radiusM: number;
    /** Fraction of radiusM an entity must move past the edge before it leaves a client's view. */
    hysteresis: number;
    /** Bytes per client per tick. */
    frameBudgetBytes: number;
  };
  limits: {
    maxPlayers: number;
    /** Largest accepted client->server message. */
    maxMessageBytes: number;
    /** Already resolved: the flag's 0 ("auto") becomes 2 x tickRate here. */
    maxInputsPerSecond: number;
    floodMessagesPerSecond: number;
    sendBufferSkipBytes: number;
    sendBufferLimitBytes: number;
    slowConsumerSeconds: number;
    handshakeTimeoutMs: number;
    idleTimeoutMs: number;
  };
  persistence: {
    /** '' for the SQLite file in dataDir; else 'sqlite:<path>' or a postgres:// URL. */
    db: string;
    /** '' for in-process sessions and cache; else a redis:// URL. */
    redis: string;
    /** Prefix of every Redis key and channel, so several worlds can share one Redis. */
    redisPrefix: string;
    /** Write-behind interval: the most play a crash can lose (plus one batch write). */
    saveIntervalMs: number;
    /** Sessions expire after this long without use. */
    sessionIdleMs: number;
    /** Allow HELLO without a session token (a guest, whose character is not kept). */
    guests: boolean;
  };
}

/** Lists every problem found, one per line, each naming the flag and its environment variable. */
export class ConfigError extends Error {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(
      problems.length === 1
        ? `invalid configuration: ${problems[0]}`
        : `invalid configuration (${problems.length} problems):\n  ${problems.join('\n  ')}`,
    );
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

// ---- value kinds: a zod schema from the raw string plus the "allowed" wording for help/errors

interface Kind<T> {
  schema: z.ZodType<T, string>;
  allowed: string;
}

// Strict numeric syntax: Number() alone would accept '', ' 20', '0x14', '1e1' and 'Infinity'.
const INT_RE = /^-?\d+$/;
const DECIMAL_RE = /^-?(?:\d+(?:\.\d+)?|\.\d+)$/;

function range(min: number, max: number): string {
  return `${min} to ${max}`;
}

function int(min: number, max: number): Kind<number> {
  const allowed = `integers ${range(min, max)}`;
  return {
    allowed,
    schema: z
      .string()
      .refine((s) => DECIMAL_RE.test(s), { error: `is not a number: allowed ${allowed}`, abort: true })
      .refine((s) => INT_RE.test(s), { error: `is not an integer: allowed ${allowed}`, abort: true })
      .transform(Number)
      .pipe(
        z
          .number()
          .min(min, { error: `is out of range: allowed ${range(min, max)}` })
          .max(max, { error: `is out of range: allowed ${range(min, max)}` }),
      ),
  };
}

function decimal(min: number, max: number): Kind<number> {
  const allowed = range(min, max);
  return {
    allowed,
    schema: z
      .string()
      .refine((s) => DECIMAL_RE.test(s), { error: `is not a number: allowed ${allowed}`, abort: true })
      .transform(Number)
      .pipe(
        z
          .number()
          .min(min, { error: `is out of range: allowed ${allowed}` })
          .max(max, { error: `is out of range: allowed ${allowed}` }),
      ),
  };
}

const HOST_LABEL_RE = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

function isHostnameOrIp(s: string): boolean {
  if (isIP(s) !== 0) return true;
  if (s.length === 0 || s.length > 253) return false;
  const labels = s.replace(/\.$/, '').split('.');
  // An all-digit last label is a malformed IPv4 address (e.g. 1.2.3.999), not a hostname.
  if (/^\d+$/.test(labels[labels.length - 1] ?? '')) return false;
  return labels.every((l) => HOST_LABEL_RE.test(l));
}

const hostKind: Kind<string> = {
  allowed: 'a hostname, IPv4 or IPv6 address',
  schema: z.string().refine(isHostnameOrIp, {
    error: 'is not a valid host: allowed a hostname, IPv4 or IPv6 address',
  }),
};

const dirKind: Kind<string> = {
  allowed: 'a folder path (relative paths resolve against the working directory)',
  schema: z
    .string()
    .refine((s) => s.length > 0 && !s.includes('\0'), { error: 'is not a usable path: allowed a non-empty folder path' })
    .transform((s) => resolve(s)),
};

const dbKind: Kind<string> = {
  allowed: "empty (SQLite file in --data), 'sqlite:<path>', or postgres://user@host:port/db",
  schema: z.string().refine((s) => s === '' || s.startsWith('sqlite:') || /^postgres(ql)?:\/\/[^\s]+$/.test(s), {
    error: "is not a database: allowed empty (SQLite in --data), 'sqlite:<path>' or a postgres:// URL",
  }),
};

const redisKind: Kind<string> = {
  allowed: 'empty (in-process sessions and cache) or redis://host:port[/db]',
  schema: z.string().refine((s) => s === '' || /^rediss?:\/\/[^\s]+$/.test(s), {
    error: 'is not a Redis URL: allowed empty or redis://host:port[/db]',
  }),
};

const boolKind: Kind<boolean> = {
  allowed: 'true or false',
  schema: z
    .string()
    .refine((s) => s === 'true' || s === 'false', { error: 'is not a boolean: allowed true or false' })
    .transform((s) => s === 'true'),
};

const logLevelKind: Kind<LogLevel> = {
  allowed: LOG_LEVELS.join(', '),
  schema: z.enum(LOG_LEVELS, { error: `is not a log level: allowed ${LOG_LEVELS.join(', ')}` }),
};

// ---- the settings table

interface Setting<T> {
  flag: string;
  env: string;
  default: string;
  kind: Kind<T>;
  help: string;
}

function setting<T>(flag: string, def: string, kind: Kind<T>, help: string): Setting<T> {
  return { flag, env: `BLUEMARBLE_${flag.toUpperCase().replaceAll('-', '_')}`, default: def, kind, help };
}

const SETTINGS = {
  host: setting('host', '127.0.0.1', hostKind, 'Address to listen on.'),
  port: setting('port', '8080', int(0, 65535), 'TCP port for HTTP and WebSocket; 0 picks a free port.'),
  tickRate: setting('tick-rate', '20', int(10, 30), 'Zone simulation rate in Hz.'),
  zoneThreads: setting(
    'zone-threads',
    '0',
    int(0, 1),
    'Worker threads running the zones: 0 runs them on the network thread, 1 in a thread of their own.',
  ),
  dataDir: setting('data', './data', dirKind, 'Folder for anything kept on disk.'),
  zoneResolution: setting('zone-resolution', '8', int(5, 10), 'H3 resolution of zone cells.'),
  regionResolution: setting(
    'region-resolution',
    '4',
    int(0, 15),
    'H3 resolution grouping zones into regions; must be below --zone-resolution.',
  ),
  // Up to 10 km so benchmarks can turn interest management effectively off at coarse zone
  // resolutions; the server still refuses radii that do not fit the chosen zones (checkWorldFits).
  aoiRadius: setting('aoi-radius', '200', decimal(10, 10000), 'Area-of-interest radius in metres.'),
  aoiHysteresis: setting(
    'aoi-hysteresis',
    '0.1',
    decimal(0, 0.5),
    'Extra fraction of the AOI radius before an entity leaves view.',
  ),
  frameBudget: setting('frame-budget', '1200', int(200, 65000), 'Bytes per client per tick.'),
  npcs: setting('npcs', '300', int(0, 100000), 'NPCs spawned around the spawn point.'),
  spawnLat: setting('spawn-lat', '48.8566', decimal(-90, 90), 'Spawn point latitude in degrees.'),
  spawnLon: setting('spawn-lon', '2.3522', decimal(-180, 180), 'Spawn point longitude in degrees.'),
  spawnRadius: setting('spawn-radius', '300', decimal(0, 50000), 'Spawn scatter radius in metres.'),
  maxPlayers: setting('max-players', '10000', int(1, 1000000), 'Connected players beyond which logins are refused.'),
  maxMessageBytes: setting(
    'max-message-bytes',
    '1024',
    int(64, 65535),
    'Largest client->server message; bigger ones close the connection.',
  ),
  maxInputsPerSecond: setting(
    'max-inputs-per-second',
    '0',
    int(0, 1000),
    'Inputs per second accepted per client; 0 means 2 x tick rate.',
  ),
  floodMessagesPerSecond: setting(
    'flood-messages-per-second',
    '200',
    int(1, 100000),
    'Messages of any type per second past which the connection is closed.',
  ),
  sendBufferSkip: setting(
    'send-buffer-skip',
    '65536',
    int(1024, 67108864),
    'Bytes queued on a socket above which frames are skipped.',
  ),
  sendBufferLimit: setting(
    'send-buffer-limit',
    '1048576',
    int(1024, 1073741824),
    'Bytes queued on a socket above which the client is disconnected as a slow consumer.',
  ),
  slowConsumerSeconds: setting(
    'slow-consumer-seconds',
    '5',
    decimal(0.1, 600),
    'Seconds of continuous frame skipping after which the client is disconnected.',
  ),
  handshakeTimeoutMs: setting(
    'handshake-timeout-ms',
    '5000',
    int(100, 600000),
    'Milliseconds a new connection has to complete the handshake.',
  ),
  idleTimeoutMs: setting(
    'idle-timeout-ms',
    '30000',
    int(1000, 3600000),
    'Milliseconds without any message after which a connection is closed.',
  ),
  db: setting('db', '', dbKind, 'Database: empty for the SQLite file under --data, or a postgres:// URL.'),
  redis: setting('redis', '', redisKind, 'Redis for sessions and the shared cache; empty keeps them in process.'),
  redisPrefix: setting(
    'redis-prefix',
    'bm:',
    { allowed: '1-64 characters of [A-Za-z0-9:_-]', schema: z.string().regex(/^[A-Za-z0-9:_-]{1,64}$/, { error: 'is not a key prefix: allowed 1-64 characters of [A-Za-z0-9:_-]' }) },
    'Prefix of every Redis key and channel (several worlds may share one Redis).',
  ),
  saveInterval: setting(
    'save-interval',
    '5',
    decimal(0.1, 300),
    'Seconds between write-behind batches of changed characters: the most a crash can lose.',
  ),
  sessionIdleMinutes: setting('session-idle-minutes', '30', decimal(0.05, 10080), 'Minutes of inactivity after which a session expires.'),
  guests: setting('guests', 'false', boolKind, 'Let clients play without an account (nothing of theirs is kept).'),
  logLevel: setting('log-level', 'info', logLevelKind, 'Log level.'),
  seed: setting('seed', '1', int(0, 4294967295), 'World RNG seed.'),
} as const;

type Settings = typeof SETTINGS;
type Key = keyof Settings;
type Flat = { [K in Key]: Settings[K] extends Setting<infer T> ? T : never };
type Source = 'flag' | 'env' | 'default';

const KEYS = Object.keys(SETTINGS) as Key[];

function label(key: Key): string {
  const s = SETTINGS[key];
  return `--${s.flag} (${s.env})`;
}

// Plain tokens print as-is (matching how they were typed); anything odd is quoted so '' and spaces show.
function show(raw: string): string {
  return /^[\w.:+-]+$/.test(raw) ? raw : JSON.stringify(raw);
}

// ---- argv

type ArgOptions = Record<string, { type: 'string' | 'boolean'; short?: string }>;

interface ArgvResult {
  values: Partial<Record<Key, string>>;
  problems: string[];
  /** Settings whose flag was given without a value: reported once, not re-checked from env. */
  broken: Set<Key>;
}

const NEGATIVE_NUMBER_RE = /^-(?:\d|\.\d)/;

function parseArgv(argv: string[]): ArgvResult {
  const options: ArgOptions = {
    // Accepted so callers may pass argv through unchanged; the caller acts on it (serverHelpText).
    help: { type: 'boolean', short: 'h' },
  };
  const keyByFlag = new Map<string, Key>();
  for (const key of KEYS) {
    options[SETTINGS[key].flag] = { type: 'string' };
    keyByFlag.set(SETTINGS[key].flag, key);
  }

  const values: Partial<Record<Key, string>> = {};
  try {
    const parsed = parseArgs({ args: joinNegativeValues(argv, keyByFlag), options, strict: true, allowPositionals: false });
    for (const [flag, value] of Object.entries(parsed.values)) {
      const key = keyByFlag.get(flag);
      if (key !== undefined && typeof value === 'string') values[key] = value;
    }
    return { values, problems: [], broken: new Set() };
  } catch (err) {
    // Strict mode stops at the first problem; a lenient scan lists all of them.
    const lenient = describeArgvProblems(argv, keyByFlag);
    if (lenient.problems.length === 0) lenient.problems.push(err instanceof Error ? err.message : String(err));
    return lenient;
  }
}

// parseArgs refuses "--spawn-lat -33.8" as ambiguous; a negative number is plainly a value here.
function joinNegativeValues(argv: string[], keyByFlag: Map<string, Key>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const next = argv[i + 1];
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if (arg.startsWith('--') && keyByFlag.has(arg.slice(2)) && next !== undefined && NEGATIVE_NUMBER_RE.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

function describeArgvProblems(argv: string[], keyByFlag: Map<string, Key>): ArgvResult {
  const values: Partial<Record<Key, string>> = {};
  const problems: string[] = [];
  const broken = new Set<Key>();
  const takesValue = (next: string | undefined): next is string =>
    next !== undefined && (!next.startsWith('-') || NEGATIVE_NUMBER_RE.test(next));

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      for (const rest of argv.slice(i + 1)) problems.push(unexpected(rest));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      problems.push(unexpected(arg));
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg : arg.slice(0, eq);
    const inline = eq !== -1;
    if (name === '--help' || name === '-h') {
      if (inline) problems.push(`${name} takes no value`);
      continue;
    }
    const key = name.startsWith('--') ? keyByFlag.get(name.slice(2)) : undefined;
    if (key === undefined) {
      problems.push(`unknown flag ${name}: see --help for the list of flags`);
      // Assume the unknown flag had a value, so it is not reported again as a stray argument.
      if (!inline && takesValue(argv[i + 1])) i++;
      continue;
    }
    const next = argv[i + 1];
    if (inline) {
      values[key] = arg.slice(eq + 1);
    } else if (takesValue(next)) {
      values[key] = next;
      i++;
    } else {
      broken.add(key);
      problems.push(`${label(key)}: ${name} needs a value: allowed ${SETTINGS[key].kind.allowed}`);
    }
  }
  return { values, problems, broken };
}

function unexpected(arg: string): string {
  return `unexpected argument ${show(arg)}: settings are given as --flag value`;
}

// ---- cross-field rules, applied only to fields that are individually valid

function crossFieldProblems(v: Partial<Flat>): string[] {
  const problems: string[] = [];
  if (v.regionResolution !== undefined && v.zoneResolution !== undefined) {
    if (v.regionResolution >= v.zoneResolution) {
      problems.push(
        `${label('regionResolution')}: ${v.regionResolution} is not below the zone resolution: ` +
          `allowed 0 to ${v.zoneResolution - 1} while ${label('zoneResolution')} is ${v.zoneResolution}`,
      );
    }
  }
  if (v.sendBufferSkip !== undefined && v.sendBufferLimit !== undefined) {
    if (v.sendBufferLimit <= v.sendBufferSkip) {
      problems.push(
        `${label('sendBufferLimit')}: ${v.sendBufferLimit} is not above the skip threshold: ` +
          `allowed more than ${v.sendBufferSkip} while ${label('sendBufferSkip')} is ${v.sendBufferSkip}`,
      );
    }
  }
  if (v.floodMessagesPerSecond !== undefined && v.maxInputsPerSecond !== undefined && v.tickRate !== undefined) {
    // Otherwise a client sending only permitted inputs would be closed as a flood.
    const inputs = effectiveInputsPerSecond(v.maxInputsPerSecond, v.tickRate);
    if (v.floodMessagesPerSecond < inputs) {
      problems.push(
        `${label('floodMessagesPerSecond')}: ${v.floodMessagesPerSecond} is below the input rate limit: ` +
          `allowed at least ${inputs} while ${label('maxInputsPerSecond')} allows ${inputs} inputs per second`,
      );
    }
  }
  return problems;
}

function effectiveInputsPerSecond(configured: number, tickRate: number): number {
  return configured === 0 ? 2 * tickRate : configured;
}

function assemble(v: Flat): ServerConfig {
  return {
    host: v.host,
    port: v.port,
    tickRate: v.tickRate,
    zoneThreads: v.zoneThreads,
    dataDir: v.dataDir,
    logLevel: v.logLevel,
    world: {
      zoneResolution: v.zoneResolution,
      regionResolution: v.regionResolution,
      seed: v.seed,
      npcs: v.npcs,
      spawn: { lat: v.spawnLat, lon: v.spawnLon, radiusM: v.spawnRadius },
    },
    aoi: { radiusM: v.aoiRadius, hysteresis: v.aoiHysteresis, frameBudgetBytes: v.frameBudget },
    limits: {
      maxPlayers: v.maxPlayers,
      maxMessageBytes: v.maxMessageBytes,
      maxInputsPerSecond: effectiveInputsPerSecond(v.maxInputsPerSecond, v.tickRate),
      floodMessagesPerSecond: v.floodMessagesPerSecond,
      sendBufferSkipBytes: v.sendBufferSkip,
      sendBufferLimitBytes: v.sendBufferLimit,
      slowConsumerSeconds: v.slowConsumerSeconds,
      handshakeTimeoutMs: v.handshakeTimeoutMs,
      idleTimeoutMs: v.idleTimeoutMs,
    },
    persistence: {
      db: v.db,
      redis: v.redis,
      redisPrefix: v.redisPrefix,
      saveIntervalMs: Math.round(v.saveInterval * 1000),
      sessionIdleMs: Math.round(v.sessionIdleMinutes * 60_000),
      guests: v.guests,
    },
  };
}

/**
 * Builds the configuration from argv (without the node/script/subcommand prefix) and an
 * environment map. Throws ConfigError listing every problem found.
 */
export function loadServerConfig(argv: string[], env: Record<string, string | undefined>): ServerConfig {
  const { values: flags, problems, broken } = parseArgv(argv);
  const parsed: Partial<Record<Key, unknown>> = {};

  for (const key of KEYS) {
    if (broken.has(key)) continue;
    const s = SETTINGS[key];
    const envValue = env[s.env];
    const [raw, source]: [string, Source] =
      flags[key] !== undefined
        ? [flags[key], 'flag']
        : envValue !== undefined
          ? [envValue, 'env']
          : [s.default, 'default'];
    const result = (s.kind.schema as z.ZodType<unknown, string>).safeParse(raw);
    if (result.success) {
      parsed[key] = result.data;
    } else {
      const message = result.error.issues[0]?.message ?? 'is invalid';
      problems.push(`${label(key)}: ${show(raw)} ${message}${source === 'default' ? ' (built-in default)' : ''}`);
    }
  }

  problems.push(...crossFieldProblems(parsed as Partial<Flat>));
  if (problems.length > 0) throw new ConfigError(problems);
  return assemble(parsed as Flat);
}

function deepFreeze<T extends object>(o: T): T {
  for (const v of Object.values(o)) if (typeof v === 'object' && v !== null) deepFreeze(v);
  return Object.freeze(o);
}

/** Defaults only; dataDir is resolved against the working directory at module load. Frozen. */
export const DEFAULT_CONFIG: ServerConfig = deepFreeze(loadServerConfig([], {}));

/** Text for `--help`: every flag, its environment variable, default and allowed values. */
export function serverHelpText(): string {
  const lines = [
    'Usage: bluemarble start [flags]',
    '',
    'Each setting comes from its flag, else its environment variable, else the default.',
    '',
  ];
  for (const key of KEYS) {
    const s = SETTINGS[key];
    lines.push(`  --${s.flag} <value>`.padEnd(38) + s.env);
    lines.push(`      ${s.help}`);
    lines.push(`      default: ${s.default}; allowed: ${s.kind.allowed}`);
  }
  lines.push('  -h, --help'.padEnd(38) + 'Show this text.');
  return lines.join('\n') + '\n';
}
