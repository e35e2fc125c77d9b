// What the Colyseus peer's bots print (colyseus-bots.ts) and the runner reads (colyseus.ts).
import type { HistogramData } from '../../src/client/connection.ts';

/** Histogram data as JSON (Infinity and typed arrays do not survive JSON). */
export interface HistogramJson {
  counts: number[];
  count: number;
  sum: number;
  min: number | null;
  max: number | null;
}

export function histToJson(d: HistogramData): HistogramJson {
  return {
    counts: Array.from(d.counts),
    count: d.count,
    sum: d.sum,
    min: Number.isFinite(d.min) ? d.min : null,
    max: Number.isFinite(d.max) ? d.max : null,
  };
}

export function histFromJson(j: HistogramJson): HistogramData {
  return { counts: Uint32Array.from(j.counts), count: j.count, sum: j.sum, min: j.min ?? Infinity, max: j.max ?? -Infinity };
}

/** The last stdout line with --json: mergeable sums plus the derived per-client figures. */
export interface ColyseusBotsResult {
  type: 'result';
  clients: number;
  peakConnected: number;
  connectFailures: number;
  disconnects: number;
  seconds: number;
  clientSeconds: number;
  bytesIn: number;
  bytesOut: number;
  patches: number;
  visibleSum: number;
  visibleSamples: number;
  inputsSent: number;
  lateTicks: number;
  updateLatency: HistogramJson;
  // derived
  bytesInPerClientPerSecond: number;
  bytesOutPerClientPerSecond: number;
  patchesPerClientPerSecond: number;
  visibleEntitiesAvg: number;
  updateLatencyP50Ms: number | null;
  updateLatencyP99Ms: number | null;
}

export interface ColyseusBotsProgress {
  type: 'progress';
  elapsedS: number;
  measuring: boolean;
  connected: number;
  patchesPerClientPerSecond: number;
  bytesInPerClientPerSecond: number;
  updateP99Ms: number | null;
}

