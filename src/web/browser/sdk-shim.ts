// TEMPORARY stand-in for src/client/sdk.ts (BlueMarbleClient), with the same API, until it lands.
import { GameConnection } from '../../client/connection.ts';
import type { CreateSocket } from '../../client/connection.ts';
import { SNAPSHOT_STRIDE } from '../../protocol/types.ts';
import type { Welcome } from '../../protocol/types.ts';

export interface EntityState { id: number; kind: number; lat: number; lon: number; alt: number; heading: number }
type FetchLike = (url: string, init?: { method?: string; headers?: Record<string, string>; body?: string }) => Promise<{ ok: boolean; status: number; json(): Promise<unknown> }>;

export interface ClientOptions { baseUrl: string; createSocket?: CreateSocket; fetch?: FetchLike; interpolationDelayMs?: number; now?: () => number }

interface Sample { t: number; lat: number; lon: number; alt: number; heading: number; kind: number }

export class BlueMarbleClient {
  private token = '';
  private name = 'player';
  private conn: GameConnection | undefined;
  private move = { east: 0, north: 0, up: 0 };
  private actions: number[] = [];
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly buf = new Map<number, Sample[]>();
  private readonly listeners = new Map<string, Array<(e: unknown) => void>>();
  private lastBytes = { t: 0, i: 0, o: 0 };
  private readonly now: () => number;
  readonly entities = new Map<number, EntityState>();
  self: EntityState | undefined;
  stats = { rttMs: NaN, bytesInPerSecond: 0, bytesOutPerSecond: 0, zone: '0', inView: 0, interpolationDelayMs: 100 };

  constructor(private readonly opts: ClientOptions) {
    this.now = opts.now ?? (() => performance.now());
    this.stats.interpolationDelayMs = opts.interpolationDelayMs ?? 100;
  }

  on(type: string, fn: (e: unknown) => void): () => void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn]);
    return () => this.listeners.set(type, (this.listeners.get(type) ?? []).filter((f) => f !== fn));
  }
  private emit(type: string, e: unknown): void {
    for (const f of this.listeners.get(type) ?? []) f(e);
  }

  private async post(path: string, body: unknown): Promise<Record<string, unknown>> {
    const f = this.opts.fetch ?? (globalThis.fetch as unknown as FetchLike);
    const res = await f(this.opts.baseUrl + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const json = (await res.json()) as Record<string, unknown>;
    if (!res.ok) throw new Error(String(json.message ?? json.error ?? res.status));
    return json;
  }
  async register(a: { username: string; email: string; password: string }): Promise<unknown> {
    return this.post('/api/register', a);
  }
  async login(a: { username: string; password: string }): Promise<{ token: string }> {
    const r = await this.post('/api/login', a);
    this.token = String(r.token);
    this.name = a.username;
    return { token: this.token };
  }
  useToken(t: string): void {
    this.token = t;
  }

  async connect(): Promise<Welcome> {
    const url = this.opts.baseUrl.replace(/^http/, 'ws') + '/ws';
    const createSocket = this.opts.createSocket ?? ((u: string) => new (globalThis as unknown as { WebSocket: new (u: string) => never }).WebSocket(u));
    const conn = new GameConnection({ url, name: this.name, token: this.token, createSocket });
    this.conn = conn;
    const w = await conn.connect();
    conn.on('frame', (f) => {
      const t = this.now();
      const seen = new Set<number>();
      const d = f.state.entities.data;
      for (let i = 0; i < f.state.entities.count; i++) {
        const o = i * SNAPSHOT_STRIDE;
        const id = d[o]!;
        if (id === w.entityId) continue;
        seen.add(id);
        const s = { t, kind: d[o + 1]!, lat: d[o + 2]! / 1e6, lon: d[o + 3]! / 1e6, alt: d[o + 4]! / 10, heading: (d[o + 5]! * 360) / 256 };
        const b = this.buf.get(id) ?? [];
        b.push(s);
        if (b.length > 8) b.shift();
        this.buf.set(id, b);
      }
      for (const id of this.buf.keys()) if (!seen.has(id)) { this.buf.delete(id); this.entities.delete(id); this.emit('entityLeft', { id }); }
      const own = f.state.own;
      this.self = { id: w.entityId, kind: 0, lat: own.latE7 / 1e7, lon: own.lonE7 / 1e7, alt: own.altCm / 100, heading: (own.heading16 * 360) / 65536 };
      if (f.zone !== this.stats.zone) { this.stats.zone = f.zone; this.emit('zoneChanged', { zone: f.zone }); }
      this.stats.inView = f.state.entities.count;
    });
    conn.on('close', (e) => { this.stop(); this.emit('disconnected', e); if (e.kickReason !== undefined) this.emit('kicked', e); });
    conn.on('pong', (p) => { this.stats.rttMs = p.rttMs; });
    const dt = 1000 / w.tickRate;
    this.timer = setInterval(() => {
      if (!conn.isOpen) return;
      conn.sendInput({ eastCms: this.move.east * 100, northCms: this.move.north * 100, upCms: this.move.up * 100, actions: this.actions.splice(0, 4) });
      const t = this.now();
      if (t - this.lastBytes.t >= 1000) {
        const s = (t - this.lastBytes.t) / 1000;
        if (this.lastBytes.t > 0) { this.stats.bytesInPerSecond = (conn.bytesIn - this.lastBytes.i) / s; this.stats.bytesOutPerSecond = (conn.bytesOut - this.lastBytes.o) / s; }
        this.lastBytes = { t, i: conn.bytesIn, o: conn.bytesOut };
        conn.ping();
      }
    }, dt);
    this.emit('connected', w);
    return w;
  }
  private stop(): void { if (this.timer) clearInterval(this.timer); this.timer = undefined; }
  setMove(m: { east: number; north: number; up: number }): void { this.move = m; }
  act(id: number): void { this.actions.push(id); }
  sample(now = this.now()): void {
    const t = now - this.stats.interpolationDelayMs;
    for (const [id, b] of this.buf) {
      let a = b[0]!, c = b[0]!;
      for (let i = 0; i < b.length; i++) { if (b[i]!.t <= t) a = b[i]!; c = b[i]!; if (b[i]!.t > t) break; }
      const k = c.t > a.t ? Math.min(1, Math.max(0, (t - a.t) / (c.t - a.t))) : 1;
      const e = this.entities.get(id) ?? { id, kind: a.kind, lat: 0, lon: 0, alt: 0, heading: 0 };
      e.lat = a.lat + (c.lat - a.lat) * k; e.lon = a.lon + (c.lon - a.lon) * k; e.alt = a.alt + (c.alt - a.alt) * k; e.heading = c.heading;
      if (!this.entities.has(id)) { this.entities.set(id, e); this.emit('entityEntered', e); }
    }
  }
  close(): void { this.stop(); this.conn?.close(); }
}
