// What a run leaves behind: the summary table (stdout), the raw samples as JSON, and a
// self-contained HTML report whose plots are drawn by uPlot (its JS and CSS inlined from
// node_modules, so the file opens in any browser without a network).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { LoadtestResult } from './schema.ts';

function fmt(v: number | null | undefined, digits = 1): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '-';
  return Number.isInteger(v) ? String(v) : v.toFixed(digits);
}

function counts(r: Record<string, number>): string {
  const e = Object.entries(r).filter(([, n]) => n > 0);
  return e.length === 0 ? 'none' : e.map(([k, n]) => `${k}=${n}`).join(', ');
}

/** Rows of the summary (label, value): the table on stdout and in the HTML. */
export function summaryRows(r: LoadtestResult): [string, string][] {
  const s = r.summary;
  const rows: [string, string][] = [
    ['scenario', `${r.scenario}${r.config.smoke ? ' (smoke)' : ''}: ${r.description}`],
    ['target', `${r.config.target.kind} ${r.config.target.url}`],
    ['clients', r.ramp ? `held ${s.clients} (peak connected ${s.peakConnected})` : `${s.clients} (peak connected ${s.peakConnected})`],
    ['measured', `${s.measuredSeconds} s (after ${r.config.rampS} s connecting + ${r.config.warmupS} s warm-up)`],
    ['bots processes', `${r.config.botProcesses}${r.config.botsNice ? `, at nice ${r.config.botsNice}` : ''}`],
    ['frames / client / s', fmt(s.framesPerClientPerS, 2)],
    ['bytes in / out per client / s', `${fmt(s.bytesInPerClientPerS, 0)} / ${fmt(s.bytesOutPerClientPerS, 0)}`],
    ['input->update p50 / p99', `${fmt(s.updateP50Ms)} / ${fmt(s.updateP99Ms)} ms`],
    ['rtt p50 / p99', `${fmt(s.rttP50Ms)} / ${fmt(s.rttP99Ms)} ms`],
    ['tick p50 / p99 (worst second)', `${fmt(s.tickP50Ms, 2)} / ${fmt(s.tickP99Ms, 2)} (${fmt(s.tickP99WorstMs, 2)}) ms`],
    ['lag p99', `${fmt(s.lagP99Ms, 2)} ms`],
    ['server CPU / RSS max', `${fmt(s.serverCpuPct, 0)} % / ${fmt(s.serverRssMaxMB, 0)} MB`],
    ['bots CPU', `${fmt(s.botsCpuPct, 0)} %`],
    ['zones / visible (avg)', `${fmt(s.zones, 0)} / ${fmt(s.visibleAvg)}`],
    ['handoffs / s', fmt(s.handoffsPerS, 2)],
    ['joins / s, join p50 / p99', `${fmt(s.joinsPerS, 2)}, ${fmt(s.joinP50Ms)} / ${fmt(s.joinP99Ms)} ms`],
    ['inputs sent / rejected', `${s.inputsSent} / ${s.inputsRejected} (${counts(s.rejectsByReason)})`],
    ['disconnects, kicks', `${s.disconnects}, ${counts(s.kicksByReason)}`],
    ['connect failures, protocol errors', `${s.connectFailures}, ${s.protocolErrors}`],
    ['server warnings', String(s.serverWarnings)],
    ['held at the tick rate', s.held ? 'yes' : 'no'],
  ];
  if (r.hostile) {
    const h = r.hostile;
    rows.push(['hostile clients', `${h.clients} (${h.kinds.join(', ')}), ${h.messagesSent} hostile messages, ${h.joins} joins`]);
    rows.push(['hostile rejected', `${h.inputsRejected} (${counts(h.rejectsByReason)})`]);
    rows.push(['hostile kicked', counts(h.kicksByReason)]);
  }
  if (r.ramp) {
    const o = r.ramp;
    rows.push([
      'ramp limit',
      `${o.heldClients} clients held${o.failedClients !== null ? `, ${o.failedClients} not` : ''} (stopped by ${o.stoppedBy} after ${fmt(o.elapsedS)} s)`,
    ]);
  }
  return rows;
}

