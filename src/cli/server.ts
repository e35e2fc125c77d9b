// Composition root of the embedded world: one process with HTTP, the WebSocket gateway, a zone
// host placing zones on demand, and the in-memory bus. Tests and the CLI both start worlds here.
import type { Server } from 'node:http';
import { mkdirSync } from 'node:fs';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import type { Bus } from '../cluster/bus.ts';
import { MemoryBus } from '../cluster/memory-bus.ts';
import { ThreadZoneBus, type FromZoneThread } from '../cluster/thread-bus.ts';
import { startTsWorker } from '../ops/ts-worker.ts';
import type { NpcSpawn, ZoneThreadInit } from '../zone/thread.ts';
import { ConfigError, type ServerConfig } from '../ops/config.ts';
import { createHttpServer, listen } from '../ops/http.ts';
import { createLogger, type Logger } from '../ops/log.ts';
import { Metrics } from '../ops/metrics.ts';
import { GUEST_ENTITY_BASE, Gateway } from '../gateway/gateway.ts';
import type { PlayerSave, WorldEntityRecord } from '../store/store.ts';
import type { CharacterSink } from '../zone/zone.ts';
import { openPersistence, type Persistence } from './persistence.ts';
import { DEFAULT_MOVEMENT_RULES, type EntityId } from '../world/types.ts';
import { minCellInradiusM } from '../world/zoning.ts';
import { ZoneHost } from '../zone/host.ts';
import type { ZoneSettings } from '../zone/zone.ts';
import { webRoutes } from '../web/routes.ts';

export interface RunningServer {
  url: string;
  wsUrl: string;
  port: number;
  /** The network thread's metrics; metricsText() includes the zone thread's too. */
  metrics: Metrics;
  /** The zone host when zones run on this thread (--zone-threads 0). */
  host: ZoneHost | undefined;
  gateway: Gateway;
  persistence: Persistence;
  logger: Logger;
  metricsText(): Promise<string>;
  zoneStats(reset?: boolean): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

/** World entities (NPCs) are written this often, and at shutdown. */
const WORLD_SAVE_MS = 30_000;

/** Monotonic server clock in ms. */
export const serverNow = (): number => performance.timeOrigin + performance.now();

export async function startServer(config: ServerConfig, opts: { logger?: Logger } = {}): Promise<RunningServer> {
  checkWorldFits(config);
  mkdirSync(config.dataDir, { recursive: true });
  const logger = opts.logger ?? createLogger({ level: config.logLevel, name: 'bluemarble' });
  const metrics = new Metrics();
  // NPCs take ids from 1, account players from 1,000,000 + player id, guests from here.
  let nextGuestId = GUEST_ENTITY_BASE;
  const nextEntityId = (): EntityId => nextGuestId++;
  const persistence = await openPersistence(config, logger, metrics.registry);
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
  const npcs = {
    count: config.world.npcs,
    center: { lat: config.world.spawn.lat, lon: config.world.spawn.lon },
    radiusM: Math.max(config.world.spawn.radiusM, 100),
    seed: config.world.seed,
    firstId: 1,
  };
  // The gateway is made after the zones; the zones' sink reaches it through this late binding.
  const late: { gateway?: Gateway } = {};
  const sink = persistence.characterSink((playerId) => late.gateway?.departed(playerId));
  let zones: Zones;
  try {
    zones = config.zoneThreads === 0 ? await zonesHere(settings, metrics, logger, sink) : await zonesInThread(settings, config, logger, sink);
  } catch (err) {
    await persistence.close();
    throw err;
  }
  const { bus, host } = zones;
  // A world that was saved comes back as it was; a new one gets fresh NPCs (--npcs).
  const saved = await persistence.store.loadWorldEntities();
  const spawned = saved.length > 0 ? await zones.restore(saved) : await zones.spawnNpcs(npcs);
  if (saved.length === 0 && spawned > 0) await persistence.store.saveWorldEntities(await zones.worldEntities());
  let zonesStopped = false;
  persistence.start(() => (zonesStopped ? [] : zones.collectSaves()));
  const saveWorld = async (): Promise<void> => {
    try {
      await persistence.store.saveWorldEntities(await zones.worldEntities());
    } catch (err) {
      logger.error({ err }, 'world entities not saved; will retry');
    }
  };
  const worldTimer = setInterval(() => void saveWorld(), WORLD_SAVE_MS);
  worldTimer.unref();
  const gateway = new Gateway(
    { bus, metrics, logger, now: serverNow, nextEntityId, directory: persistence.directory },
    {
      gatewayId: GATEWAY_ID,
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
      guests: config.persistence.guests,
      // Well inside the idle expiry, so a player in the world never has their session expire.
      sessionKeepAliveMs: Math.max(1000, Math.min(60_000, config.persistence.sessionIdleMs / 3)),
    },
  );
  late.gateway = gateway;
  const startedAt = Date.now();
  const http: Server = createHttpServer({
    metrics,
    logger,
    routes: [
      ...persistence.routes,
      // The browser client at /, the ops dashboard at /ops, their bundles and JSON (src/web).
      ...webRoutes({
        metrics,
        gateway,
        host,
        zoneResolution: config.world.zoneResolution,
        zoneStats: () => zones.stats(false),
        zoneMetrics: () => zones.metricsJson(),
        isRunning: () => http.listening,
      }),
      {
        method: 'GET',
        path: '/stats',
        // Exact recent tick percentiles for benchmarks and the ops view; ?reset=1 starts a window.
        handle: async (req, res) => {
          const reset = (req.url ?? '').includes('reset=1');
          const body = JSON.stringify({ ...(await zones.stats(reset)), players: gateway.playerCount });
          res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
          res.end(body);
        },
      },
    ],
    metricsText: () => metricsText(),
    health: () => {
      const s = zones.lastStats();
      return {
        uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
        players: gateway.playerCount,
        zones: s.zones,
        zonesAwake: s.awake,
        entities: s.entities,
        tickRate: config.tickRate,
        zoneThreads: config.zoneThreads,
      };
    },
  });
  gateway.attach(http);
  const addr = await listen(http, config.host, config.port);
  const wsUrl = `ws://${addr.host.includes(':') ? `[${addr.host}]` : addr.host}:${addr.port}/ws`;
  logger.info(
    { url: addr.url, wsUrl, npcs: spawned, restored: saved.length > 0, tickRate: config.tickRate, store: persistence.store.kind },
    'world started',
  );
  const metricsText = async (): Promise<string> => {
    const extra = await zones.metricsJson();
    if (!extra) return metrics.text();
    const merged = AggregatorRegistry.aggregate([await metrics.registry.getMetricsAsJSON(), extra]);
    return merged.metrics();
  };
  let closed = false;
  return {
    url: addr.url,
    wsUrl,
    port: addr.port,
    metrics,
    host,
    gateway,
    persistence,
    logger,
    metricsText,
    zoneStats: (reset = false) => zones.stats(reset),
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(worldTimer);
      // Players first (sockets closed), then what the zones hold is written while they can
      // still be asked (NPCs, then every changed character), then the zones stop, and the
      // last saves of players who left meanwhile go out as persistence closes.
      await gateway.close();
      await saveWorld();
      await persistence.writeBehind.flush({ force: true });
      zonesStopped = true;
      await zones.stop();
      await persistence.close();
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
      logger.info('world stopped');
    },
  };
}

