// Scenario `cache`: hit rates of the L1/L2 cache tiers for player profiles and item definitions
// during a bot run. The server requires accounts (the default); the bots register or reuse theirs,
// log in (each login loads the character through the profile cache), play, and look up the
// nameplates of players they see and the items they find, as a game client does. The rates come
// from the server's own counters (/metrics), over the whole run: cold start included.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBluemarble, waitExit, type Child } from './proc.ts';
import { progress, round, table } from './util.ts';

export interface CacheSpaceFigures {
  space: 'player' | 'item';
  requests: number;
  l1Hits: number;
  l2Hits: number;
  /** Database loads. */
  loads: number;
  /** (L1 hits + L2 hits) / requests */
  hitRate: number;
}

export interface CacheResult {
  clients: number;
  durationS: number;
  redis: boolean;
  /** 'new accounts': a fresh world, the bots register; 'returning': a restarted server, cold caches, existing accounts. */
  passes: CachePass[];
}

export interface CachePass {
  phase: 'new accounts' | 'returning';
  /** Over the bots' measurement window only (after logins and ramp): the steady state. */
  window: CacheSpaceFigures[];
  clients: number;
  connected: number;
  durationS: number;
  redis: boolean;
  lookups: number;
  lookupsDropped: number;
  loginSeconds: number;
  spaces: CacheSpaceFigures[];
}

/** Sum of the samples of a counter matching every label given. */
function sampleSum(text: string, name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const close = line.indexOf('}');
    const lbl = line.slice(name.length + 1, close);
    if (Object.entries(labels).every(([k, v]) => lbl.includes(`${k}="${v}"`))) sum += Number(line.slice(close + 2));
  }
  return sum;
}

interface BotsJson {
  connected: number;
  lookups?: number;
  lookupsDropped?: number;
}

interface CacheOptions {
  clients: number;
  durationS: number;
  redis?: string;
  signal: AbortSignal;
}

/** Two passes on one world: the bots' first visit (they register), then a restart (cold caches). */
export async function runCache(opts: CacheOptions): Promise<CacheResult> {
  const dataDir = mkdtempSync(join(tmpdir(), 'bluemarble-bench-cache-'));
  try {
    const passes: CachePass[] = [];
    for (const phase of ['new accounts', 'returning'] as const) {
      if (opts.signal.aborted) break;
      progress(`cache: ${phase}`);
      passes.push(await runPass(opts, dataDir, phase));
    }
    return { clients: opts.clients, durationS: opts.durationS, redis: opts.redis !== undefined, passes };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function runPass(opts: CacheOptions, dataDir: string, phase: CachePass['phase']): Promise<CachePass> {
  const children: Child[] = [];
  try {
    // The sockets scenario's spread: 1,000 players per 10 km^2, so each sees a dozen or so.
    const spawnRadius = Math.sqrt(opts.clients / 100 / Math.PI) * 1000;
    const server = startBluemarble([
      'start',
      '--port',
      '0',
      '--log-level',
      'warn',
      '--data',
      dataDir,
      '--npcs',
      '0',
      '--spawn-radius',
      String(round(spawnRadius, 0)),
      ...(opts.redis ? ['--redis', opts.redis, '--redis-prefix', `bm:bench:${process.pid}:`] : []),
    ]);
    children.push(server);
    const m = await server.waitForLine(/WebSocket:\s+(ws:\/\/\S+)/, 30_000);
    if (!m) throw new Error(`server did not start:\n${server.stderrLines.slice(-20).join('\n')}`);
    const wsUrl = m[1]!;
    const base = wsUrl.replace(/^ws:/, 'http:').replace(/\/ws$/, '');
    const startedAt = performance.now();
    let loggedInAt = 0;
    let windowStart: Promise<string> | undefined;
    const bots = startBluemarble(
      ['bots', '--url', wsUrl, '--count', String(opts.clients), '--duration', String(opts.durationS), '--name-prefix', 'cache', '--json'],
      {
        onStderr: (l) => {
          if (/logged in \d+ bots/.test(l)) loggedInAt = performance.now();
          // The bots' first progress line of their measurement window: the steady state starts.
          if (!windowStart && /\[\d+s measure\]/.test(l)) windowStart = fetch(`${base}/metrics`).then((r) => r.text());
          progress(`  bots: ${l.trim()}`);
        },
      },
    );
    children.push(bots);
    const code = await waitExit(bots, (opts.durationS + 300) * 1000);
    const last = bots.stdoutLines.filter((l) => l.startsWith('{')).pop();
    if (code !== 0 || !last) throw new Error(`bots exited with ${code ?? 'timeout'}:\n${bots.stderrLines.slice(-20).join('\n')}`);
    const summary = JSON.parse(last) as BotsJson;
    const text = await (await fetch(`${base}/metrics`)).text();
    await server.stop();
    const before = windowStart ? await windowStart : '';
    const figures = (space: 'player' | 'item', after: string, base0: string): CacheSpaceFigures => {
      const count = (name: string, labels: Record<string, string>) => sampleSum(after, name, labels) - sampleSum(base0, name, labels);
      const l1Hits = count('bluemarble_cache_requests_total', { space, tier: 'l1', result: 'hit' });
      const l1Misses = count('bluemarble_cache_requests_total', { space, tier: 'l1', result: 'miss' });
      const l2Hits = count('bluemarble_cache_requests_total', { space, tier: 'l2', result: 'hit' });
      const loads = count('bluemarble_cache_loads_total', { space });
      const requests = l1Hits + l1Misses;
      return { space, requests, l1Hits, l2Hits, loads, hitRate: requests > 0 ? round((l1Hits + l2Hits) / requests, 4) : NaN };
    };
    const spaces = (['player', 'item'] as const).map((space) => figures(space, text, ''));
    const window = (['player', 'item'] as const).map((space) => figures(space, text, before));
    return {
      phase,
      clients: opts.clients,
      connected: summary.connected,
      durationS: opts.durationS,
      redis: opts.redis !== undefined,
      lookups: summary.lookups ?? 0,
      lookupsDropped: summary.lookupsDropped ?? 0,
      loginSeconds: loggedInAt > 0 ? round((loggedInAt - startedAt) / 1000, 1) : NaN,
      spaces,
      window,
    };
  } finally {
    for (const c of children) if (c.proc.exitCode === null) await c.stop();
  }
}

export function formatCache(r: CacheResult): string {
  const pct = (v: number) => `${round(v * 100, 1)} %`;
  return (
    r.passes
      .map((p) =>
        table(
          `cache, ${p.phase}: ${p.connected}/${p.clients} bots with accounts for ${p.durationS} s${p.redis ? ' (L2: Redis)' : ' (L1 only)'}; ` +
            `${p.lookups} lookups (${p.lookupsDropped} dropped by the bots' cap), logins took ${p.loginSeconds} s`,
          ['space', 'requests', 'L1 hits', 'L2 hits', 'db loads', 'hit rate'],
          [
            ...p.spaces.map((s) => [`${s.space}, whole run`, s.requests, s.l1Hits, s.l2Hits, s.loads, pct(s.hitRate)]),
            ...p.window.map((s) => [`${s.space}, measured window`, s.requests, s.l1Hits, s.l2Hits, s.loads, pct(s.hitRate)]),
          ],
        ),
      )
      .join('\n') + 'whole run: cold start and logins included; measured window: after the logins and ramp (target >= 90 %)\n'
  );
}
