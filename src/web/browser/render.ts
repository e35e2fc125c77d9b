// Draws the player's surroundings on a 2D canvas, centred on the player, north up: a metre grid,
// zone borders (the hexagons the server sent), the area-of-interest circle, every entity in view
// and the player. Called once per animation frame; allocates nothing per entity.
import type { CanvasLike, Context2D } from './dom.ts';

const DEG = Math.PI / 180;
const EARTH_RADIUS_M = 6_371_008.8;
const M_PER_DEG = EARTH_RADIUS_M * DEG;

export interface Positioned {
  id: number;
  kind: number;
  lat: number;
  lon: number;
  heading: number;
}

export interface Pose2D {
  lat: number;
  lon: number;
  heading: number;
}

export interface ZoneShape {
  zone: string;
  center: [number, number];
  boundary: [number, number][];
}

export interface Scene {
  self: Pose2D | undefined;
  entities: Iterable<Positioned>;
  selfId: number;
  /** Zone the player is in ('0' before the first frame) and the shapes known near it. */
  zone: string;
  zones: readonly ZoneShape[];
  aoiRadiusM: number;
  /** Multiplies the default scale (1 = the area of interest fills the shorter side). */
  zoom: number;
}

const PLAYER_KIND = 0;

const COLORS = {
  bg: '#0b1220',
  grid: '#142038',
  gridMajor: '#1b2a48',
  zone: '#4cc2ff',
  zoneFill: 'rgba(76,194,255,0.06)',
  zoneLabel: 'rgba(135,150,179,0.9)',
  aoi: 'rgba(219,228,245,0.25)',
  npc: '#ffb84c',
  player: '#7ee787',
  self: '#ffffff',
  selfRing: '#4cc2ff',
};

/** Longitude difference wrapped into [-180, 180). */
function dLon(a: number, b: number): number {
  let d = a - b;
  if (d >= 180) d -= 360;
  else if (d < -180) d += 360;
  return d;
}

export class MapRenderer {
  private readonly ctx: Context2D;
  private width = 0;
  private height = 0;
  private dpr = 1;

  constructor(private readonly canvas: CanvasLike) {
    const ctx = canvas.getContext('2d', { alpha: false });
    if (!ctx) throw new Error('this browser has no 2D canvas');
    this.ctx = ctx;
  }

  /** Matches the backing store to the element's size (call on resize; cheap when unchanged). */
  resize(dpr: number): void {
    const w = Math.max(1, Math.round(this.canvas.clientWidth * dpr));
    const h = Math.max(1, Math.round(this.canvas.clientHeight * dpr));
    if (w === this.canvas.width && h === this.canvas.height && dpr === this.dpr) return;
    this.canvas.width = w;
    this.canvas.height = h;
    this.width = this.canvas.clientWidth;
    this.height = this.canvas.clientHeight;
    this.dpr = dpr;
  }

