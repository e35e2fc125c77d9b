// Entry of the zone thread (`--zone-threads 1`): a zone host with its own in-memory bus, bridged
// to the gateway on the network thread. The simulation then never waits behind socket work.
import { parentPort, workerData } from 'node:worker_threads';
import { bridgeZoneThread } from '../cluster/thread-bus.ts';
import { MemoryBus } from '../cluster/memory-bus.ts';
import { createLogger } from '../ops/log.ts';
import { Metrics } from '../ops/metrics.ts';
import type { EntityId } from '../world/types.ts';
import { ZoneHost } from './host.ts';
import type { ZoneSettings } from './zone.ts';

export interface ZoneThreadInit {
  settings: ZoneSettings;
  gatewayId: string;
  logLevel: string;
  npcs: { count: number; center: { lat: number; lon: number }; radiusM: number; seed: number; firstId: EntityId };
}

const init = workerData as ZoneThreadInit;
if (!parentPort) throw new Error('src/zone/thread.ts runs as a worker thread');
const port = parentPort;
const logger = createLogger({ level: init.logLevel, name: 'bluemarble-zones' });
const metrics = new Metrics({ processMetrics: false });
const bus = new MemoryBus();
bus.onHandlerError = (err) => logger.error({ err }, 'bus handler failed');
const now = (): number => performance.timeOrigin + performance.now();
const host = new ZoneHost({ bus, metrics, logger, settings: init.settings, now }, bus);
host.start();
bridgeZoneThread({
  port,
  bus,
  gatewayId: init.gatewayId,
  onRequest: async (what, reset) =>
    what === 'stats' ? { ...host.stats(), ...host.timings({ reset }) } : await metrics.registry.getMetricsAsJSON(),
  onStop: async () => {
    await host.stop();
    await bus.close();
  },
});
let nextId = init.npcs.firstId;
const npcs = await host.spawnNpcs({ ...init.npcs, nextId: () => nextId++ });
port.postMessage({ t: 'ready', npcs });
