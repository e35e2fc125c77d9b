// The Colyseus peer of `npm run bench:peers`: BlueMarble's game (players walking on a plane with
// server-authoritative velocity inputs at 20 Hz, interest management at 200 m) written for
// Colyseus the way its documentation recommends: one Room for the world, a Schema state (the
// `schema()` builder, no decorators), a StateView per client holding the players it sees (the
// players map is tagged `view`), simulation interval and patch rate of 50 ms. A dev-only bench
// tool: nothing in src/ imports it.
//
//   node --import tsx bench/peers/colyseus-server.ts [--port 0] [--aoi-radius 200]
//
// Prints `listening http://127.0.0.1:PORT` once up. GET /stats (like BlueMarble's): clients,
// steps, tick p50/p99 (simulation callback + the patch that follows it: encode and send),
// sim and patch p99 separately, gap p99 (how much more than one period after the previous step
// a simulation step started); `?reset=1` starts a new window, as the runner's sampler does once
// a second.
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';
import { Room, Server } from '@colyseus/core';
import type { Client } from '@colyseus/core';
import { WebSocketTransport } from '@colyseus/ws-transport';
import { Encoder, StateView, schema } from '@colyseus/schema';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    'spawn-radius': { type: 'string', default: '300' },
    'aoi-radius': { type: 'string', default: '200' },
  },
});

/** Same rules as BlueMarble's defaults (src/world/types.ts, src/ops/config.ts). */
const TICK_MS = 50;
const MAX_SPEED = 6; // m/s
const AOI_RADIUS = Number(args['aoi-radius']);
/** BlueMarble keeps an entity in view until it is 10 % beyond the radius: the same here. */
const AOI_KEEP = AOI_RADIUS * 1.1;
const SPAWN_RADIUS = Number(args['spawn-radius']);
/** At most this many queued inputs applied per player per tick (a flood is dropped). */
const MAX_INPUTS_PER_TICK = 3;

// A crowd's full state does not fit the encoder's default 8 KB buffer: without this the encoder
// grows it with a warning on every overflow. The size the warning itself recommends, with room.
Encoder.BUFFER_SIZE = 512 * 1024;

/** View tag of the fields only the owning client sees (its input acknowledgement). */
const OWNER = 1;

export const Player = schema(
  {
    x: 'float32',
    y: 'float32',
    // The last input sequence applied: only the player itself needs it (input-to-update latency).
    lastInput: { type: 'uint32', view: OWNER },
  },
  'Player',
);
export type Player = InstanceType<typeof Player>;

export const WorldState = schema(
  {
    // Tagged `view`: a client sees only the players its StateView holds.
    players: { map: Player, view: true },
  },
  'WorldState',
);
export type WorldState = InstanceType<typeof WorldState>;

interface InputMessage {
  s: number;
  x: number;
  y: number;
}

interface Walker {
  id: string;
  client: Client;
  player: Player;
  queue: InputMessage[];
  /** Players in this client's view (the StateView holds the same ones). */
  sees: Set<Walker>;
}

// ---- timings for /stats ----
const win = { sim: [] as number[], patch: [] as number[], tick: [] as number[], gap: [] as number[] };
let pendingSim: number | undefined;

