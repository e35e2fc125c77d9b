// Composition root of the embedded world: one process with HTTP, the WebSocket gateway, a zone
// host placing zones on demand, and the in-memory bus. Tests and the CLI both start worlds here.
import type { Server } from 'node:http';
import { mkdirSync } from 'node:fs';
import { MemoryBus } from '../cluster/memory-bus.ts';
import { ConfigError, type ServerConfig } from '../ops/config.ts';
import { createHttpServer, listen } from '../ops/http.ts';
import { createLogger, type Logger } from '../ops/log.ts';
import { Metrics } from '../ops/metrics.ts';
import { Gateway } from '../gateway/gateway.ts';
import { DEFAULT_MOVEMENT_RULES, type EntityId } from '../world/types.ts';
import { minCellInradiusM } from '../world/zoning.ts';
import { ZoneHost } from '../zone/host.ts';
import type { ZoneSettings } from '../zone/zone.ts';

export interface RunningServer {
  url: string;
  wsUrl: string;
  port: number;
  metrics: Metrics;
  host: ZoneHost;
  gateway: Gateway;
  logger: Logger;
  close(): Promise<void>;
}

/** Monotonic server clock in ms. */
export const serverNow = (): number => performance.timeOrigin + performance.now();

export async function startServer(config: ServerConfig, opts: { logger?: Logger } = {}): Promise<RunningServer> {
  checkWorldFits(config);
  mkdirSync(config.dataDir, { recursive: true });
  const logger = opts.logger ?? createLogger({ level: config.logLevel, name: 'bluemarble' });
  const metrics = new Metrics();
  const bus = new MemoryBus();
  bus.onHandlerError = (err) => logger.error({ err }, 'bus handler failed');
  let lastId = 0;
  const nextEntityId = (): EntityId => ++lastId;
  const rules = DEFAULT_MOVEMENT_RULES;
  const settings: ZoneSettings = {
    tickRate: config.tickRate,
    aoiRadius: config.aoi.radiusM,
    aoiHysteresis: config.aoi.hysteresis,
    frameBudget: config.aoi.frameBudgetBytes,
    rules,
    maxInputsPerSecond: config.limits.maxInputsPerSecond,
    zoneResolution: config.world.zoneResolution,
    inputGapTimeoutMs: 250,
    moveClockSlackMs: 1000,
  };
  const host = new ZoneHost({ bus, metrics, logger, settings, now: serverNow }, bus);
  host.start();
  const spawned = await host.spawnNpcs({
    count: config.world.npcs,
    center: config.world.spawn,
    radiusM: Math.max(config.world.spawn.radiusM, 100),
    seed: config.world.seed,
    nextId: nextEntityId,
  });
  const gateway = new Gateway(
    { bus, metrics, logger, now: serverNow, nextEntityId },
    {
      gatewayId: 'gw-1',
      path: '/ws',
      maxMessageBytes: config.limits.maxMessageBytes,
      floodMessagesPerSecond: config.limits.floodMessagesPerSecond,
      sendBufferSkip: config.limits.sendBufferSkipBytes,
      sendBufferLimit: config.limits.sendBufferLimitBytes,
      slowConsumerSeconds: config.limits.slowConsumerSeconds,
      handshakeTimeoutMs: config.limits.handshakeTimeoutMs,
      idleTimeoutMs: config.limits.idleTimeoutMs,
      maxPlayers: config.limits.maxPlayers,
      spawn: config.world.spawn,
      tickRate: config.tickRate,
      aoiRadius: config.aoi.radiusM,
      rules,
      maxInputsPerSecond: config.limits.maxInputsPerSecond,
      zoneResolution: config.world.zoneResolution,
      moveClockSlackMs: settings.moveClockSlackMs,
      seed: config.world.seed,
    },
  );
  const startedAt = Date.now();
  const http: Server = createHttpServer({
    metrics,
    logger,
    routes: [
      {
        method: 'GET',
        path: '/stats',
        // Exact recent tick percentiles for benchmarks and the ops view; ?reset=1 starts a window.
        handle: (req, res) => {
          const reset = (req.url ?? '').includes('reset=1');
          const body = JSON.stringify({ ...host.stats(), players: gateway.playerCount, ...host.timings({ reset }) });
          res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
          res.end(body);
        },
      },
    ],
    health: () => {
      const s = host.stats();
      return {
        uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
        players: gateway.playerCount,
        zones: s.zones,
        zonesAwake: s.awake,
        entities: s.entities,
        tickRate: config.tickRate,
      };
    },
  });
  gateway.attach(http);
  const addr = await listen(http, config.host, config.port);
  const wsUrl = `ws://${addr.host.includes(':') ? `[${addr.host}]` : addr.host}:${addr.port}/ws`;
  logger.info({ url: addr.url, wsUrl, npcs: spawned, tickRate: config.tickRate }, 'world started');
  let closed = false;
  return {
    url: addr.url,
    wsUrl,
    port: addr.port,
    metrics,
    host,
    gateway,
    logger,
    async close() {
      if (closed) return;
      closed = true;
      await gateway.close();
      await host.stop();
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
      await bus.close();
      logger.info('world stopped');
    },
  };
}

/**
 * Border ghosts reach only the ring of neighbouring zones, so the area of interest (plus its
 * hysteresis) must fit inside one ring at the chosen zone resolution.
 */
function checkWorldFits(config: ServerConfig): void {
  const reach = config.aoi.radiusM * (1 + config.aoi.hysteresis);
  // A conservative bound sampled over all of H3, pentagons and bent cells included (see zoning.ts).
  const limit = minCellInradiusM(config.world.zoneResolution);
  if (reach > limit) {
    throw new ConfigError([
      `--aoi-radius (BLUEMARBLE_AOI_RADIUS) ${config.aoi.radiusM} m with hysteresis ${config.aoi.hysteresis} ` +
        `reaches ${Math.round(reach)} m, more than zones at --zone-resolution ${config.world.zoneResolution} allow ` +
        `(${Math.round(limit)} m): use a smaller radius or a coarser (smaller) zone resolution`,
    ]);
  }
}