export function formatSummary(r: LoadtestResult): string {
  const rows = summaryRows(r);
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`);
  if (r.ramp && r.ramp.levels.length > 0) {
    lines.push('', 'level  clients  connected  frames/s  tick p99  lag p99  update p99  server cpu  held');
    for (const l of r.ramp.levels) {
      lines.push(
        `${String(l.level).padStart(5)}  ${String(l.clients).padStart(7)}  ${String(l.connected).padStart(9)}  ${fmt(l.framesPerClientPerS).padStart(8)}  ` +
          `${fmt(l.tickP99Ms).padStart(8)}  ${fmt(l.lagP99Ms).padStart(7)}  ${fmt(l.updateP99Ms, 0).padStart(10)}  ${fmt(l.serverCpuPct, 0).padStart(10)}  ${l.held ? 'yes' : `no: ${l.why}`}`,
      );
    }
  }
  lines.push('', ...r.checks.map((c) => `${c.ok ? 'ok  ' : 'FAIL'}  ${c.name}: ${c.detail}`));
  return lines.join('\n') + '\n';
}

const require = createRequire(import.meta.url);

function uplotAssets(): { js: string; css: string } {
  const dir = join(require.resolve('uplot/package.json'), '..', 'dist');
  return { js: readFileSync(join(dir, 'uPlot.iife.min.js'), 'utf8'), css: readFileSync(join(dir, 'uPlot.min.css'), 'utf8') };
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** JSON safe inside <script>: no '</script>', no '<!--'. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** The plots: title, y-axis label, and which sample fields are its series. */
export const PLOTS: { id: string; title: string; unit: string; series: [field: string, label: string, colour: string][] }[] = [
  {
    id: 'clients',
    title: 'Clients over time',
    unit: 'clients',
    series: [
      ['targetClients', 'target (honest bots)', '#999999'],
      ['clients', 'connected (honest bots)', '#1f77b4'],
      ['hostileClients', 'hostile bots', '#d62728'],
      ['serverPlayers', 'players (server)', '#2ca02c'],
    ],
  },
  {
    id: 'tick',
    title: 'Tick time (simulation of one step, per second)',
    unit: 'ms',
    series: [
      ['tickP50Ms', 'tick p50', '#1f77b4'],
      ['tickP99Ms', 'tick p99', '#ff7f0e'],
      ['lagP99Ms', 'lag p99', '#9467bd'],
      ['budget', 'budget (25 ms)', '#d62728'],
    ],
  },
  {
    id: 'bytes',
    title: 'Bytes per client per second (bots)',
    unit: 'B/s',
    series: [
      ['bytesInPerClientPerS', 'in (server to client)', '#1f77b4'],
      ['bytesOutPerClientPerS', 'out (client to server)', '#ff7f0e'],
    ],
  },
  {
    id: 'latency',
    title: 'Input-to-update latency (bots)',
    unit: 'ms',
    series: [
      ['updateP50Ms', 'p50', '#1f77b4'],
      ['updateP99Ms', 'p99', '#ff7f0e'],
    ],
  },
  {
    id: 'rejects',
    title: 'Rejected inputs and events per second',
    unit: 'per s',
    series: [
      ['rejects', 'rejected (honest)', '#1f77b4'],
      ['hostileRejects', 'rejected (hostile)', '#d62728'],
      ['kicks', 'kicks', '#8c564b'],
      ['joins', 'joins', '#2ca02c'],
      ['handoffsPerS', 'handoffs', '#9467bd'],
    ],
  },
  {
    id: 'process',
    title: 'Server process: CPU and memory',
    unit: '% of a core / MB',
    series: [
      ['serverCpuPct', 'server CPU %', '#1f77b4'],
      ['botsCpuPct', 'bots CPU %', '#7f7f7f'],
      ['serverRssMB', 'server RSS MB', '#ff7f0e'],
    ],
  },
];

export function renderHtml(r: LoadtestResult): string {
  const { js, css } = uplotAssets();
  const rows = summaryRows(r)
    .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`)
    .join('\n');
  const checks = r.checks.map((c) => `<li class="${c.ok ? 'ok' : 'fail'}">${c.ok ? 'ok' : 'FAIL'}: ${escapeHtml(c.name)}: ${escapeHtml(c.detail)}</li>`).join('\n');
  const levels = r.ramp
    ? `<h2>Ramp levels</h2><table class="levels"><tr><th>level</th><th>clients</th><th>connected</th><th>frames/s</th><th>tick p99 ms</th><th>lag p99 ms</th><th>update p99 ms</th><th>server CPU %</th><th>held</th></tr>
${r.ramp.levels
  .map(
    (l) =>
      `<tr><td>${l.level}</td><td>${l.clients}</td><td>${l.connected}</td><td>${fmt(l.framesPerClientPerS)}</td><td>${fmt(l.tickP99Ms)}</td><td>${fmt(l.lagP99Ms)}</td><td>${fmt(l.updateP99Ms, 0)}</td><td>${fmt(l.serverCpuPct, 0)}</td><td>${l.held ? 'yes' : `no: ${escapeHtml(l.why)}`}</td></tr>`,
  )
  .join('\n')}</table>`
    : '';
  const title = `BlueMarble load test: ${r.scenario}${r.config.smoke ? ' (smoke)' : ''}, ${r.startedAt}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${css}</style>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; max-width: 1100px; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { text-align: left; padding: 2px 10px; border-bottom: 1px solid #eee; vertical-align: top; }
.levels td { text-align: right; }
li.ok { color: #2a7d2a; } li.fail { color: #b00020; font-weight: bold; }
.plot { margin: 1em 0 2em; }
.plot h3 { margin: 0 0 0.3em; font-size: 15px; }
.note { color: #666; }
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<p class="note">${escapeHtml(r.description)}. Samples are one second each; shaded: not measured (connecting, warm-up, settling).
Host: ${r.host.cpus} CPUs, Node ${escapeHtml(r.host.node)}, load average ${r.host.loadavg.join(' ')} at the end.</p>
<table>${rows}</table>
<h2>Checks</h2>
<ul>${checks}</ul>
${levels}
<h2>Over time</h2>
<div id="plots"></div>
<details><summary>Configuration and server counters</summary><pre>${escapeHtml(JSON.stringify({ config: r.config, serverCounters: r.serverCounters }, null, 2))}</pre></details>
<script>${js}</script>
<script id="loadtest-data" type="application/json">${scriptJson(r)}</script>
<script id="loadtest-plots" type="application/json">${scriptJson(PLOTS)}</script>
<script>
(function () {
  var result = JSON.parse(document.getElementById('loadtest-data').textContent);
  var plots = JSON.parse(document.getElementById('loadtest-plots').textContent);
  var samples = result.samples;
  var xs = samples.map(function (s) { return s.t; });
  var container = document.getElementById('plots');
  var width = Math.max(400, Math.min(1100, container.clientWidth || 1000));
  // Unmeasured seconds (connecting, warm-up, ramp settling) are shaded.
  function shade(u) {
    var ctx = u.ctx, top = u.bbox.top, h = u.bbox.height;
    ctx.save();
    ctx.fillStyle = 'rgba(0,0,0,0.06)';
    for (var i = 0; i < samples.length; i++) {
      if (samples[i].measured) continue;
      var x0 = u.valToPos(i > 0 ? xs[i - 1] : xs[i] - 1, 'x', true);
      var x1 = u.valToPos(xs[i], 'x', true);
      ctx.fillRect(x0, top, Math.max(1, x1 - x0), h);
    }
    ctx.restore();
  }
  window.__loadtestCharts = [];
  plots.forEach(function (p) {
    var div = document.createElement('div');
    div.className = 'plot';
    div.id = 'plot-' + p.id;
    var h = document.createElement('h3');
    h.textContent = p.title;
    div.appendChild(h);
    container.appendChild(div);
    var data = [xs];
    var series = [{ label: 't (s)' }];
    p.series.forEach(function (s) {
      data.push(samples.map(function (x) { return s[0] === 'budget' ? 25 : x[s[0]]; }));
      series.push({ label: s[1], stroke: s[2], width: s[0] === 'budget' ? 1 : 2, dash: s[0] === 'budget' ? [6, 4] : undefined, spanGaps: false });
    });
    var opts = {
      width: width, height: 260, series: series,
      scales: { x: { time: false } },
      axes: [{ label: 'seconds since the bots started' }, { label: p.unit, size: 60 }],
      hooks: { drawClear: [shade] },
    };
    window.__loadtestCharts.push(new uPlot(opts, data, div));
  });
  window.__loadtestReady = true;
})();
</script>
</body>
</html>
`;
}

/** Writes <dir>/<scenario>-<time>.json and .html; returns their paths. */
export function writeReport(r: LoadtestResult, dir: string): { json: string; html: string } {
  mkdirSync(dir, { recursive: true });
  const stamp = r.startedAt.replace(/[:.]/g, '-').replace(/Z$/, '');
  const base = join(dir, `${r.scenario}${r.config.smoke ? '-smoke' : ''}-${stamp}`);
  const json = `${base}.json`;
  const html = `${base}.html`;
  writeFileSync(json, JSON.stringify(r, null, 1) + '\n');
  writeFileSync(html, renderHtml(r));
  return { json, html };
}