function pct(v: number[], p: number): number | null {
  if (v.length === 0) return null;
  const s = [...v].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** The world's room (created by the first join). */
const rooms = new Set<WorldRoom>();

export class WorldRoom extends Room<WorldState> {
  private readonly walkers = new Map<string, Walker>();
  private lastStepAt = 0;

  override onCreate(): void {
    this.state = new WorldState();
    this.maxClients = 100_000;
    this.autoDispose = false;
    this.patchRate = TICK_MS;
    this.onMessage('input', (client: Client, m: InputMessage) => {
      const w = this.walkers.get(client.sessionId);
      if (!w || typeof m !== 'object' || m === null) return;
      if (w.queue.length < MAX_INPUTS_PER_TICK * 2) w.queue.push(m);
    });
    this.setSimulationInterval(() => this.step(), TICK_MS);
    rooms.add(this);
  }

  override onJoin(client: Client): void {
    const a = Math.random() * 2 * Math.PI;
    const r = SPAWN_RADIUS * Math.sqrt(Math.random());
    const player = new Player();
    player.x = Math.cos(a) * r;
    player.y = Math.sin(a) * r;
    player.lastInput = 0;
    this.state.players.set(client.sessionId, player);
    const view = new StateView();
    client.view = view;
    // The player sees itself (shared fields) and its own acknowledgement (OWNER fields).
    view.add(player);
    view.add(player, OWNER);
    const w: Walker = { id: client.sessionId, client, player, queue: [], sees: new Set() };
    this.walkers.set(client.sessionId, w);
  }

  override onLeave(client: Client): void {
    const w = this.walkers.get(client.sessionId);
    if (!w) return;
    this.walkers.delete(client.sessionId);
    for (const o of w.sees) o.sees.delete(w);
    this.state.players.delete(client.sessionId);
  }

  /** One simulation step: apply inputs (speed clamped), then recompute every client's view. */
  private step(): void {
    const t0 = performance.now();
    if (this.lastStepAt > 0) win.gap.push(Math.max(0, t0 - this.lastStepAt - TICK_MS));
    this.lastStepAt = t0;
    const dt = TICK_MS / 1000;
    for (const w of this.walkers.values()) {
      let n = 0;
      while (w.queue.length > 0 && n < MAX_INPUTS_PER_TICK) {
        const m = w.queue.shift()!;
        n++;
        let vx = Number(m.x) || 0;
        let vy = Number(m.y) || 0;
        const s = Math.hypot(vx, vy);
        if (s > MAX_SPEED) {
          vx *= MAX_SPEED / s;
          vy *= MAX_SPEED / s;
        }
        w.player.x += vx * dt;
        w.player.y += vy * dt;
        const seq = m.s >>> 0;
        if (seq > w.player.lastInput) w.player.lastInput = seq;
      }
      if (w.queue.length > MAX_INPUTS_PER_TICK) w.queue.length = 0;
    }
    this.updateViews();
    pendingSim = performance.now() - t0;
    win.sim.push(pendingSim);
  }

  /** Interest management: a spatial grid of AOI_KEEP cells, and each view's adds and removes. */
  private updateViews(): void {
    const cell = AOI_KEEP;
    const grid = new Map<number, Walker[]>();
    const key = (cx: number, cy: number): number => (cx + 32768) * 65536 + (cy + 32768);
    for (const w of this.walkers.values()) {
      const k = key(Math.floor(w.player.x / cell), Math.floor(w.player.y / cell));
      const list = grid.get(k);
      if (list) list.push(w);
      else grid.set(k, [w]);
    }
    const r2 = AOI_RADIUS * AOI_RADIUS;
    const keep2 = AOI_KEEP * AOI_KEEP;
    for (const w of this.walkers.values()) {
      const view = w.client.view;
      if (!view) continue;
      const px = w.player.x;
      const py = w.player.y;
      const cx = Math.floor(px / cell);
      const cy = Math.floor(py / cell);
      const now = new Set<Walker>();
      for (let dx = -1; dx <= 1; dx++) {
        for (let dy = -1; dy <= 1; dy++) {
          const list = grid.get(key(cx + dx, cy + dy));
          if (!list) continue;
          for (const o of list) {
            if (o === w) continue;
            const ex = o.player.x - px;
            const ey = o.player.y - py;
            const d2 = ex * ex + ey * ey;
            if (d2 <= r2 || (d2 <= keep2 && w.sees.has(o))) now.add(o);
          }
        }
      }
      for (const o of w.sees) if (!now.has(o)) view.remove(o.player);
      for (const o of now) if (!w.sees.has(o)) view.add(o.player);
      w.sees = now;
    }
  }

  /** The patch (encode every view, send to every client), timed and paired with its step. */
  override broadcastPatch(): boolean {
    const t0 = performance.now();
    const r = super.broadcastPatch();
    const ms = performance.now() - t0;
    win.patch.push(ms);
    win.tick.push((pendingSim ?? 0) + ms);
    pendingSim = undefined;
    return r;
  }
}

function stats(reset: boolean): Record<string, number | null> {
  const room = rooms.values().next().value;
  const out = {
    clients: room?.clients.length ?? 0,
    players: room?.state.players.size ?? 0,
    samples: win.tick.length,
    tickP50Ms: pct(win.tick, 50),
    tickP99Ms: pct(win.tick, 99),
    simP99Ms: pct(win.sim, 99),
    patchP99Ms: pct(win.patch, 99),
    gapP99Ms: pct(win.gap, 99),
  };
  if (reset) for (const k of Object.keys(win) as (keyof typeof win)[]) win[k] = [];
  return out;
}

const http = createServer((req: IncomingMessage, res: ServerResponse) => {
  const url = new URL(req.url ?? '/', 'http://x');
  if (url.pathname === '/stats') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(stats(url.searchParams.get('reset') === '1')));
    return;
  }
  res.writeHead(404).end();
});

const gameServer = new Server({ transport: new WebSocketTransport({ server: http }), greet: false });
gameServer.define('world', WorldRoom);
await gameServer.listen(Number(args.port), args.host);
const addr = http.address();
const port = typeof addr === 'object' && addr !== null ? addr.port : Number(args.port);
console.log(`listening http://${args.host}:${port}`);

const shutdown = (): void => {
  void gameServer.gracefullyShutdown(false).finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
