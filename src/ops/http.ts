// HTTP side of the server: health, Prometheus metrics, a placeholder landing page and routes
// other subsystems add (GET/POST, exact paths or one `:param` segment, JSON bodies read by
// readJsonBody). The WebSocket gateway attaches to the same server's 'upgrade' event.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from './log.ts';
import type { Metrics } from './metrics.ts';

export type HttpMethod = 'GET' | 'POST';

/** Values of a route's `:param` segment, by name, already percent-decoded. */
export type RouteParams = Record<string, string>;

export interface HttpRoute {
  method: HttpMethod;
  /**
   * Path without query string: exact ('/api/login'), or with one `:name` segment
   * ('/api/items/:id'), whose value reaches the handler in `params`.
   */
  path: string;
  /** May be async: a returned promise is awaited, so a rejection becomes a 500, not a crash. */
  handle: (req: IncomingMessage, res: ServerResponse, params: RouteParams) => unknown;
}

export interface HttpServerOptions {
  metrics: Metrics;
  /** Prometheus text for /metrics when it is more than `metrics` (e.g. merged with a zone thread's). */
  metricsText?: () => Promise<string>;
  health: () => Record<string, unknown>;
  logger: Logger;
  /** Checked before the built-in routes, so one may replace the landing page at '/'. */
  routes?: HttpRoute[];
}

export interface ListenResult {
  host: string;
  port: number;
  url: string;
}

/**
 * An error a handler throws to answer with `{ error: code, message, ...extra }`. The server turns
 * it into that response; anything else thrown becomes a 500.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** Default request body limit: every JSON body the API takes is a few hundred bytes. */
export const DEFAULT_MAX_BODY_BYTES = 16 * 1024;

const BUILTIN_PATHS = new Set(['/healthz', '/metrics', '/']);

interface CompiledRoute {
  route: HttpRoute;
  /** Path split on '/'; the param segment is at paramIndex. */
  segments: string[];
  paramIndex: number;
  paramName: string;
}

function compile(route: HttpRoute): CompiledRoute {
  const segments = route.path.split('/');
  const params = segments.flatMap((seg, i) => (seg.startsWith(':') ? [i] : []));
  if (params.length > 1) throw new Error(`route ${route.path}: at most one :param segment`);
  const paramIndex = params[0] ?? -1;
  const paramName = paramIndex === -1 ? '' : (segments[paramIndex] ?? '').slice(1);
  if (paramIndex !== -1 && paramName.length === 0) throw new Error(`route ${route.path}: empty :param name`);
  return { route, segments, paramIndex, paramName };
}

/** The params when `path` fits the route's pattern, else undefined. */
function matchPath(compiled: CompiledRoute, path: string): RouteParams | undefined {
  if (compiled.paramIndex === -1) return path === compiled.route.path ? {} : undefined;
  const parts = path.split('/');
  if (parts.length !== compiled.segments.length) return undefined;
  let value = '';
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] ?? '';
    if (i === compiled.paramIndex) {
      if (part.length === 0) return undefined;
      try {
        value = decodeURIComponent(part);
      } catch {
        return undefined;
      }
    } else if (part !== compiled.segments[i]) {
      return undefined;
    }
  }
  return { [compiled.paramName]: value };
}

/** Allow header value: GET implies HEAD, in a fixed order. */
function allowHeader(methods: ReadonlySet<string>): string {
  const out: string[] = [];
  if (methods.has('GET')) out.push('GET', 'HEAD');
  if (methods.has('POST')) out.push('POST');
  return out.join(', ');
}

export function createHttpServer(opts: HttpServerOptions): Server {
  const { metrics, health, logger } = opts;
  const routes = (opts.routes ?? []).map(compile);

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => fail(res, logger, err, req.url));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = requestPath(req.url);
    if (path === undefined) {
      sendError(res, 400, 'bad_request', 'the request target is not a path');
      return;
    }
    // HEAD is served as GET; node drops the body for HEAD responses by itself.
    const method = req.method === 'HEAD' ? 'GET' : req.method;

    const allowed = new Set<string>();
    for (const compiled of routes) {
      const params = matchPath(compiled, path);
      if (params === undefined) continue;
      if (compiled.route.method === method) {
        await compiled.route.handle(req, res, params);
        return;
      }
      allowed.add(compiled.route.method);
    }
    if (BUILTIN_PATHS.has(path)) {
      if (method === 'GET') {
        await builtin(req, res, path);
        return;
      }
      allowed.add('GET');
    }
    if (allowed.size > 0) {
      const allow = allowHeader(allowed);
      sendError(res, 405, 'method_not_allowed', `${path} accepts ${allow}`, {}, { Allow: allow });
      return;
    }
    // Kept as the bare code (no message): clients and tests match this body exactly.
    sendJson(res, 404, { error: 'not_found' });
  }

  async function builtin(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    switch (path) {
      case '/healthz':
        sendJson(res, 200, { status: 'ok', ...health() }, { 'Cache-Control': 'no-store' });
        return;
      case '/metrics': {
        const body = opts.metricsText ? await opts.metricsText() : await metrics.text();
        send(res, 200, metrics.contentType, body, { 'Cache-Control': 'no-store' });
        return;
      }
      default:
        send(res, 200, 'text/html; charset=utf-8', landingPage(req.headers.host));
    }
  }

