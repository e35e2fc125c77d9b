// The `bluemarble` command as a user runs it: start, answer, stop cleanly on a signal; refuse
// bad settings with a message naming the flag.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const BIN = join(import.meta.dirname, '../../bin/bluemarble.js');

function run(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, out: () => out, err: () => err };
}

test('start serves a world, prints where to connect, and stops cleanly on SIGTERM and SIGINT', async () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    const data = mkdtempSync(join(tmpdir(), 'bluemarble-cli-'));
    const p = run(['start', '--port', '0', '--data', data, '--npcs', '5'], { BLUEMARBLE_LOG_LEVEL: 'warn' });
    const until = Date.now() + 20_000;
    while (!/WebSocket:\s+ws:\/\//.test(p.out()) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    const ws = /WebSocket:\s+(ws:\/\/\S+)/.exec(p.out());
    assert.ok(ws, `printed the WebSocket URL: ${p.out()} ${p.err()}`);
    const http = ws[1]!.replace('ws://', 'http://').replace(/\/ws$/, '');
    const health = (await (await fetch(`${http}/healthz`)).json()) as { status: string };
    assert.equal(health.status, 'ok');
    p.child.kill(signal);
    assert.equal(await p.exited, 0, `exit code after ${signal}; stderr: ${p.err()}`);
    rmSync(data, { recursive: true, force: true });
  }
});

test('bad settings exit with code 2 and name the flag and environment variable', async () => {
  const a = run(['start', '--tick-rate', '45']);
  assert.equal(await a.exited, 2);
  assert.match(a.err(), /--tick-rate \(BLUEMARBLE_TICK_RATE\): 45/);
  const b = run(['start'], { BLUEMARBLE_PORT: 'eighty' });
  assert.equal(await b.exited, 2);
  assert.match(b.err(), /BLUEMARBLE_PORT/);
  const c = run(['start', '--no-such-flag']);
  assert.equal(await c.exited, 2);
  assert.match(c.err(), /no-such-flag/);
});

test('unknown command prints usage and exits 2', async () => {
  const p = run(['fly']);
  assert.equal(await p.exited, 2);
  assert.match(p.err(), /unknown command 'fly'/);
});

test('bench refuses a bad --bots-nice and --bot-procs with code 2, naming the flag', async () => {
  const a = run(['bench', 'sockets', '--bots-nice', '20']);
  assert.equal(await a.exited, 2);
  assert.match(a.err(), /--bots-nice must be an integer 0\.\.19, got '20'/);
  const b = run(['bench', 'sockets', '--bot-procs', 'two']);
  assert.equal(await b.exited, 2);
  assert.match(b.err(), /--bot-procs/);
  const c = run(['bench', 'sockets', '--repeat', '0']);
  assert.equal(await c.exited, 2);
  assert.match(c.err(), /--repeat must be an integer 1\.\.9, got '0'/);
});
