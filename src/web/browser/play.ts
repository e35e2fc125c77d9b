// The player's page: log in (or register), then the map of the player's surroundings, moved with
// WASD or the arrow keys, and a HUD (ping, zone, entities in view, bytes per second).
// Built by src/web/bundle.ts into /assets/play.js; all game traffic goes through the SDK.
import { BlueMarbleClient } from '../../client/index.ts';
import type { DisconnectedEvent, KickEvent, RejectedEvent, ZoneChangedEvent } from '../../client/index.ts';
import { byId, win } from './dom.ts';
import type { CanvasLike, InputLike, KeyboardEventLike } from './dom.ts';
import { MapRenderer } from './render.ts';
import type { ZoneShape } from './render.ts';

const TOKEN_KEY = 'bluemarble.token';
const ACTION_WAVE = 1;
const ACTION_JUMP = 2;
/** Frame times kept for the debug state (about 10 s at 60 Hz). */
const FRAME_RING = 600;

type Mode = 'login' | 'register';

const form = byId('login');
const username = byId<InputLike>('username');
const email = byId<InputLike>('email');
const password = byId<InputLike>('password');
const submit = byId<InputLike>('submit');
const errorBox = byId('login-error');
const game = byId('game');
const canvas = byId<CanvasLike>('map');
const statusBox = byId('status');
const hud = {
  ping: byId('hud-ping'),
  zone: byId('hud-zone'),
  view: byId('hud-view'),
  bytes: byId('hud-bytes'),
};

let mode: Mode = 'login';
let client: BlueMarbleClient | undefined;
let aoiRadiusM = 200;
let maxSpeed = 6;
let selfId = 0;
let zoom = 1;
let running = false;

// ---- log in / register ---------------------------------------------------------------------

function setMode(next: Mode): void {
  mode = next;
  const reg = next === 'register';
  byId('email-row').classList.toggle('hidden', !reg);
  email.required = reg;
  password.autocomplete = reg ? 'new-password' : 'current-password';
  byId('login-title').textContent = reg ? 'Create an account' : 'Log in to play';
  submit.textContent = reg ? 'Register and play' : 'Log in';
  byId('switch-text').textContent = reg ? 'Have an account?' : 'No account?';
  byId('switch-mode').textContent = reg ? 'Log in' : 'Register';
  errorBox.textContent = '';
}

byId('switch-mode').addEventListener('click', () => setMode(mode === 'login' ? 'register' : 'login'));

function newClient(): BlueMarbleClient {
  void client?.close();
  currentZone = '0';
  return new BlueMarbleClient({ baseUrl: win.location.origin });
}

form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  void (async () => {
    submit.disabled = true;
    errorBox.textContent = '';
    try {
      const c = newClient();
      client = c;
      const user = username.value.trim();
      if (mode === 'register') await c.register({ username: user, email: email.value.trim(), password: password.value });
      await c.login({ username: user, password: password.value });
      // Kept for this tab only, so a reload resumes the session without asking again.
      if (c.token) win.sessionStorage.setItem(TOKEN_KEY, c.token);
      password.value = '';
      await enterGame(c);
    } catch (err) {
      errorBox.textContent = messageOf(err);
      showLogin();
    } finally {
      submit.disabled = false;
    }
  })();
});

function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'object' && err !== null && 'message' in err) return String(err.message);
  return String(err);
}

function showLogin(): void {
  running = false;
  game.classList.add('hidden');
  form.classList.remove('hidden');
  username.focus();
}

// ---- the game ------------------------------------------------------------------------------

async function enterGame(c: BlueMarbleClient): Promise<void> {
  status('connecting…');
  let lastKick: KickEvent | undefined;
  c.on('kicked', (e: KickEvent) => {
    lastKick = e;
  });
  c.on('disconnected', (e: DisconnectedEvent) => {
    if (e.willReconnect) {
      status('connection lost, reconnecting…', true);
      return;
    }
    status('disconnected', true);
    // A kick the SDK does not recover from (logged in elsewhere, logged out, unauthorized, ...)
    // ends the session: back to the form.
    if (e.kickReason !== undefined && client === c) {
      win.sessionStorage.removeItem(TOKEN_KEY);
      errorBox.textContent = `The server ended the session: ${lastKick?.reasonName ?? `kick ${e.kickReason}`}.`;
      showLogin();
    }
  });
  c.on('reconnecting', (e) => status(`reconnecting (attempt ${e.attempt})…`, true));
  c.on('connected', (e) => status(e.reconnected ? 'reconnected' : 'connected'));
  c.on('zoneChanged', (e: ZoneChangedEvent) => {
    currentZone = e.to;
    void loadZones();
  });
  c.on('rejected', (e: RejectedEvent) => {
    if (debug.rejects.length < 100) debug.rejects.push(e.reasonName);
  });
  const welcome = await c.connect();
  aoiRadiusM = welcome.aoiRadius;
  maxSpeed = welcome.maxSpeed;
  selfId = welcome.entityId;
  status('connected');
  form.classList.add('hidden');
  game.classList.remove('hidden');
  canvas.focus();
  if (!running) {
    running = true;
    win.requestAnimationFrame(frame);
  }
}

function status(text: string, warn = false): void {
  statusBox.textContent = text;
  statusBox.classList.toggle('warn', warn);
}

// ---- zone borders (from the server: the bundle carries no H3 code) -------------------------

let zones: ZoneShape[] = [];
let currentZone = '0';
let zonesFor = '';
let zonesLoading = false;

