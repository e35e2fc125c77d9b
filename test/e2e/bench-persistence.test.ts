// Smoke test of the persistence benchmarks through the `bluemarble bench` command: the quick forms
// shrunk further with --players/--live/--seconds so the run takes seconds. It checks that every
// figure arrives in the --json object, not what the figures are (this machine may be busy).
// PostgreSQL rows are measured when it is reachable, and otherwise must say they were skipped.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { POSTGRES_URL, serviceSkip } from '../helpers/services.ts';

const BIN = join(import.meta.dirname, '../../bin/bluemarble.js');

interface Report {
  saves?: { rows: Array<Record<string, unknown> & { adapter: string; skipped?: string }> };
  logins?: { rows: Array<Record<string, unknown> & { concurrency: number }> };
  'save-tick'?: {
    rows: Array<
      Record<string, unknown> & {
        adapter: string;
        skipped?: string;
        idle?: Record<string, number>;
        saving?: Record<string, number>;
        ratio?: Record<string, number>;
      }
    >;
  };
}

function positive(obj: Record<string, unknown>, keys: readonly string[], what: string): void {
  for (const k of keys) {
    const v = obj[k];
    assert.ok(typeof v === 'number' && Number.isFinite(v) && v > 0, `${what}.${k} should be a number > 0, got ${String(v)}`);
  }
}

test('bench saves logins save-tick --quick --json reports every figure', { timeout: 90_000 }, async () => {
  // Not a skip: without PostgreSQL the rows must say so, which is also checked.
  const pgUp = (await serviceSkip('postgres')) === undefined;
  const args = ['bench', 'saves', 'logins', 'save-tick', '--quick', '--json', '--players', '300', '--live', '60', '--seconds', '0.6'];
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, BLUEMARBLE_TEST_POSTGRES: POSTGRES_URL },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  assert.equal(code, 0, `exit code; stderr:\n${err}`);

  const lines = out.trim().split('\n');
  const report = JSON.parse(lines[lines.length - 1]!) as Report;
  // Tables on stdout too.
  assert.match(out, /^saves: /m);
  assert.match(out, /^logins: /m);
  assert.match(out, /^save-tick: /m);

  const saves = report.saves?.rows ?? [];
  assert.equal(saves.length, 2, 'a sqlite and a postgres row');
  for (const row of saves) {
    if (row.adapter === 'postgres' && !pgUp) {
      assert.match(row.skipped ?? '', /not reachable|refused/);
      continue;
    }
    assert.equal(row.skipped, undefined, `${row.adapter} measured`);
    positive(row, ['players', 'batches', 'playersPerSecond', 'batchMsP50', 'batchMsMax', 'mainThreadMsP50'], `saves ${row.adapter}`);
  }

  const logins = report.logins?.rows ?? [];
  assert.deepEqual(
    logins.map((r) => r.concurrency),
    [1, 4],
  );
  for (const row of logins) positive(row, ['loginsPerSecond', 'p50Ms', 'p99Ms'], `logins c=${row.concurrency}`);

  const ticks = report['save-tick']?.rows ?? [];
  assert.equal(ticks.length, 2, 'a sqlite and a postgres row');
  for (const row of ticks) {
    if (row.adapter === 'postgres' && !pgUp) {
      assert.match(row.skipped ?? '', /not reachable|refused/);
      continue;
    }
    const what = `save-tick ${row.adapter}`;
    assert.equal(row.skipped, undefined, `${what} measured`);
    positive(row, ['batches', 'writtenMin', 'batchWriteMsP50', 'submitMsP50', 'collectLiveMsP50', 'standInMsP50'], what);
    assert.equal(row.writtenMin, 300, `${what}: every save of every batch written`);
    for (const mode of ['idle', 'saving'] as const) {
      positive(row[mode] ?? {}, ['stepsPerSecond', 'zoneTickP99Ms', 'stepP99Ms', 'simStepP99Ms', 'busyPct'], `${what} ${mode}`);
      assert.ok((row[mode]?.lagP99Ms ?? -1) >= 0, `${what} ${mode}.lagP99Ms`);
    }
    positive(row.ratio ?? {}, ['zoneTickP99', 'stepP99', 'simStepP99'], `${what} ratio`);
  }
});