  draw(scene: Scene): void {
    const { ctx, width: w, height: h } = this;
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    ctx.fillStyle = COLORS.bg;
    ctx.fillRect(0, 0, w, h);
    const self = scene.self;
    if (!self) return;
    const cx = w / 2;
    const cy = h / 2;
    const scale = (Math.min(w, h) / 2 / (scene.aoiRadiusM * 1.12)) * scene.zoom; // px per metre
    const cosLat = Math.cos(self.lat * DEG);
    const kx = M_PER_DEG * cosLat * scale;
    const ky = M_PER_DEG * scale;

    this.grid(self, scale, cosLat, cx, cy);

    // Zone borders: each cell's polygon; the player's own zone lightly filled.
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = COLORS.zone;
    ctx.font = '11px ui-monospace, monospace';
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    for (const z of scene.zones) {
      ctx.beginPath();
      for (let i = 0; i < z.boundary.length; i++) {
        const [lat, lon] = z.boundary[i]!;
        const x = cx + dLon(lon, self.lon) * kx;
        const y = cy - (lat - self.lat) * ky;
        if (i === 0) ctx.moveTo(x, y);
        else ctx.lineTo(x, y);
      }
      ctx.closePath();
      if (z.zone === scene.zone) {
        ctx.fillStyle = COLORS.zoneFill;
        ctx.fill();
      }
      ctx.stroke();
      const lx = cx + dLon(z.center[1], self.lon) * kx;
      const ly = cy - (z.center[0] - self.lat) * ky;
      if (lx > -100 && lx < w + 100 && ly > -20 && ly < h + 20) {
        ctx.fillStyle = COLORS.zoneLabel;
        ctx.fillText(z.zone, lx, ly);
      }
    }

    // Area of interest: what the server shows this player.
    ctx.strokeStyle = COLORS.aoi;
    ctx.lineWidth = 1;
    ctx.setLineDash([4, 6]);
    ctx.beginPath();
    ctx.arc(cx, cy, scene.aoiRadiusM * scale, 0, Math.PI * 2);
    ctx.stroke();
    ctx.setLineDash([]);

    // Entities: NPCs then players, each a dot with a short heading tick.
    const r = Math.max(3, Math.min(7, 1.2 * scale));
    for (const pass of [1, 0]) {
      ctx.fillStyle = pass === PLAYER_KIND ? COLORS.player : COLORS.npc;
      ctx.strokeStyle = ctx.fillStyle;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      for (const e of scene.entities) {
        if (e.id === scene.selfId || (e.kind === PLAYER_KIND) !== (pass === PLAYER_KIND)) continue;
        const x = cx + dLon(e.lon, self.lon) * kx;
        const y = cy - (e.lat - self.lat) * ky;
        if (x < -10 || x > w + 10 || y < -10 || y > h + 10) continue;
        ctx.moveTo(x + r, y);
        ctx.arc(x, y, r, 0, Math.PI * 2);
        const hd = e.heading * DEG;
        ctx.moveTo(x, y);
        ctx.lineTo(x + Math.sin(hd) * r * 2.2, y - Math.cos(hd) * r * 2.2);
      }
      ctx.fill();
      ctx.stroke();
    }

    // The player: a triangle pointing along its heading, in a ring.
    const hd = self.heading * DEG;
    const s = 10;
    const sin = Math.sin(hd);
    const cos = Math.cos(hd);
    ctx.strokeStyle = COLORS.selfRing;
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.arc(cx, cy, s + 4, 0, Math.PI * 2);
    ctx.stroke();
    ctx.fillStyle = COLORS.self;
    ctx.beginPath();
    ctx.moveTo(cx + sin * s, cy - cos * s);
    ctx.lineTo(cx - sin * s * 0.6 - cos * s * 0.6, cy + cos * s * 0.6 - sin * s * 0.6);
    ctx.lineTo(cx - sin * s * 0.6 + cos * s * 0.6, cy + cos * s * 0.6 + sin * s * 0.6);
    ctx.closePath();
    ctx.fill();

    // Scale bar.
    const barM = niceLength(80 / scale);
    ctx.strokeStyle = COLORS.zoneLabel;
    ctx.fillStyle = COLORS.zoneLabel;
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.moveTo(w - 20 - barM * scale, h - 20);
    ctx.lineTo(w - 20, h - 20);
    ctx.stroke();
    ctx.textAlign = 'right';
    ctx.textBaseline = 'bottom';
    ctx.fillText(`${barM} m`, w - 20, h - 24);
  }

  /** Grid lines fixed to the ground (they slide as the player walks). */
  private grid(self: Pose2D, scale: number, cosLat: number, cx: number, cy: number): void {
    const { ctx, width: w, height: h } = this;
    const step = niceLength(40 / scale);
    const px = step * scale;
    const east = self.lon * M_PER_DEG * cosLat;
    const north = self.lat * M_PER_DEG;
    for (const major of [false, true]) {
      const every = major ? 5 : 1;
      ctx.strokeStyle = major ? COLORS.gridMajor : COLORS.grid;
      ctx.lineWidth = 1;
      ctx.beginPath();
      const x0 = cx - mod(east, step * every) * scale;
      for (let x = mod(x0, px * every); x < w; x += px * every) {
        ctx.moveTo(x, 0);
        ctx.lineTo(x, h);
      }
      const y0 = cy + mod(north, step * every) * scale;
      for (let y = mod(y0, px * every); y < h; y += px * every) {
        ctx.moveTo(0, y);
        ctx.lineTo(w, y);
      }
      ctx.stroke();
    }
  }
}

function mod(a: number, m: number): number {
  return ((a % m) + m) % m;
}

/** 1, 2 or 5 times a power of ten, at least `m`. */
function niceLength(m: number): number {
  const p = Math.pow(10, Math.floor(Math.log10(Math.max(m, 1e-3))));
  for (const f of [1, 2, 5, 10]) if (f * p >= m) return f * p;
  return 10 * p;
}
