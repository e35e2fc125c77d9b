// Entry of the zone thread (`--zone-threads 1`): a zone host with its own in-memory bus, bridged
// to the gateway on the network thread. The simulation then never waits behind socket work.
import { parentPort, workerData } from 'node:worker_threads';
import { bridgeZoneThread } from '../cluster/thread-bus.ts';
import { MemoryBus } from '../cluster/memory-bus.ts';
import { createLogger } from '../ops/log.ts';
import { Metrics } from '../ops/metrics.ts';
import type { WorldEntityRecord } from '../store/store.ts';
import type { EntityId } from '../world/types.ts';
import { ZoneHost } from './host.ts';
import type { ZoneSettings } from './zone.ts';

export interface ZoneThreadInit {
  settings: ZoneSettings;
  gatewayId: string;
  logLevel: string;
}

export type NpcSpawn = { count: number; center: { lat: number; lon: number }; radiusM: number; seed: number; firstId: EntityId };

const init = workerData as ZoneThreadInit;
if (!parentPort) throw new Error('src/zone/thread.ts runs as a worker thread');
const port = parentPort;
const logger = createLogger({ level: init.logLevel, name: 'bluemarble-zones' });
const metrics = new Metrics({ processMetrics: false });
const bus = new MemoryBus();
bus.onHandlerError = (err) => logger.error({ err }, 'bus handler failed');
const now = (): number => performance.timeOrigin + performance.now();
const late: { host?: ZoneHost } = {};
const { characters } = bridgeZoneThread({
  port,
  bus,
  gatewayId: init.gatewayId,
  onRequest: async (what, arg) => {
    const h = late.host!;
    switch (what) {
      case 'stats':
      case 'stats-reset':
        return { ...h.stats(), ...h.timings({ reset: what === 'stats-reset' }) };
      case 'metrics':
        return await metrics.registry.getMetricsAsJSON();
      case 'collect':
        return h.collectSaves();
      case 'world':
        return h.worldEntities();
      case 'spawn': {
        const npcs = arg as NpcSpawn;
        let nextId = npcs.firstId;
        return await h.spawnNpcs({ ...npcs, nextId: () => nextId++ });
      }
      case 'restore':
        return await h.restoreWorldEntities(arg as WorldEntityRecord[]);
    }
  },
  onStop: async () => {
    await late.host?.stop();
    await bus.close();
  },
});
const host = new ZoneHost({ bus, metrics, logger, settings: init.settings, now, characters }, bus);
late.host = host;
host.start();
port.postMessage({ t: 'ready' });
