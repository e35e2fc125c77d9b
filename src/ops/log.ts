// Structured logging: pino JSON lines, to stdout unless a destination is given (tests pass one).
import { pino } from 'pino';
import type { Logger as PinoLogger, LoggerOptions } from 'pino';

export type Logger = PinoLogger;

export interface CreateLoggerOptions {
  /** A pino level or 'silent'. */
  level: string;
  name?: string;
  destination?: NodeJS.WritableStream;
}

const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

export function createLogger(opts: CreateLoggerOptions): Logger {
  // pino's own message for a bad level is vague; config validation normally prevents this.
  if (!LEVELS.has(opts.level)) throw new Error(`unknown log level ${JSON.stringify(opts.level)}`);
  const options: LoggerOptions = {
    level: opts.level,
    // ISO time keeps lines readable without a pretty-printer; still one JSON object per line.
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (opts.name !== undefined) options.name = opts.name;
  return opts.destination === undefined ? pino(options) : pino(options, opts.destination);
}
