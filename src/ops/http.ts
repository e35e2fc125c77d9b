// HTTP side of the server: health, Prometheus metrics, a placeholder landing page and routes
// other subsystems add. The WebSocket gateway attaches to the same server's 'upgrade' event.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from './log.ts';
import type { Metrics } from './metrics.ts';

export interface HttpRoute {
  method: 'GET';
  /** Exact path, without query string. */
  path: string;
  /** May be async: a returned promise is awaited, so a rejection becomes a 500, not a crash. */
  handle: (req: IncomingMessage, res: ServerResponse) => unknown;
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

const ALLOW = 'GET, HEAD';

export function createHttpServer(opts: HttpServerOptions): Server {
  const { metrics, health, logger } = opts;
  const routes = new Map<string, HttpRoute>();
  for (const route of opts.routes ?? []) routes.set(route.path, route);

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => fail(res, logger, err, req.url));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // HEAD is served as GET; node drops the body for HEAD responses by itself.
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendJson(res, 405, { error: 'method_not_allowed' }, { Allow: ALLOW });
      return;
    }
    const path = requestPath(req.url);
    if (path === undefined) {
      sendJson(res, 400, { error: 'bad_request' });
      return;
    }

    const route = routes.get(path);
    if (route !== undefined) {
      await route.handle(req, res);
      return;
    }
    switch (path) {
      case '/healthz':
        sendJson(res, 200, { status: 'ok', ...health() }, { 'Cache-Control': 'no-store' });
        return;
      case '/metrics': {
        const body = opts.metricsText ? await opts.metricsText() : await metrics.text();
        send(res, 200, metrics.contentType, body, { 'Cache-Control': 'no-store' });
        return;
      }
      case '/':
        send(res, 200, 'text/html; charset=utf-8', landingPage(req.headers.host));
        return;
      default:
        sendJson(res, 404, { error: 'not_found' });
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

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(body), headers);
}

function fail(res: ServerResponse, logger: Logger, err: unknown, url: string | undefined): void {
  logger.error({ err, url }, 'http handler failed');
  if (!res.headersSent) {
    sendJson(res, 500, { error: 'internal' });
  } else {
    res.destroy();
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
