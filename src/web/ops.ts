// The ops dashboard's data: once a second the server samples its own figures (players, zones,
// tick times, bytes in and out, rejected inputs by reason) into a ring of the last five minutes,
// served as JSON at GET /api/ops.
import { cellToLatLng } from 'h3-js';
import { z } from 'zod';
import { sendJson } from '../ops/http.ts';
import type { HttpRoute } from '../ops/http.ts';
import { intParam, readQuery } from './query.ts';

/** One metric as prom-client's getMetricsAsJSON() gives it (only what is read here). */
export interface MetricJson {
  name: string;
  values: ReadonlyArray<{ value: number; labels: Readonly<Record<string, string | number | undefined>> }>;
}

export interface ZoneLoad {
  zone: string;
  players: number;
  entities: number;
  awake: boolean;
}

export interface OpsSources {
  players(): number;
  /** The zone host's figures: zones, awake, entities and step timings (see /stats). */
  zoneStats(): Promise<Record<string, unknown>>;
  /** Every registry's metrics (network thread and zone thread); counters are summed by name and labels. */
  metrics(): Promise<MetricJson[]>;
  /** Per-zone load, when the zones run on this thread; undefined otherwise. */
  zones(): ZoneLoad[] | undefined;
}

export interface OpsSample {
  /** Wall-clock time of the sample (ms since the epoch). */
  t: number;
  players: number;
  zones: number;
  zonesAwake: number;
  entities: number;
  /** Simulation step (sum of zone ticks), percentiles over the last minute of steps. */
  tickP50Ms: number;
  tickP99Ms: number;
  /** Whole step including handing frames to sockets, p99 over the last minute. */
  stepP99Ms: number;
  /** How late steps started, p99 over the last minute. */
  lagP99Ms: number;
  bytesInPerSecond: number;
  bytesOutPerSecond: number;
  /** Inputs refused in this second, by reason (reasons with none are left out). */
  rejects: Record<string, number>;
}

export interface OpsSnapshot {
  now: number;
  intervalMs: number;
  windowSeconds: number;
  latest: OpsSample | null;
  /** Busiest zones first (players, then entities), at most MAX_ZONES; null when not known here. */
  zones: Array<ZoneLoad & { center: [number, number] }> | null;
  zoneCount: number;
  /** Refused inputs since the server started, by reason. */
  rejectsTotal: Record<string, number>;
  samples: OpsSample[];
}

export const OPS_INTERVAL_MS = 1000;
export const OPS_WINDOW_SECONDS = 300;
const MAX_ZONES = 50;

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

function counterSum(metrics: readonly MetricJson[], name: string): number {
  let sum = 0;
  for (const m of metrics) if (m.name === name) for (const v of m.values) sum += num(v.value);
  return sum;
}

function counterByLabel(metrics: readonly MetricJson[], name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of metrics) {
    if (m.name !== name) continue;
    for (const v of m.values) {
      const key = String(v.labels[label] ?? '');
      out[key] = (out[key] ?? 0) + num(v.value);
    }
  }
  return out;
}

/** Samples the server once a second into a fixed ring; call stop() (or let isRunning turn false). */
export class OpsSampler {
  private readonly ring: OpsSample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private last: { at: number; bytesIn: number; bytesOut: number; rejects: Record<string, number> } | undefined;
  private rejectsTotal: Record<string, number> = {};
  private busy = false;

  constructor(
    private readonly sources: OpsSources,
    private readonly opts: { intervalMs?: number; windowSeconds?: number; isRunning?: () => boolean } = {},
  ) {}

  get intervalMs(): number {
    return this.opts.intervalMs ?? OPS_INTERVAL_MS;
  }

  get capacity(): number {
    return Math.ceil(((this.opts.windowSeconds ?? OPS_WINDOW_SECONDS) * 1000) / this.intervalMs);
  }