interface Zones {
  bus: Bus;
  host: ZoneHost | undefined;
  spawnNpcs(npcs: NpcSpawn): Promise<number>;
  restore(records: WorldEntityRecord[]): Promise<number>;
  collectSaves(): PlayerSave[] | Promise<PlayerSave[]>;
  worldEntities(): Promise<WorldEntityRecord[]>;
  stats(reset: boolean): Promise<Record<string, unknown>>;
  /** Cheap, possibly a second old: for /healthz. */
  lastStats(): { zones: number; awake: number; entities: number };
  metricsJson(): Promise<MetricObjectWithValues<MetricValue<string>>[] | undefined>;
  stop(): Promise<void>;
}


/** Zones on this thread, on an in-memory bus shared with the gateway. */
async function zonesHere(settings: ZoneSettings, metrics: Metrics, logger: Logger, characters: CharacterSink): Promise<Zones> {
  const bus = new MemoryBus();
  bus.onHandlerError = (err) => logger.error({ err }, 'bus handler failed');
  const host = new ZoneHost({ bus, metrics, logger, settings, now: serverNow, characters }, bus);
  host.start();
  return {
    bus,
    host,
    spawnNpcs: (npcs) => {
      let nextId = npcs.firstId;
      return host.spawnNpcs({ ...npcs, nextId: () => nextId++ });
    },
    restore: (records) => host.restoreWorldEntities(records),
    collectSaves: () => host.collectSaves(),
    worldEntities: async () => host.worldEntities(),
    stats: async (reset) => ({ ...host.stats(), ...host.timings({ reset }) }),
    lastStats: () => host.stats(),
    metricsJson: async () => undefined,
    stop: async () => {
      await host.stop();
      await bus.close();
    },
  };
}

/** Zones in a worker thread: the network thread only moves bytes. */
async function zonesInThread(settings: ZoneSettings, config: ServerConfig, logger: Logger, characters: CharacterSink): Promise<Zones> {
  const init: ZoneThreadInit = { settings, gatewayId: GATEWAY_ID, logLevel: config.logLevel };
  const worker = startTsWorker(new URL('../zone/thread.ts', import.meta.url), init);
  const bus = new ThreadZoneBus(worker);
  bus.characters = characters;
  await new Promise<void>((resolve, reject) => {
    const onMessage = (m: FromZoneThread) => {
      if (m.t !== 'ready') return;
      worker.off('message', onMessage);
      resolve();
    };
    worker.on('message', onMessage);
    worker.once('error', reject);
  });
  worker.on('error', (err) => logger.fatal({ err }, 'zone thread failed'));
  let last = { zones: 0, awake: 0, entities: 0 };
  const stats = async (reset: boolean) => {
    const s = (await bus.request(reset ? 'stats-reset' : 'stats')) as Record<string, number>;
    last = { zones: s.zones ?? 0, awake: s.awake ?? 0, entities: s.entities ?? 0 };
    return s;
  };
  const poll = setInterval(() => void stats(false).catch(() => {}), 1000);
  poll.unref();
  return {
    bus,
    host: undefined,
    spawnNpcs: async (npcs) => (await bus.request('spawn', npcs)) as number,
    restore: async (records) => (await bus.request('restore', records)) as number,
    collectSaves: async () => (await bus.request('collect')) as PlayerSave[],
    worldEntities: async () => (await bus.request('world')) as WorldEntityRecord[],
    stats,
    lastStats: () => last,
    metricsJson: async () => (await bus.request('metrics')) as MetricObjectWithValues<MetricValue<string>>[],
    stop: async () => {
      clearInterval(poll);
      await bus.close();
    },
  };
}

const GATEWAY_ID = 'gw-1';

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
