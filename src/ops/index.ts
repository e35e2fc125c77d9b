// Public surface of the ops module: configuration, logging, metrics and the HTTP server.
export { ConfigError, DEFAULT_CONFIG, LOG_LEVELS, loadServerConfig, serverHelpText } from './config.ts';
export type { LogLevel, ServerConfig } from './config.ts';
export { createLogger } from './log.ts';
export type { Logger, CreateLoggerOptions } from './log.ts';
export { Metrics, rejectReasonLabel } from './metrics.ts';
export { createHttpServer, listen } from './http.ts';
export type { HttpRoute, HttpServerOptions, ListenResult } from './http.ts';
