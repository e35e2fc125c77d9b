// The two HTML pages. Everything dynamic is drawn by the bundles (/assets/play.js, /assets/ops.js);
// the pages hold only structure and style, so they need no escaping of anything a client sent.

const BASE_CSS = `
:root { color-scheme: dark; --bg: #0b1220; --panel: #111a2e; --line: #24324f; --text: #dbe4f5; --muted: #8796b3; --accent: #4cc2ff; --warn: #ffb84c; }
* { box-sizing: border-box; }
html, body { margin: 0; height: 100%; background: var(--bg); color: var(--text); font: 14px/1.4 system-ui, sans-serif; }
a { color: var(--accent); }
button, input { font: inherit; }
.hidden { display: none !important; }
`;

const PLAY_CSS = `
#login { max-width: 340px; margin: 12vh auto; padding: 24px; background: var(--panel); border: 1px solid var(--line); border-radius: 10px; }
#login h1 { margin: 0 0 4px; font-size: 22px; }
#login p.sub { margin: 0 0 16px; color: var(--muted); }
#login label { display: block; margin: 10px 0 4px; color: var(--muted); }
#login input { width: 100%; padding: 8px 10px; background: #0a1020; border: 1px solid var(--line); border-radius: 6px; color: var(--text); }
#login button { margin-top: 16px; width: 100%; padding: 9px; border: 0; border-radius: 6px; background: var(--accent); color: #04111c; font-weight: 600; cursor: pointer; }
#login button:disabled { opacity: .6; cursor: wait; }
#login .switch { margin-top: 12px; text-align: center; color: var(--muted); }
#login .switch a { cursor: pointer; }
#login-error { min-height: 1.4em; margin-top: 10px; color: #ff7b7b; }
#game { position: fixed; inset: 0; }
#map { display: block; width: 100%; height: 100%; }
#hud { position: absolute; top: 10px; left: 10px; padding: 8px 12px; background: rgba(10,16,32,.82); border: 1px solid var(--line); border-radius: 8px; font: 12px/1.6 ui-monospace, monospace; pointer-events: none; }
#hud b { color: var(--muted); font-weight: normal; display: inline-block; width: 62px; }
#status { position: absolute; top: 10px; right: 10px; padding: 6px 10px; background: rgba(10,16,32,.82); border: 1px solid var(--line); border-radius: 8px; font-size: 12px; }
#status.warn { color: var(--warn); }
#help { position: absolute; bottom: 10px; left: 10px; color: var(--muted); font-size: 12px; }
#help a { margin-left: 8px; }
`;

export function playPage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,"><title>BlueMarble</title><style>${BASE_CSS}${PLAY_CSS}</style></head>
<body>
<form id="login" autocomplete="on">
  <h1>BlueMarble</h1>
  <p class="sub" id="login-title">Log in to play</p>
  <label for="username">Username</label><input id="username" name="username" autocomplete="username" required minlength="3" maxlength="20" pattern="[A-Za-z0-9_]{3,20}">
  <div id="email-row" class="hidden"><label for="email">Email</label><input id="email" name="email" type="email" autocomplete="email" maxlength="254"></div>
  <label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required minlength="1" maxlength="128">
  <button id="submit" type="submit">Log in</button>
  <div id="login-error" role="alert"></div>
  <div class="switch"><span id="switch-text">No account?</span> <a id="switch-mode" tabindex="0">Register</a></div>
</form>
<div id="game" class="hidden">
  <canvas id="map" tabindex="0" aria-label="Map of your surroundings"></canvas>
  <div id="hud"><div><b>ping</b><span id="hud-ping">-</span></div><div><b>zone</b><span id="hud-zone">-</span></div><div><b>in view</b><span id="hud-view">-</span></div><div><b>in / out</b><span id="hud-bytes">-</span></div></div>
  <div id="status">connecting…</div>
  <div id="help">WASD or arrow keys to move · Space jump · E wave<a href="/ops" target="_blank">ops</a></div>
</div>
<script type="module" src="/assets/play.js"></script>
</body></html>
`;
}

const OPS_CSS = `
body { padding: 16px 20px; }
header { display: flex; align-items: baseline; gap: 16px; margin-bottom: 14px; }
header h1 { margin: 0; font-size: 20px; }
header span { color: var(--muted); }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 10px; margin-bottom: 14px; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.card .k { color: var(--muted); font-size: 12px; }
.card .v { font-size: 24px; font-variant-numeric: tabular-nums; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(360px, 1fr)); gap: 10px; margin-bottom: 14px; }
.chart { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 8px 10px; }
.chart h2 { margin: 0 0 4px; font-size: 13px; font-weight: 600; }
.chart .legend { color: var(--muted); font-size: 12px; }
.chart canvas { width: 100%; height: 140px; display: block; }
.tables { display: grid; grid-template-columns: repeat(auto-fit, minmax(360px, 1fr)); gap: 10px; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); }
th { color: var(--muted); font-weight: normal; }
td.n, th.n { text-align: right; }
.bar { height: 6px; background: var(--accent); border-radius: 3px; }
`;

export function opsPage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,"><title>BlueMarble ops</title><style>${BASE_CSS}${OPS_CSS}</style></head>
<body>
<header><h1>BlueMarble ops</h1><span id="updated">loading…</span><span><a href="/">play</a> · <a href="/metrics">metrics</a> · <a href="/healthz">health</a></span></header>
<section class="cards">
  <div class="card"><div class="k">players online</div><div class="v" id="players">-</div></div>
  <div class="card"><div class="k">zones (awake)</div><div class="v" id="zones">-</div></div>
  <div class="card"><div class="k">entities</div><div class="v" id="entities">-</div></div>
  <div class="card"><div class="k">tick p50 / p99</div><div class="v" id="tick">-</div></div>
  <div class="card"><div class="k">bytes in / out per s</div><div class="v" id="bytes">-</div></div>
  <div class="card"><div class="k">rejected inputs / s</div><div class="v" id="rejects">-</div></div>
</section>
<section class="charts">
  <div class="chart"><h2>Players</h2><canvas id="chart-players"></canvas></div>
  <div class="chart"><h2>Tick time (ms) <span class="legend">— p50 · — p99 (rolling minute)</span></h2><canvas id="chart-tick"></canvas></div>
  <div class="chart"><h2>Bandwidth (bytes/s) <span class="legend">— out · — in</span></h2><canvas id="chart-bytes"></canvas></div>
  <div class="chart"><h2>Rejected inputs per second</h2><canvas id="chart-rejects"></canvas></div>
</section>
<section class="tables">
  <div class="chart"><h2>Zones, busiest first</h2><table><thead><tr><th>zone</th><th class="n">players</th><th class="n">entities</th><th>state</th><th style="width:30%"></th></tr></thead><tbody id="zone-rows"></tbody></table></div>
  <div class="chart"><h2>Rejected inputs by reason</h2><table><thead><tr><th>reason</th><th class="n">last second</th><th class="n">since start</th></tr></thead><tbody id="reject-rows"></tbody></table></div>
</section>
<script type="module" src="/assets/ops.js"></script>
</body></html>
`;
}
