// HTTP routes of the browser client and the ops dashboard: the two pages, their bundles under
// /assets/ (built in memory by esbuild on first request, served with ETag and gzip), and the JSON
// they read: /api/zones/near (zone borders) and /api/ops (the live world, sampled every second).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { Gateway } from '../gateway/gateway.ts';
import { sendJson } from '../ops/http.ts';
import type { HttpRoute } from '../ops/http.ts';
import type { Metrics } from '../ops/metrics.ts';
import type { ZoneHost } from '../zone/host.ts';
import { bundles } from './bundle.ts';
import type { Asset } from './bundle.ts';
import { OpsSampler, opsRoute } from './ops.ts';
import type { MetricJson } from './ops.ts';
import { opsPage, playPage } from './pages.ts';
import { zonesRoute } from './zones.ts';

export interface WebOptions {
  metrics: Metrics;
  gateway: Gateway;
  /** The zone host when zones run on this thread (per-zone load on /ops); undefined otherwise. */
  host: ZoneHost | undefined;
  zoneResolution: number;
  zoneStats(): Promise<Record<string, unknown>>;
  /** The zone thread's metrics when zones run in one. */
  zoneMetrics(): Promise<MetricObjectWithValues<MetricValue<string>>[] | undefined>;
  /** False once the HTTP server has closed: the ops sampler then stops. */
  isRunning(): boolean;
}

const SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

/** Pages may load only their own scripts, and connect only to this host (HTTP API and /ws). */
const PAGE_CSP = "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'";

function sendPage(res: ServerResponse, html: string): void {
  const body = Buffer.from(html);
  res.writeHead(200, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': body.length,
    'Cache-Control': 'no-cache',
    'Content-Security-Policy': PAGE_CSP,
    ...SECURITY_HEADERS,
  });
  res.end(body);
}

function acceptsGzip(req: IncomingMessage): boolean {
  const h = req.headers['accept-encoding'];
  return typeof h === 'string' && /\bgzip\b/i.test(h) && !/\bgzip\s*;\s*q=0(\.0*)?\b/i.test(h);
}

function etagMatches(req: IncomingMessage, etag: string): boolean {
  const h = req.headers['if-none-match'];
  if (typeof h !== 'string') return false;
  return h.split(',').some((t) => t.trim().replace(/^W\//, '') === etag || t.trim() === '*');
}

export function sendAsset(req: IncomingMessage, res: ServerResponse, asset: Asset): void {
  const headers: Record<string, string | number> = {
    'Content-Type': asset.contentType,
    ETag: asset.etag,
    // Revalidated on each load (cheap with the ETag), so a new build is picked up at once.
    'Cache-Control': 'no-cache',
    Vary: 'Accept-Encoding',
    ...SECURITY_HEADERS,
  };
  if (etagMatches(req, asset.etag)) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  const gzip = acceptsGzip(req);
  const body = gzip ? asset.gzip : asset.body;
  if (gzip) headers['Content-Encoding'] = 'gzip';
  headers['Content-Length'] = body.length;
  res.writeHead(200, headers);
  res.end(body);
}

export interface Web {
  routes: HttpRoute[];
  sampler: OpsSampler;
}

export function createWeb(opts: WebOptions): Web {
  const sampler = new OpsSampler(
    {
      players: () => opts.gateway.playerCount,
      zoneStats: () => opts.zoneStats(),
      metrics: async () => {
        const [here, zoneThread] = await Promise.all([opts.metrics.registry.getMetricsAsJSON(), opts.zoneMetrics()]);
        return [...here, ...(zoneThread ?? [])] as MetricJson[];
      },
      zones: () => {
        if (!opts.host) return undefined;
        const now = performance.timeOrigin + performance.now();
        return Array.from(opts.host.allZones(), (z) => ({ zone: z.id, players: z.playerCount, entities: z.entityCount, awake: z.isAwake(now) }));
      },
    },
    { isRunning: opts.isRunning },
  );
  sampler.start();
  // Start building at once so the first visitor does not wait for esbuild (~100 ms); a build
  // error shows up on the asset request instead of stopping the server.
  bundles().catch(() => {});
  const routes: HttpRoute[] = [
    { method: 'GET', path: '/', handle: (_req, res) => sendPage(res, playPage()) },
    { method: 'GET', path: '/ops', handle: (_req, res) => sendPage(res, opsPage()) },
    {
      method: 'GET',
      path: '/assets/:name',
      handle: async (req, res, params) => {
        const asset = (await bundles()).assets.get(params.name ?? '');
        if (!asset) {
          sendJson(res, 404, { error: 'not_found' });
          return;
        }
        sendAsset(req, res, asset);
      },
    },
    zonesRoute(opts.zoneResolution),
    opsRoute(sampler),
  ];
  return { routes, sampler };
}

/** The routes alone (what the composition root adds to its list). */
export function webRoutes(opts: WebOptions): HttpRoute[] {
  return createWeb(opts).routes;
}