  start(): void {
    if (this.timer) return;
    let started = false;
    this.timer = setInterval(() => {
      // Stops by itself once the HTTP server it belongs to has closed.
      const running = this.opts.isRunning?.() ?? true;
      if (running) started = true;
      else if (started) return this.stop();
      if (running) void this.sample();
    }, this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Takes one sample now (also what the timer does). Never throws: a failed read is skipped. */
  async sample(): Promise<OpsSample | undefined> {
    if (this.busy) return undefined;
    this.busy = true;
    try {
      const [stats, metrics] = await Promise.all([this.sources.zoneStats(), this.sources.metrics()]);
      const at = performance.now();
      const bytesIn = counterSum(metrics, 'bluemarble_bytes_received_total');
      const bytesOut = counterSum(metrics, 'bluemarble_bytes_sent_total');
      const rejects = counterByLabel(metrics, 'bluemarble_inputs_rejected_total', 'reason');
      const prev = this.last;
      const dt = prev ? Math.max(0.001, (at - prev.at) / 1000) : 1;
      const perSecond: Record<string, number> = {};
      if (prev) {
        for (const [reason, n] of Object.entries(rejects)) {
          const d = n - (prev.rejects[reason] ?? 0);
          if (d > 0) perSecond[reason] = Math.round((d / dt) * 100) / 100;
        }
      }
      const s: OpsSample = {
        t: Date.now(),
        players: this.sources.players(),
        zones: num(stats.zones),
        zonesAwake: num(stats.awake),
        entities: num(stats.entities),
        tickP50Ms: num(stats.simStepP50Ms),
        tickP99Ms: num(stats.simStepP99Ms),
        stepP99Ms: num(stats.stepP99Ms),
        lagP99Ms: num(stats.lagP99Ms),
        bytesInPerSecond: prev ? Math.max(0, Math.round((bytesIn - prev.bytesIn) / dt)) : 0,
        bytesOutPerSecond: prev ? Math.max(0, Math.round((bytesOut - prev.bytesOut) / dt)) : 0,
        rejects: perSecond,
      };
      this.last = { at, bytesIn, bytesOut, rejects };
      this.rejectsTotal = Object.fromEntries(Object.entries(rejects).filter(([, n]) => n > 0));
      this.ring.push(s);
      if (this.ring.length > this.capacity) this.ring.splice(0, this.ring.length - this.capacity);
      return s;
    } catch {
      // The zones may be stopping (shutdown) or the zone thread busy: the next second tries again.
      return undefined;
    } finally {
      this.busy = false;
    }
  }

  /** Samples newer than `since` (ms since the epoch), all when omitted. */
  snapshot(since = 0): OpsSnapshot {
    const loads = this.sources.zones();
    let zones: OpsSnapshot['zones'] = null;
    if (loads) {
      zones = loads
        .slice()
        .sort((a, b) => b.players - a.players || b.entities - a.entities || (a.zone < b.zone ? -1 : 1))
        .slice(0, MAX_ZONES)
        .map((z) => {
          const [lat, lon] = cellToLatLng(z.zone);
          return { ...z, center: [Math.round(lat * 1e6) / 1e6, Math.round(lon * 1e6) / 1e6] as [number, number] };
        });
    }
    return {
      now: Date.now(),
      intervalMs: this.intervalMs,
      windowSeconds: this.opts.windowSeconds ?? OPS_WINDOW_SECONDS,
      latest: this.ring.at(-1) ?? null,
      zones,
      zoneCount: loads?.length ?? this.ring.at(-1)?.zones ?? 0,
      rejectsTotal: this.rejectsTotal,
      samples: since > 0 ? this.ring.filter((s) => s.t > since) : this.ring.slice(),
    };
  }
}

const OpsQuery = z.strictObject({ since: intParam(0, 8.64e15).optional() });

export function opsRoute(sampler: OpsSampler): HttpRoute {
  return {
    method: 'GET',
    path: '/api/ops',
    handle: (req, res) => {
      const q = readQuery(req, OpsQuery);
      sendJson(res, 200, sampler.snapshot(q.since ?? 0), { 'Cache-Control': 'no-store' });
    },
  };
}
