// The server under test, behind one small interface so the runner does not care what it is:
// a target is started with the scenario's world, gives a URL (and, when it can, the process id
// whose CPU and memory are sampled), and is stopped. `bluemarble` (a child process this command
// starts) and `url` (a server already running) are the two here; another engine (e.g. Colyseus,
// for comparison) is one more implementation of Target.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startScript } from './proc.ts';
import type { Child } from './proc.ts';

/** What a scenario asks of the world; each target maps it onto its own configuration. */
export interface WorldSpec {
  spawnLat: number;
  spawnLon: number;
  spawnRadiusM: number;
  npcs: number;
  /** The most players the scenario may connect at once. */
  maxPlayers: number;
}

export interface TargetInfo {
  /** Where bots connect (ws:// or wss://). */
  wsUrl: string;
  /** HTTP base URL: /stats and /metrics are read from it. */
  httpUrl: string;
  /** The server process, for CPU and memory from /proc; undefined when not known. */
  pid: number | undefined;
}

export interface Target {
  readonly kind: string;
  /** Extra server arguments (reported with the result). */
  readonly serverArgs: string[];
  start(world: WorldSpec, signal: AbortSignal): Promise<TargetInfo>;
  stop(): Promise<void>;
  /** Server log lines at warn or above so far (empty when not visible). */
  warnings(): string[];
}

const BIN = fileURLToPath(new URL('../../bin/bluemarble.js', import.meta.url));

/** `bluemarble start` as a child process on a free port, with its data in a temporary folder. */
export class BluemarbleTarget implements Target {
  readonly kind = 'bluemarble';
  private child: Child | undefined;
  private dataDir: string | undefined;

  constructor(readonly serverArgs: string[] = []) {}

  async start(world: WorldSpec, signal: AbortSignal): Promise<TargetInfo> {
    this.dataDir = mkdtempSync(join(tmpdir(), 'bluemarble-loadtest-'));
    const child = startScript(BIN, [
      'start',
      '--port',
      '0',
      '--log-level',
      'warn',
      '--data',
      this.dataDir,
      '--npcs',
      String(world.npcs),
      '--spawn-lat',
      String(world.spawnLat),
      '--spawn-lon',
      String(world.spawnLon),
      '--spawn-radius',
      String(Math.round(world.spawnRadiusM * 10) / 10),
      '--max-players',
      String(Math.max(10_000, world.maxPlayers * 2)),
      // The world's cost, not argon2's: bots join as guests (see docs/loadtest.md).
      '--guests',
      'true',
      ...this.serverArgs,
    ]);
    this.child = child;
    const onAbort = (): void => void child.stop(1000);
    signal.addEventListener('abort', onAbort, { once: true });
    const m = await child.waitForLine(/WebSocket:\s+(ws:\/\/\S+)/, 30_000);
    signal.removeEventListener('abort', onAbort);
    if (!m) {
      const out = [...child.stdoutLines, ...child.stderrLines].slice(-20).join('\n');
      await this.stop();
      throw new Error(`the server did not start:\n${out}`);
    }
    const wsUrl = m[1]!;
    return { wsUrl, httpUrl: wsUrl.replace(/^ws:/, 'http:').replace(/\/ws$/, ''), pid: child.pid };
  }

  async stop(): Promise<void> {
    await this.child?.stop(5000);
    if (this.dataDir !== undefined) rmSync(this.dataDir, { recursive: true, force: true });
    this.dataDir = undefined;
  }

  warnings(): string[] {
    const c = this.child;
    if (!c) return [];
    const out: string[] = [];
    for (const l of c.stdoutLines) {
      const m = l.match(/"level":(\d+)/);
      if (m && Number(m[1]) >= 40) out.push(l);
    }
    for (const l of c.stderrLines) if (l.trim() !== '') out.push(l);
    return out;
  }
}

/**
 * A server that is already running (--url). The world is whatever it was started with (the
 * scenario's spawn is not applied); CPU and memory come from its process_* metrics unless --pid
 * names its process on this machine. It must allow guests (--guests true).
 */
export class UrlTarget implements Target {
  readonly kind = 'url';
  readonly serverArgs: string[] = [];

  constructor(
    private readonly wsUrl: string,
    private readonly pid: number | undefined,
  ) {}

  async start(): Promise<TargetInfo> {
    const u = new URL(this.wsUrl);
    u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
    const httpUrl = `${u.origin}${u.pathname.replace(/\/ws\/?$/, '').replace(/\/+$/, '')}`;
    return { wsUrl: this.wsUrl, httpUrl, pid: this.pid };
  }

  async stop(): Promise<void> {}

  warnings(): string[] {
    return [];
  }
}
