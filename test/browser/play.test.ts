// The game and the ops dashboard in a real browser (headless Chromium): register and log in
// through the form, walk with the keyboard, watch bots appear and move, measure frame times with
// 100 NPCs in view, and read the player count on /ops. Screenshots go to test-results/.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import WebSocket from 'ws';
import { botTokens } from '../../src/bots/accounts.ts';
import { runBots } from '../../src/bots/bots.ts';
import type { BotSummary } from '../../src/bots/bots.ts';
import type { WebSocketLike } from '../../src/client/connection.ts';
import { startTestServer } from '../helpers/server.ts';
import { RESULTS_DIR, browserSkip, launchBrowser, percentile } from './chromium.ts';

interface DebugState {
  connected: boolean;
  self: { id: number; lat: number; lon: number; heading: number } | undefined;
  inView: number;
  zones: string[];
  stats: Record<string, unknown>;
  entities(): Array<{ id: number; kind: number; lat: number; lon: number }>;
  frameTimes(): { intervals: number[]; work: number[] };
}

const NPCS = 100;
const PLAYER_KIND = 0;
const DEG_M = 111_195;

const skip = browserSkip();

/** Reads the page's debug state (window.bluemarble). */
function state<T>(page: Page, fn: (b: DebugState) => T): Promise<T> {
  return page.evaluate(`(${fn.toString()})(window.bluemarble)`) as Promise<T>;
}

async function until<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: T = await read();
  while (!ok(last)) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last value ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
    last = await read();
  }
  return last;
}

function metresBetween(a: { lat: number; lon: number }, b: { lat: number; lon: number }): { east: number; north: number } {
  return { east: (b.lon - a.lon) * DEG_M * Math.cos((a.lat * Math.PI) / 180), north: (b.lat - a.lat) * DEG_M };
}