// Malformed HTTP never reaches the handler; answer 400 instead of letting the socket hang.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    logger.debug({ err: err.message, code: err.code }, 'http client error');
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });

  return server;
}

/** Path part of a request target; undefined when it is not one we can read. */
function requestPath(target: string | undefined): string | undefined {
  if (target === undefined || target.length === 0) return undefined;
  if (target.startsWith('/')) {
    // Not `new URL(target, base)`: it would read '//x/healthz' as host 'x'.
    const end = target.search(/[?#]/);
    return end === -1 ? target : target.slice(0, end);
  }
  try {
    // Absolute form, as sent through some proxies.
    return new URL(target).pathname;
  } catch {
    return undefined;
  }
}

function send(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'Content-Type': contentType,
    'Content-Length': Buffer.byteLength(body),
    'X-Content-Type-Options': 'nosniff',
    ...headers,
  });
  res.end(body);
}

/** Sends `body` as JSON with the given status and extra headers. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(body), headers);
}

/** Sends the API's error shape: `{ error: code, message, ...extra }`. */
export function sendError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, { error: code, message, ...extra }, headers);
}

function fail(res: ServerResponse, logger: Logger, err: unknown, url: string | undefined): void {
  if (err instanceof HttpError) {
    if (!res.headersSent) {
      sendError(res, err.status, err.code, err.message, err.extra, err.headers);
    } else {
      res.destroy();
    }
    return;
  }
  logger.error({ err, url }, 'http handler failed');
  if (!res.headersSent) {
    // Bare code, no message: an internal failure's details stay in the log.
    sendJson(res, 500, { error: 'internal' });
  } else {
    res.destroy();
  }
}

/** True when the Content-Type header names JSON (parameters such as charset allowed). */
function isJsonContentType(header: string | undefined): boolean {
  if (header === undefined) return false;
  const mediaType = (header.split(';')[0] ?? '').trim().toLowerCase();
  return mediaType === 'application/json';
}

/**
 * Reads and parses a JSON request body. Throws HttpError: 415 `unsupported_media_type` unless
 * Content-Type is application/json, 413 `too_large` past maxBytes (checked against
 * Content-Length before reading, and while reading, since the header may be absent or lie),
 * 400 `malformed_json` for a body that is not UTF-8 JSON (an empty body included).
 */
export async function readJsonBody(req: IncomingMessage, maxBytes = DEFAULT_MAX_BODY_BYTES): Promise<unknown> {
  if (!isJsonContentType(req.headers['content-type'])) {
    req.resume();
    throw new HttpError(415, 'unsupported_media_type', 'Content-Type must be application/json');
  }
  const tooLarge = (): HttpError => {
    // The rest of the body is not read: ask the client to close rather than reuse the socket.
    req.resume();
    return new HttpError(413, 'too_large', `the request body exceeds ${maxBytes} bytes`, { maxBytes }, {
      Connection: 'close',
    });
  };
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge();

  // Events rather than `for await`: leaving that loop early destroys the request, and with it
  // the socket the 413 must still be written to.
  const body = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) {
        cleanup();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw new HttpError(400, 'malformed_json', 'the request body is not valid UTF-8');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpError(400, 'malformed_json', 'the request body is not valid JSON');
  }
}

const HOST_HEADER_RE = /^[A-Za-z0-9.:[\]-]+$/;

function landingPage(hostHeader: string | undefined): string {
  // The Host header is client-controlled: only echo it when it is plainly a host[:port].
  const wsUrl = hostHeader !== undefined && HOST_HEADER_RE.test(hostHeader) ? `ws://${hostHeader}/ws` : '/ws';
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8"><title>BlueMarble</title></head>',
    '<body><h1>BlueMarble</h1>',
    `<p>This is a BlueMarble game server. Its WebSocket endpoint is <code>${wsUrl}</code> on this host.</p>`,
    '<p>Health: <a href="/healthz">/healthz</a> &middot; Metrics: <a href="/metrics">/metrics</a></p>',
    '</body></html>',
    '',
  ].join('\n');
}

/**
 * Starts listening and resolves with the address actually bound (port 0 picks a free port).
 * The url swaps a wildcard host for loopback so it can be fetched locally.
 */
export function listen(server: Server, host: string, port: number): Promise<ListenResult> {
  return new Promise((resolvePromise, reject) => {
    const onError = (err: Error): void => {
      server.off('listening', onListening);
      reject(err);
    };
    const onListening = (): void => {
      server.off('error', onError);
      const address = server.address() as AddressInfo;
      const urlHost = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
      const hostPart = urlHost.includes(':') ? `[${urlHost}]` : urlHost;
      resolvePromise({ host: address.address, port: address.port, url: `http://${hostPart}:${address.port}` });
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}
