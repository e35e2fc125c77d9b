// `bluemarble loadtest --smoke`: the small form of every scenario, end to end (a server and bots
// processes started by the command), so the tooling cannot rot. Each must pass its own checks
// and write the JSON and HTML report; the HTML of one run is then opened in headless Chromium
// with the network blocked, and its uPlot charts must have drawn.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, test } from 'node:test';
import { loadtestCommand } from '../../src/loadtest/cli.ts';
import { PLOTS } from '../../src/loadtest/report.ts';
import { RESULT_SCHEMA } from '../../src/loadtest/schema.ts';
import type { LoadtestResult } from '../../src/loadtest/schema.ts';
import { SCENARIO_NAMES } from '../../src/loadtest/scenarios.ts';
import { browserSkip, launchBrowser } from '../browser/chromium.ts';

const dir = mkdtempSync(join(tmpdir(), 'bluemarble-loadtest-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function loadtest(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await loadtestCommand(argv, {
    stdout: { write: (s: string) => out.push(s) },
    stderr: { write: (s: string) => err.push(s), isTTY: false },
    signal: new AbortController().signal,
  });
  return { code, out: out.join(''), err: err.join('') };
}

const htmlOf = new Map<string, string>();

for (const scenario of SCENARIO_NAMES) {
  test(`loadtest --scenario ${scenario} --smoke passes its checks and writes the report`, async () => {
    const reportDir = join(dir, scenario);
    const { code, out, err } = await loadtest(['--scenario', scenario, '--smoke', '--report', reportDir, '--json']);
    assert.equal(code, 0, `${out}\n${err}`);
    const files = readdirSync(reportDir);
    const json = files.find((f) => f.endsWith('.json'));
    const html = files.find((f) => f.endsWith('.html'));
    assert.ok(json && html, files.join(', '));
    const r = JSON.parse(readFileSync(join(reportDir, json), 'utf8')) as LoadtestResult;
    assert.equal(r.schema, RESULT_SCHEMA);
    assert.equal(r.scenario, scenario);
    assert.ok(r.checks.length > 0 && r.checks.every((c) => c.ok), JSON.stringify(r.checks));
    assert.ok(r.samples.length >= 3, `${r.samples.length} samples`);
    // Every sample carries the same fields, whatever the scenario.
    const keys = Object.keys(r.samples[0]!).sort().join(',');
    assert.ok(r.samples.every((s) => Object.keys(s).sort().join(',') === keys));
    const measured = r.samples.filter((s) => s.measured);
    assert.ok(measured.some((s) => s.tickP99Ms !== null && s.serverCpuPct !== null && s.serverRssMB !== null), 'server figures sampled');
    assert.ok(measured.some((s) => s.updateP99Ms !== null && s.bytesInPerClientPerS !== null), 'bot figures sampled');
    assert.ok((r.summary.serverRssMaxMB ?? 0) > 10);
    if (scenario === 'ramp') {
      assert.ok(r.ramp && r.ramp.levels.length >= 2 && r.ramp.stoppedBy === 'max', JSON.stringify(r.ramp));
      assert.match(out, /ramp limit\s+\d+ clients held/);
    }
    if (scenario === 'hostile') {
      assert.ok(r.hostile && r.hostile.messagesSent > 0);
    }
    // The summary table went to stdout, the JSON line last.
    assert.match(out, /input->update p50 \/ p99/);
    const last = out.trimEnd().split('\n').at(-1)!;
    assert.equal((JSON.parse(last) as { scenario: string }).scenario, scenario);
    htmlOf.set(scenario, join(reportDir, html));
  });
}

test('the HTML report renders every plot in headless Chromium without a network', async (t) => {
  const skip = browserSkip();
  if (skip !== undefined) return t.skip(skip);
  const file = htmlOf.get('hostile') ?? htmlOf.values().next().value;
  if (file === undefined || !existsSync(file)) return t.skip('no report was written by the smoke runs');
  const browser = await launchBrowser();
  try {
    const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    const requests: string[] = [];
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith('file:')) return route.continue();
      requests.push(url);
      return route.abort();
    });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(pathToFileURL(file).href);
    // Browser-side code as strings: this project's TypeScript has no DOM types.
    await page.waitForFunction('window.__loadtestReady === true', undefined, { timeout: 10_000 });
    const plots = (await page.evaluate(`Array.from(document.querySelectorAll('.plot')).map((div) => {
      const canvas = div.querySelector('.uplot canvas');
      if (!canvas) return { id: div.id, painted: 0, series: 0 };
      const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      let painted = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;
      return { id: div.id, painted, series: div.querySelectorAll('.u-legend .u-series').length };
    })`)) as { id: string; painted: number; series: number }[];
    assert.deepEqual(
      plots.map((p) => p.id),
      PLOTS.map((p) => `plot-${p.id}`),
    );
    for (const p of plots) {
      assert.ok(p.painted > 2000, `${p.id}: ${p.painted} painted pixels`);
      assert.ok(p.series >= 2, `${p.id}: ${p.series} legend entries`);
    }
    assert.deepEqual(errors, []);
    assert.deepEqual(requests, [], 'the report must not fetch anything');
    await page.screenshot({ path: join('test-results', 'loadtest-report.png'), fullPage: true });
    await context.close();
  } finally {
    await browser.close();
  }
});