describe('browser client', { skip }, () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  const bots = new AbortController();
  let botRun: Promise<BotSummary> | undefined;

  before(async () => {
    server = await startTestServer(['--guests', 'false', '--npcs', String(NPCS), '--spawn-radius', '60']);
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (msg) => {
      if (msg.type() === 'error') pageErrors.push(msg.text());
    });
  });

  after(async () => {
    bots.abort();
    await botRun?.catch(() => undefined);
    await browser?.close();
    await server?.close();
  });

  it('registers and logs in through the form, then shows the map, zone borders and HUD', async () => {
    await page.goto(`${server.url}/`);
    await page.click('#switch-mode');
    await page.fill('#username', 'webber');
    await page.fill('#email', 'webber@example.com');
    await page.fill('#password', 'correct horse battery');
    await page.screenshot({ path: join(RESULTS_DIR, 'play-1-register.png') });
    await page.click('#submit');
    const self = await until('the own player', () => state(page, (b) => b.self), (s) => s !== undefined);
    assert.ok(self && self.id > 1_000_000, 'an account player entity id');
    await until('7 zone cells', () => state(page, (b) => b.zones.length), (n) => n === 7);
    await until('the HUD', () => page.textContent('#hud-zone'), (t) => /^[0-9a-f]{15}$/.test(t ?? ''));
    await until('a ping', () => page.textContent('#hud-ping'), (t) => /\d+ ms/.test(t ?? ''), 5000);
    assert.equal(await page.isVisible('#login'), false);
  });

  it(`renders at the display's frame rate with ${NPCS} entities in view`, async () => {
    const inView = await until('the NPCs in view', () => state(page, (b) => b.inView), (n) => n >= NPCS * 0.9, 15_000);
    // Three seconds of frames, all with ~100 entities in view.
    await new Promise((r) => setTimeout(r, 3200));
    const { intervals, work } = await state(page, (b) => b.frameTimes());
    // The frames of the last 3 s (walking back from the newest).
    let n = 0;
    for (let ms = 0; n < intervals.length && ms < 3000; n++) ms += intervals[intervals.length - 1 - n]!;
    const recent = intervals.slice(-n);
    const recentWork = work.slice(-n);
    const figures = {
      entitiesInView: inView,
      frames: recent.length,
      intervalP50Ms: percentile(recent, 50),
      intervalP99Ms: percentile(recent, 99),
      intervalMaxMs: Math.max(...recent),
      workP50Ms: percentile(recentWork, 50),
      workP99Ms: percentile(recentWork, 99),
    };
    console.log(`# frame times with ${inView} entities in view: ${JSON.stringify(figures)}`);
    writeFileSync(join(RESULTS_DIR, 'frame-times.json'), JSON.stringify(figures, null, 2) + '\n');
    await page.screenshot({ path: join(RESULTS_DIR, 'play-2-npcs.png') });
    // The display runs at 60 Hz: a frame every 16.7 ms, none dropped at the median. The p99
    // interval is reported, not asserted: inside the parallel `npm test` the machine's CPU is
    // shared with other suites and software rendering, and the stalls that causes are not the
    // page's. What the page itself costs per frame is asserted instead.
    assert.ok(recent.length >= 60, `only ${recent.length} frames in 3 s`);
    assert.ok(figures.intervalP50Ms < 20, `median frame interval ${figures.intervalP50Ms} ms`);
    assert.ok(figures.workP99Ms < 8, `p99 frame work ${figures.workP99Ms} ms`);
  });

  it('walks with the keyboard: D goes east, W north', async () => {
    const start = await state(page, (b) => b.self!);
    await page.keyboard.down('d');
    await new Promise((r) => setTimeout(r, 1200));
    await page.keyboard.up('d');
    await page.keyboard.down('ArrowUp');
    await new Promise((r) => setTimeout(r, 1200));
    await page.keyboard.up('ArrowUp');
    await new Promise((r) => setTimeout(r, 500));
    const end = await state(page, (b) => b.self!);
    const moved = metresBetween(start, end);
    console.log(`# walked ${moved.east.toFixed(1)} m east, ${moved.north.toFixed(1)} m north`);
    // 6 m/s for 1.2 s each way, give or take latency and a busy machine stretching the hold.
    assert.ok(moved.east > 4 && moved.east < 14, `east ${moved.east} m`);
    assert.ok(moved.north > 4 && moved.north < 14, `north ${moved.north} m`);
    // Standing still again.
    const still = await state(page, (b) => b.self!);
    await new Promise((r) => setTimeout(r, 400));
    const after = await state(page, (b) => b.self!);
    const drift = metresBetween(still, after);
    assert.ok(Math.hypot(drift.east, drift.north) < 0.5);
    await page.screenshot({ path: join(RESULTS_DIR, 'play-3-walked.png') });
  });

  it('shows bots appear and move', async () => {
    const tokens = await botTokens({ httpUrl: server.url, prefix: 'webbot', first: 0, count: 3, password: 'webbot-password-1' });
    botRun = runBots({
      url: server.wsUrl,
      count: 3,
      durationS: 120,
      rampS: 0.3,
      tokens,
      signal: bots.signal,
      createSocket: (url) => new WebSocket(url) as unknown as WebSocketLike,
    });
    const selfId = (await state(page, (b) => b.self!)).id;
    const players = (): Promise<Array<{ id: number; kind: number; lat: number; lon: number }>> =>
      state(page, (b) => b.entities()).then((es) => es.filter((e) => e.kind === PLAYER_KIND && e.id !== selfId));
    const first = await until('3 bots in view', players, (ps) => ps.length >= 3, 15_000);
    await new Promise((r) => setTimeout(r, 1500));
    const later = await players();
    const moves = first.map((a) => {
      const b = later.find((e) => e.id === a.id);
      if (!b) return 0;
      const d = metresBetween(a, b);
      return Math.hypot(d.east, d.north);
    });
    console.log(`# bots moved ${moves.map((m) => m.toFixed(1)).join(', ')} m in 1.5 s`);
    assert.ok(moves.some((m) => m > 1), 'at least one bot moved');
    await page.screenshot({ path: join(RESULTS_DIR, 'play-4-bots.png') });
  });

  it('opens /ops and reads the player count', async () => {
    const ops = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    ops.on('pageerror', (err) => pageErrors.push(err.message));
    await ops.goto(`${server.url}/ops`);
    const count = await until('4 players on /ops', () => ops.textContent('#players'), (t) => t === '4', 10_000);
    assert.equal(count, '4');
    await until('zone rows', () => ops.locator('#zone-rows tr').count(), (n) => n >= 1);
    assert.match((await ops.textContent('#entities')) ?? '', /^\d+$/);
    // Let the charts gather a few seconds.
    await new Promise((r) => setTimeout(r, 3000));
    await ops.screenshot({ path: join(RESULTS_DIR, 'ops.png'), fullPage: true });
    await ops.close();
  });

  it('raised no errors in the pages', () => {
    assert.deepEqual(pageErrors, []);
  });
});
