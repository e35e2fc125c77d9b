// Bots for the Colyseus peer (bench/peers/colyseus-server.ts): many colyseus.js clients in one
// Node process, walking like BlueMarble's bots (src/bots/bots.ts: a new heading every 2-8 s at
// 60-90 % of the 6 m/s top speed, 15 % of headings standing still, heading back when beyond the
// tether), sending one input with a sequence number every 50 ms from one scheduler loop.
//
//   node --import tsx bench/peers/colyseus-bots.ts --url ws://127.0.0.1:PORT --count 100 \
//     [--ramp S] [--warmup S] [--duration S] [--tether M] [--seed N] [--progress] [--json]
//
// Measured over the window after ramp + warm-up, per connected-client-second: bytes received
// (raw WebSocket message bytes), bytes sent, state patches, entities in view per patch (the
// players in the client's state, itself excluded), and input-to-update latency (from sending
// input N to the first patch whose own `lastInput` >= N; 2 % log histogram). With --progress one
// JSON line a second ({"type":"progress"...}) and {"type":"measure"} when the window opens; the
// last stdout line is the JSON summary (with --json; else a short text summary).
import { parseArgs } from 'node:util';
import { Client } from 'colyseus.js';
import type { Room } from 'colyseus.js';
import { LatencyHistogram } from '../../src/client/connection.ts';
import { histToJson } from './shared.ts';
import type { ColyseusBotsProgress, ColyseusBotsResult } from './shared.ts';
import { makeRng } from '../../src/bots/bots.ts';

const MAX_SPEED = 6;
const PERIOD_MS = 50;
const LOOP_MS = 10;
const STOP_CHANCE = 0.15;
const SENT_RING = 1024;

/** The schema the server sends (decoded by reflection on the client). */
interface PlayerView {
  x: number;
  y: number;
  lastInput: number;
}
interface StateView {
  players: { size: number; get(id: string): PlayerView | undefined };
}

interface Bot {
  room: Room<StateView> | undefined;
  open: boolean;
  vx: number;
  vy: number;
  seq: number;
  acked: number;
  sentAt: Float64Array;
  nextInputAt: number;
  nextHeadingAt: number;
  bytesIn: number;
  bytesOut: number;
  patches: number;
}

function num(v: number): number | null {
  return Number.isFinite(v) ? Math.round(v * 100) / 100 : null;
}