async function loadZones(): Promise<void> {
  const self = client?.self;
  const zone = currentZone;
  if (!self || zonesLoading || zone === zonesFor || zone === '0') return;
  zonesLoading = true;
  try {
    const res = await win.fetch(`/api/zones/near?lat=${self.lat.toFixed(7)}&lon=${self.lon.toFixed(7)}&rings=1`);
    if (res.ok) {
      const body = (await res.json()) as { zone: string; cells: ZoneShape[] };
      zones = body.cells;
      zonesFor = zone;
    }
  } catch {
    // Retried on the next HUD update.
  } finally {
    zonesLoading = false;
  }
}

// ---- keyboard ------------------------------------------------------------------------------

const held = new Set<string>();
const KEYS: Record<string, [number, number]> = {
  KeyW: [0, 1],
  ArrowUp: [0, 1],
  KeyS: [0, -1],
  ArrowDown: [0, -1],
  KeyA: [-1, 0],
  ArrowLeft: [-1, 0],
  KeyD: [1, 0],
  ArrowRight: [1, 0],
};

function updateMove(): void {
  let east = 0;
  let north = 0;
  for (const code of held) {
    const v = KEYS[code];
    if (v) {
      east += v[0];
      north += v[1];
    }
  }
  east = Math.sign(east);
  north = Math.sign(north);
  const len = Math.hypot(east, north);
  // A little under the limit, so rounding to cm/s never crosses it.
  const speed = len > 0 ? (maxSpeed * 0.98) / len : 0;
  client?.setMove({ east: east * speed, north: north * speed, up: 0 });
}

win.addEventListener('keydown', (e) => {
  const ev = e as KeyboardEventLike;
  if (!running || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (KEYS[ev.code]) {
    ev.preventDefault();
    if (!held.has(ev.code)) {
      held.add(ev.code);
      updateMove();
    }
  } else if (ev.code === 'Space' && !ev.repeat) {
    ev.preventDefault();
    client?.act(ACTION_JUMP);
  } else if (ev.code === 'KeyE' && !ev.repeat) {
    client?.act(ACTION_WAVE);
  } else if (ev.key === '+' || ev.key === '=') {
    zoom = Math.min(8, zoom * 1.25);
  } else if (ev.key === '-') {
    zoom = Math.max(0.125, zoom / 1.25);
  }
});

win.addEventListener('keyup', (e) => {
  const ev = e as KeyboardEventLike;
  if (held.delete(ev.code)) updateMove();
});

// Keys released while the window had no focus never send keyup: stop walking.
win.addEventListener('blur', () => {
  held.clear();
  updateMove();
});

// ---- render loop, HUD ----------------------------------------------------------------------

const renderer = new MapRenderer(canvas);
const intervals = new Float64Array(FRAME_RING);
const work = new Float64Array(FRAME_RING);
let frames = 0;
let lastFrameAt = 0;
let lastHudAt = 0;

function frame(now: number): void {
  if (!running || !client) return;
  const t0 = win.performance.now();
  client.sample(now);
  renderer.resize(win.devicePixelRatio || 1);
  renderer.draw({
    self: client.self,
    entities: client.entities.values(),
    selfId,
    zone: currentZone,
    zones,
    aoiRadiusM,
    zoom,
  });
  if (now - lastHudAt >= 250) {
    lastHudAt = now;
    updateHud();
    void loadZones();
  }
  const i = frames % FRAME_RING;
  intervals[i] = lastFrameAt > 0 ? now - lastFrameAt : 0;
  work[i] = win.performance.now() - t0;
  lastFrameAt = now;
  frames++;
  win.requestAnimationFrame(frame);
}

function updateHud(): void {
  const s = client?.stats;
  if (!s) return;
  hud.ping.textContent = Number.isFinite(s.rttMs) ? `${Math.round(s.rttMs)} ms` : '-';
  if (s.zone !== undefined) currentZone = s.zone;
  hud.zone.textContent = currentZone === '0' ? '-' : currentZone;
  hud.view.textContent = String(s.inView);
  hud.bytes.textContent = `${formatBytes(s.bytesInPerSecond)}/s / ${formatBytes(s.bytesOutPerSecond)}/s`;
}

function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return '-';
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} kB`;
  return `${Math.round(n)} B`;
}

// ---- debug state (read-only copies; used by the browser tests) -----------------------------

function recent(ring: Float64Array): number[] {
  const n = Math.min(frames, FRAME_RING);
  const out: number[] = [];
  for (let k = frames - n; k < frames; k++) out.push(ring[k % FRAME_RING]!);
  return out;
}

const debug = {
  rejects: [] as string[],
  get connected(): boolean {
    return running;
  },
  get self(): { id: number; lat: number; lon: number; heading: number } | undefined {
    const s = client?.self;
    return s ? { id: s.id, lat: s.lat, lon: s.lon, heading: s.heading } : undefined;
  },
  get inView(): number {
    return client?.entities.size ?? 0;
  },
  get stats(): Record<string, unknown> {
    return client ? { ...client.stats } : {};
  },
  get zones(): string[] {
    return zones.map((z) => z.zone);
  },
  entities(): Array<{ id: number; kind: number; lat: number; lon: number }> {
    return Array.from(client?.entities.values() ?? [], (e) => ({ id: e.id, kind: e.kind, lat: e.lat, lon: e.lon }));
  },
  /** Times between animation frames and the time each frame's work took (ms), oldest first. */
  frameTimes(): { intervals: number[]; work: number[] } {
    return { intervals: recent(intervals).slice(1), work: recent(work).slice(1) };
  },
};
win.bluemarble = debug;

// ---- start ---------------------------------------------------------------------------------

setMode('login');
const saved = win.sessionStorage.getItem(TOKEN_KEY);
if (saved) {
  const c = newClient();
  client = c;
  c.useToken(saved);
  enterGame(c).catch(() => {
    win.sessionStorage.removeItem(TOKEN_KEY);
    showLogin();
  });
} else {
  showLogin();
}
