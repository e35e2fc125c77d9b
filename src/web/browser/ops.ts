// The ops dashboard: polls GET /api/ops once a second and draws what the server sampled over the
// last five minutes: players, tick times, bandwidth, rejected inputs, and the busiest zones.
// Built by src/web/bundle.ts into /assets/ops.js. Charts are drawn by hand on canvas.
import { byId, el, win } from './dom.ts';
import type { CanvasLike, ElementLike } from './dom.ts';
import type { OpsSample, OpsSnapshot } from '../ops.ts';

const POLL_MS = 1000;
let samples: OpsSample[] = [];
let windowMs = 300_000;

interface Series {
  color: string;
  value: (s: OpsSample) => number;
}

const CHARTS: Array<{ id: string; series: Series[]; format: (v: number) => string }> = [
  { id: 'chart-players', series: [{ color: '#7ee787', value: (s) => s.players }], format: (v) => String(Math.round(v)) },
  {
    id: 'chart-tick',
    series: [
      { color: '#4cc2ff', value: (s) => s.tickP50Ms },
      { color: '#ffb84c', value: (s) => s.tickP99Ms },
    ],
    format: (v) => `${v.toFixed(v < 10 ? 2 : 1)} ms`,
  },
  {
    id: 'chart-bytes',
    series: [
      { color: '#4cc2ff', value: (s) => s.bytesOutPerSecond },
      { color: '#ffb84c', value: (s) => s.bytesInPerSecond },
    ],
    format: bytes,
  },
  {
    id: 'chart-rejects',
    series: [{ color: '#ff7b7b', value: (s) => sum(s.rejects) }],
    format: (v) => v.toFixed(v < 10 && v % 1 !== 0 ? 1 : 0),
  },
];

function sum(r: Record<string, number>): number {
  let n = 0;
  for (const v of Object.values(r)) n += v;
  return n;
}

function bytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} kB`;
  return `${Math.round(n)} B`;
}

function drawChart(canvas: CanvasLike, series: Series[], format: (v: number) => string, now: number): void {
  const dpr = win.devicePixelRatio || 1;
  const w = canvas.clientWidth;
  const h = canvas.clientHeight;
  if (canvas.width !== Math.round(w * dpr)) canvas.width = Math.round(w * dpr);
  if (canvas.height !== Math.round(h * dpr)) canvas.height = Math.round(h * dpr);
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  const left = 58;
  const right = w - 6;
  const top = 8;
  const bottom = h - 18;
  let max = 0;
  for (const s of samples) for (const ser of series) max = Math.max(max, ser.value(s));
  max = niceCeil(max);
  ctx.font = '11px ui-monospace, monospace';
  ctx.fillStyle = '#8796b3';
  ctx.strokeStyle = '#24324f';
  ctx.lineWidth = 1;
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (let k = 0; k <= 4; k++) {
    const y = bottom - ((bottom - top) * k) / 4;
    ctx.beginPath();
    ctx.moveTo(left, y);
    ctx.lineTo(right, y);
    ctx.stroke();
    ctx.fillText(format((max * k) / 4), left - 6, y);
  }
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  for (let m = 0; m <= windowMs / 60_000; m++) {
    const x = right - ((right - left) * m * 60_000) / windowMs;
    ctx.fillText(m === 0 ? 'now' : `-${m} min`, Math.max(left + 16, x), bottom + 4);
  }
  const xOf = (t: number): number => right - ((now - t) / windowMs) * (right - left);
  const yOf = (v: number): number => bottom - (max > 0 ? v / max : 0) * (bottom - top);
  ctx.lineWidth = 1.5;
  for (const ser of series) {
    ctx.strokeStyle = ser.color;
    ctx.beginPath();
    let first = true;
    for (const s of samples) {
      const x = xOf(s.t);
      if (x < left) continue;
      const y = yOf(ser.value(s));
      if (first) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
      first = false;
    }
    ctx.stroke();
  }
}

function niceCeil(v: number): number {
  if (v <= 0) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const f of [1, 2, 2.5, 5, 10]) if (f * p >= v) return f * p;
  return 10 * p;
}

function render(snap: OpsSnapshot): void {
  const latest = snap.latest;
  byId('updated').textContent = `updated ${new Date(snap.now).toLocaleTimeString()} · one sample per ${snap.intervalMs / 1000} s, last ${Math.round(snap.windowSeconds / 60)} min`;
  if (latest) {
    byId('players').textContent = String(latest.players);
    byId('zones').textContent = `${latest.zones} (${latest.zonesAwake})`;
    byId('entities').textContent = String(latest.entities);
    byId('tick').textContent = `${latest.tickP50Ms.toFixed(2)} / ${latest.tickP99Ms.toFixed(2)} ms`;
    byId('bytes').textContent = `${bytes(latest.bytesInPerSecond)} / ${bytes(latest.bytesOutPerSecond)}`;
    byId('rejects').textContent = sum(latest.rejects).toFixed(0);
  }
  const now = latest?.t ?? snap.now;
  for (const c of CHARTS) drawChart(byId<CanvasLike>(c.id), c.series, c.format, now);

  const zoneRows = byId('zone-rows');
  if (snap.zones === null) {
    zoneRows.replaceChildren(row(['per-zone figures are not available with --zone-threads 1', '', '', '', '']));
  } else {
    const most = Math.max(1, ...snap.zones.map((z) => z.entities));
    zoneRows.replaceChildren(
      ...snap.zones.map((z) => {
        const bar = el('div', '', 'bar');
        bar.style.width = `${Math.round((z.entities / most) * 100)}%`;
        const tr = row([z.zone, String(z.players), String(z.entities), z.awake ? 'awake' : 'asleep', bar]);
        tr.title = `centre ${z.center[0]}, ${z.center[1]}`;
        return tr;
      }),
    );
    if (snap.zoneCount > snap.zones.length) zoneRows.append(row([`… and ${snap.zoneCount - snap.zones.length} more`, '', '', '', '']));
  }
  const reasons = new Set([...Object.keys(snap.rejectsTotal), ...Object.keys(latest?.rejects ?? {})]);
  const rejectRows = byId('reject-rows');
  rejectRows.replaceChildren(
    ...(reasons.size === 0
      ? [row(['none', '0', '0'])]
      : [...reasons].sort().map((r) => row([r, String(latest?.rejects[r] ?? 0), String(snap.rejectsTotal[r] ?? 0)]))),
  );
}

function row(cells: Array<string | ElementLike>): ElementLike {
  const tr = el('tr');
  cells.forEach((c, i) => {
    if (typeof c === 'string') {
      tr.append(el('td', c, i > 0 && /^[\d.]+$/.test(c) ? 'n' : ''));
    } else {
      const td = el('td');
      td.append(c);
      tr.append(td);
    }
  });
  return tr;
}

async function poll(): Promise<void> {
  try {
    const since = samples.at(-1)?.t ?? 0;
    const res = await win.fetch(`/api/ops${since > 0 ? `?since=${since}` : ''}`);
    if (res.ok) {
      const snap = (await res.json()) as OpsSnapshot;
      windowMs = snap.windowSeconds * 1000;
      samples = samples.concat(snap.samples).filter((s) => s.t > snap.now - windowMs);
      render({ ...snap, samples });
    } else {
      byId('updated').textContent = `the server answered ${res.status}`;
    }
  } catch {
    byId('updated').textContent = 'the server cannot be reached; retrying';
  }
  win.setTimeout(() => void poll(), POLL_MS);
}

win.bluemarble = {
  get samples(): number {
    return samples.length;
  },
  get players(): number | undefined {
    return samples.at(-1)?.players;
  },
};
void poll();