async function main(): Promise<void> {
  const { values: a } = parseArgs({
    options: {
      url: { type: 'string' },
      count: { type: 'string', default: '10' },
      ramp: { type: 'string' },
      warmup: { type: 'string', default: '0' },
      duration: { type: 'string', default: '10' },
      tether: { type: 'string', default: '300' },
      seed: { type: 'string', default: '1' },
      progress: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  if (a.url === undefined) throw new Error('--url ws://host:port is required');
  const count = Number(a.count);
  const rampMs = 1000 * (a.ramp !== undefined ? Number(a.ramp) : Math.min(10, count / 100));
  const warmupMs = 1000 * Number(a.warmup);
  const durationMs = 1000 * Number(a.duration);
  const tether = Number(a.tether);
  const rng = makeRng(Number(a.seed));
  const client = new Client(a.url);

  const bots: Bot[] = [];
  const latWindow = new LatencyHistogram();
  const latInterval = new LatencyHistogram();
  let connected = 0;
  let peak = 0;
  let failures = 0;
  let disconnects = 0;
  let lateTicks = 0;
  let stopping = false;
  const out = (o: unknown): void => {
    process.stdout.write(`${JSON.stringify(o)}\n`);
  };

  function pickHeading(b: Bot, t: number): void {
    b.nextHeadingAt = t + 2000 + rng() * 6000;
    const me = b.room?.state.players?.get(b.room.sessionId);
    if (me !== undefined) {
      const dist = Math.hypot(me.x, me.y);
      if (dist > tether) {
        const s = (0.6 + 0.3 * rng()) * MAX_SPEED;
        b.vx = (-me.x / dist) * s;
        b.vy = (-me.y / dist) * s;
        return;
      }
    }
    if (rng() < STOP_CHANCE) {
      b.vx = 0;
      b.vy = 0;
      return;
    }
    const s = (0.6 + 0.3 * rng()) * MAX_SPEED;
    const h = rng() * 2 * Math.PI;
    b.vx = Math.sin(h) * s;
    b.vy = Math.cos(h) * s;
  }

  function open(): void {
    const b: Bot = {
      room: undefined,
      open: false,
      vx: 0,
      vy: 0,
      seq: 0,
      acked: 0,
      sentAt: new Float64Array(SENT_RING),
      nextInputAt: Infinity,
      nextHeadingAt: Infinity,
      bytesIn: 0,
      bytesOut: 0,
      patches: 0,
    };
    bots.push(b);
    client.joinOrCreate<StateView>('world').then(
      (room) => {
        if (stopping) {
          void room.leave();
          return;
        }
        b.room = room;
        b.open = true;
        connected++;
        if (connected > peak) peak = connected;
        // Raw WebSocket bytes, both ways (colyseus.js's Node transport is a `ws` WebSocket).
        const ws = (room.connection.transport as unknown as { ws: import('ws').WebSocket }).ws;
        ws.addEventListener('message', (ev) => {
          const d = ev.data as ArrayBuffer | Buffer;
          b.bytesIn += d.byteLength;
        });
        const send = ws.send.bind(ws);
        ws.send = ((data: ArrayBufferLike | Uint8Array, ...rest: unknown[]) => {
          b.bytesOut += (data as Uint8Array).byteLength;
          return (send as (...x: unknown[]) => void)(data, ...rest);
        }) as typeof ws.send;
        room.onStateChange((state) => {
          b.patches++;
          const me = state.players.get(room.sessionId);
          if (me === undefined) return;
          const acked = me.lastInput;
          if (acked > b.acked) {
            const t = performance.now();
            for (let s = Math.max(b.acked + 1, b.seq - SENT_RING + 1); s <= acked && s <= b.seq; s++) {
              latInterval.record(t - b.sentAt[s % SENT_RING]!);
            }
            b.acked = acked;
          }
        });
        room.onLeave(() => {
          if (b.open) {
            b.open = false;
            connected--;
            if (!stopping) disconnects++;
          }
        });
        const t = performance.now();
        b.nextInputAt = t;
        pickHeading(b, t);
      },
      () => {
        failures++;
      },
    );
  }

  const start = performance.now();
  const measureStart = start + rampMs + warmupMs;
  const measureEnd = measureStart + durationMs;
  let measuring = false;
  let lastT = start;
  let clientMs = 0;
  let progClientMs = 0;
  let base = { bytesIn: 0, bytesOut: 0, patches: 0 };
  let prog = { bytesIn: 0, bytesOut: 0, patches: 0 };
  let visibleSum = 0;
  let visibleSamples = 0;
  let inputsSent = 0;
  let nextProgressAt = start + 1000;
  const totals = (): { bytesIn: number; bytesOut: number; patches: number } => {
    let bytesIn = 0;
    let bytesOut = 0;
    let patches = 0;
    for (const b of bots) {
      bytesIn += b.bytesIn;
      bytesOut += b.bytesOut;
      patches += b.patches;
    }
    return { bytesIn, bytesOut, patches };
  };

  function step(t: number): void {
    const want = rampMs <= 0 ? count : Math.min(count, Math.ceil((count * (t - start)) / rampMs));
    while (bots.length < want) open();
    const dt = t - lastT;
    lastT = t;
    clientMs += connected * dt;
    progClientMs += connected * dt;
    for (const b of bots) {
      if (!b.open || t < b.nextInputAt) continue;
      if (t >= b.nextHeadingAt) pickHeading(b, t);
      b.seq++;
      b.sentAt[b.seq % SENT_RING] = t;
      b.room!.send('input', { s: b.seq, x: b.vx, y: b.vy });
      inputsSent++;
      b.nextInputAt += PERIOD_MS;
      if (t - b.nextInputAt > 2 * PERIOD_MS) {
        b.nextInputAt = t + PERIOD_MS;
        lateTicks++;
      }
    }
    if (!measuring && t >= measureStart) {
      measuring = true;
      base = totals();
      clientMs = 0;
      latWindow.reset();
      latInterval.reset();
      visibleSum = 0;
      visibleSamples = 0;
      inputsSent = 0;
      if (a.progress) out({ type: 'measure' });
    }
    if (t >= nextProgressAt) {
      nextProgressAt += 1000;
      if (nextProgressAt < t) nextProgressAt = t + 1000;
      for (const b of bots) {
        if (!b.open || b.room === undefined) continue;
        const n = b.room.state.players?.size;
        if (n === undefined) continue;
        visibleSum += Math.max(0, n - 1);
        visibleSamples++;
      }
      const p99 = latInterval.percentile(99);
      latWindow.merge(latInterval);
      latInterval.reset();
      const tot = totals();
      if (a.progress) {
        const perCs = (d: number): number => (progClientMs > 0 ? d / (progClientMs / 1000) : 0);
        const p: ColyseusBotsProgress = {
          type: 'progress',
          elapsedS: Math.round(t - start) / 1000,
          measuring,
          connected,
          patchesPerClientPerSecond: num(perCs(tot.patches - prog.patches)) ?? 0,
          bytesInPerClientPerSecond: Math.round(perCs(tot.bytesIn - prog.bytesIn)),
          updateP99Ms: num(p99),
        };
        out(p);
      }
      prog = tot;
      progClientMs = 0;
    }
  }

  await new Promise<void>((resolve) => {
    let wakeAt = start;
    const loop = (): void => {
      const t = performance.now();
      step(t);
      if (t >= measureEnd) return resolve();
      wakeAt += LOOP_MS;
      if (wakeAt < t - 5 * LOOP_MS) wakeAt = t;
      setTimeout(loop, Math.max(0, wakeAt - performance.now()));
    };
    process.once('SIGTERM', () => resolve());
    loop();
  });
  stopping = true;
  const end = performance.now();
  clientMs += connected * (end - lastT);
  latWindow.merge(latInterval);
  const tot = totals();
  const cs = clientMs / 1000;
  const per = (n: number): number => (cs > 0 ? n / cs : 0);
  const d = {
    bytesIn: tot.bytesIn - base.bytesIn,
    bytesOut: tot.bytesOut - base.bytesOut,
    patches: tot.patches - base.patches,
  };
  const result: ColyseusBotsResult = {
    type: 'result',
    clients: count,
    peakConnected: peak,
    connectFailures: failures,
    disconnects,
    seconds: measuring ? (end - measureStart) / 1000 : 0,
    clientSeconds: cs,
    ...d,
    visibleSum,
    visibleSamples,
    inputsSent,
    lateTicks,
    updateLatency: histToJson(latWindow.toData()),
    bytesInPerClientPerSecond: Math.round(per(d.bytesIn)),
    bytesOutPerClientPerSecond: Math.round(per(d.bytesOut)),
    patchesPerClientPerSecond: num(per(d.patches)) ?? 0,
    visibleEntitiesAvg: num(visibleSamples > 0 ? visibleSum / visibleSamples : 0) ?? 0,
    updateLatencyP50Ms: num(latWindow.percentile(50)),
    updateLatencyP99Ms: num(latWindow.percentile(99)),
  };
  for (const b of bots) {
    if (b.open) {
      b.open = false;
      void b.room?.leave().catch(() => {});
    }
  }
  await new Promise((r) => setTimeout(r, 300));
  if (a.json) out(result);
  else {
    const { updateLatency: _h, ...rest } = result;
    process.stdout.write(`${JSON.stringify(rest, null, 2)}\n`);
  }
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`colyseus-bots: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
