// One measured run of the Colyseus peer: its server (colyseus-server.ts) and its bots processes
// (colyseus-bots.ts) as child processes, with the same method as `bluemarble loadtest`
// (src/loadtest/runner.ts): ramp, 5 s of warm-up, a measured window; once a second during the
// window the server's GET /stats?reset=1 (tick, gap); server CPU from /proc over the window;
// the bots' sums merged over processes.
import { fileURLToPath } from 'node:url';
import { LatencyHistogram } from '../../src/client/connection.ts';
import { cpuSeconds } from '../../src/loadtest/proc.ts';
import { startNode } from '../proc.ts';
import { lowerPriority } from '../../src/loadtest/runner.ts';
import type { Child } from '../proc.ts';
import { median, sleep } from '../util.ts';
import { histFromJson } from './shared.ts';
import type { ColyseusBotsResult } from './shared.ts';

const SERVER = fileURLToPath(new URL('./colyseus-server.ts', import.meta.url));
const BOTS = fileURLToPath(new URL('./colyseus-bots.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

export interface PeerRunSpec {
  clients: number;
  /** Spawn disk radius and tether (m), centred on the origin of the plane. */
  spawnRadiusM: number;
  tetherM: number;
  rampS: number;
  warmupS: number;
  durationS: number;
  botProcs: number;
  /** Nice value for the bots processes (0: the server's priority), as RunOptions.botsNice. */
  botsNice?: number;
  seed?: number;
  signal?: AbortSignal;
  onProgress?: (line: string) => void;
}

export interface PeerRunResult {
  clients: number;
  connected: number;
  measuredSeconds: number;
  framesPerClientPerS: number | null;
  bytesInPerClientPerS: number | null;
  bytesOutPerClientPerS: number | null;
  visibleAvg: number | null;
  updateP50Ms: number | null;
  updateP99Ms: number | null;
  /** Medians of the per-second p99s: step (sim callback + patch incl. sends), sim, patch; the gap after the previous step. */
  tickP50Ms: number | null;
  tickP99Ms: number | null;
  simP99Ms: number | null;
  patchP99Ms: number | null;
  gapP99Ms: number | null;
  serverCpuPct: number | null;
  botsCpuPct: number | null;
  connectFailures: number;
  disconnects: number;
  lateTicks: number;
}

function tsNode(script: string, args: string[]): Child {
  return startNode(['--import', TSX, script, ...args]);
}

function r(v: number | null | undefined, d = 2): number | null {
  if (v === null || v === undefined || !Number.isFinite(v)) return null;
  const f = 10 ** d;
  return Math.round(v * f) / f;
}

async function getStats(base: string): Promise<Record<string, number | null> | undefined> {
  try {
    const res = await fetch(`${base}/stats?reset=1`, { signal: AbortSignal.timeout(2000) });
    return res.ok ? ((await res.json()) as Record<string, number | null>) : undefined;
  } catch {
    return undefined;
  }
}

function lastResult(lines: readonly string[]): ColyseusBotsResult | undefined {
  for (let i = lines.length - 1; i >= 0; i--) {
    const l = lines[i]!;
    if (!l.startsWith('{"type":"result"')) continue;
    try {
      return JSON.parse(l) as ColyseusBotsResult;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

export async function runColyseus(spec: PeerRunSpec): Promise<PeerRunResult> {
  const say = spec.onProgress ?? (() => {});
  const server = tsNode(SERVER, ['--port', '0', '--spawn-radius', String(Math.round(spec.spawnRadiusM))]);
  const bots: Child[] = [];
  try {
    const m = await server.waitForLine(/listening (http:\/\/\S+)/, 30_000);
    if (!m) throw new Error(`the Colyseus server did not start:\n${[...server.stdoutLines, ...server.stderrLines].slice(-20).join('\n')}`);
    const http = m[1]!;
    const ws = http.replace(/^http:/, 'ws:');
    const procs = Math.max(1, Math.min(spec.botProcs, spec.clients));
    for (let i = 0; i < procs; i++) {
      const n = Math.floor(spec.clients / procs) + (i < spec.clients % procs ? 1 : 0);
      bots.push(
        tsNode(BOTS, [
          '--url', ws,
          '--count', String(n),
          '--ramp', String(spec.rampS),
          '--warmup', String(spec.warmupS),
          '--duration', String(spec.durationS),
          '--tether', String(Math.round(spec.tetherM)),
          '--seed', String((spec.seed ?? 1) * 1000 + i),
          '--progress',
          '--json',
        ]),
      );
      lowerPriority(bots[bots.length - 1]!.pid, spec.botsNice ?? 0);
    }
    const allExited = Promise.all(bots.map((b) => b.exited));
    let done = false;
    void allExited.then(() => {
      done = true;
    });
    const timeoutMs = (spec.rampS + spec.warmupS + spec.durationS + 30) * 1000;
    const opened = await Promise.race([bots[0]!.waitForLine(/^\{"type":"measure"/, timeoutMs), allExited.then(() => null)]);
    if (!opened) throw new Error(`the Colyseus bots did not reach their window:\n${[...bots[0]!.stdoutLines, ...bots[0]!.stderrLines].slice(-10).join('\n')}`);
    // The window: /stats once a second (the first read opens the server's window), CPU from /proc.
    await getStats(http);
    const cpu0 = cpuSeconds(server.pid);
    // Each bots process's last CPU reading: one that exits mid-window keeps its last one, so the
    // sum never goes backwards (a process gone reads as undefined).
    const bcpu0 = bots.map((b) => cpuSeconds(b.pid));
    const bcpuLast = [...bcpu0];
    const t0 = performance.now();
    let cpuEnd = cpu0;
    let tEnd = t0;
    const seconds: Record<string, number | null>[] = [];
    let next = t0;
    const tick = new AbortController();
    spec.signal?.addEventListener('abort', () => tick.abort(), { once: true });
    void allExited.then(() => tick.abort());
    while (!done && !spec.signal?.aborted) {
      next += 1000;
      await sleep(Math.max(0, next - performance.now()), tick.signal);
      if (done) break;
      const s = await getStats(http);
      cpuEnd = cpuSeconds(server.pid);
      bots.forEach((b, i) => {
        const v = cpuSeconds(b.pid);
        if (v !== undefined) bcpuLast[i] = v;
      });
      tEnd = performance.now();
      if (s) {
        seconds.push(s);
        const last = bots[0]!.stdoutLines.filter((l) => l.startsWith('{"type":"progress"')).at(-1);
        const p = last ? (JSON.parse(last) as { connected: number; patchesPerClientPerSecond: number; bytesInPerClientPerSecond: number }) : undefined;
        say(
          `colyseus ${spec.clients}: clients ${s.clients} | tick p99 ${r(s.tickP99Ms, 1)} ms (sim ${r(s.simP99Ms, 1)}, patch ${r(s.patchP99Ms, 1)}) | gap p99 ${r(s.gapP99Ms, 1)} ms` +
            (p ? ` | ${p.patchesPerClientPerSecond} patches/s | ${(p.bytesInPerClientPerSecond / 1024).toFixed(2)} KB/s in` : ''),
        );
      }
    }
    const grace = new AbortController();
    await Promise.race([allExited, sleep(10_000, grace.signal)]);
    grace.abort();
    const results = bots.map((b) => lastResult(b.stdoutLines)).filter((x): x is ColyseusBotsResult => x !== undefined);
    if (results.length === 0) {
      throw new Error(`the Colyseus bots gave no result:\n${bots.flatMap((b) => b.stderrLines.slice(-10)).join('\n')}`);
    }
    const sum = (f: (x: ColyseusBotsResult) => number): number => results.reduce((n, x) => n + f(x), 0);
    const cs = sum((x) => x.clientSeconds);
    const per = (n: number): number | null => (cs > 0 ? n / cs : null);
    const lat = new LatencyHistogram();
    for (const x of results) lat.mergeData(histFromJson(x.updateLatency));
    const vs = sum((x) => x.visibleSamples);
    const dt = (tEnd - t0) / 1000;
    // From each bots process's first reading to its last (none: it adds nothing).
    const botsCpuS = bcpu0.reduce<number>((n, a, i) => {
      const b = bcpuLast[i];
      return a === undefined || b === undefined ? n : n + b - a;
    }, 0);
    const col = (k: string): number[] => seconds.map((s) => s[k]).filter((v): v is number => typeof v === 'number');
    const med = (k: string): number | null => {
      const v = col(k);
      return v.length > 0 ? median(v) : null;
    };
    return {
      clients: spec.clients,
      connected: sum((x) => x.peakConnected),
      measuredSeconds: seconds.length,
      framesPerClientPerS: r(per(sum((x) => x.patches))),
      bytesInPerClientPerS: r(per(sum((x) => x.bytesIn)), 0),
      bytesOutPerClientPerS: r(per(sum((x) => x.bytesOut)), 0),
      visibleAvg: vs > 0 ? r(sum((x) => x.visibleSum) / vs, 1) : null,
      updateP50Ms: r(lat.percentile(50), 1),
      updateP99Ms: r(lat.percentile(99), 1),
      tickP50Ms: r(med('tickP50Ms')),
      tickP99Ms: r(med('tickP99Ms')),
      simP99Ms: r(med('simP99Ms')),
      patchP99Ms: r(med('patchP99Ms')),
      gapP99Ms: r(med('gapP99Ms')),
      serverCpuPct: cpu0 !== undefined && cpuEnd !== undefined && dt > 0 ? r((100 * (cpuEnd - cpu0)) / dt, 0) : null,
      botsCpuPct: dt > 0 ? r((100 * botsCpuS) / dt, 0) : null,
      connectFailures: sum((x) => x.connectFailures),
      disconnects: sum((x) => x.disconnects),
      lateTicks: sum((x) => x.lateTicks),
    };
  } finally {
    await Promise.all(bots.map((b) => b.stop(2000)));
    await server.stop(3000);
  }
}
