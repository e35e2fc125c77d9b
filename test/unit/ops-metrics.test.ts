import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Metrics, rejectReasonLabel } from '../../src/ops/metrics.ts';
import { REJECT_REASON_NAMES, RejectReason } from '../../src/world/types.ts';
import { METRIC_NAMES } from '../helpers/metric-names.ts';


describe('Metrics', () => {
  it('exposes every metric, plus default process metrics', async () => {
    const text = await new Metrics().text();
    for (const name of METRIC_NAMES) assert.ok(text.includes(`# TYPE ${name} `), `${name} missing`);
    assert.match(text, /process_cpu_user_seconds_total/);
  });

  it('can be created several times in one process without name clashes', async () => {
    const a = new Metrics();
    const b = new Metrics();
    a.playersConnected.set(3);
    b.playersConnected.set(5);
    assert.match(await a.text(), /^bluemarble_players_connected 3$/m);
    assert.match(await b.text(), /^bluemarble_players_connected 5$/m);
  });

  it('records observations with labels', async () => {
    const m = new Metrics();
    m.tickDuration.observe(0.002);
    m.visibleEntities.observe(12);
    m.inputsRejected.inc({ reason: rejectReasonLabel(RejectReason.Speed) });
    m.entities.set({ kind: 'npc' }, 300);
    m.connectionsClosed.inc({ reason: 'idle_timeout' });
    m.bytesSent.inc(1200);
    const text = await m.text();
    assert.match(text, /^bluemarble_zone_tick_seconds_count 1$/m);
    assert.match(text, /^bluemarble_zone_tick_seconds_bucket\{le="0.0025"\} 1$/m);
    assert.match(text, /^bluemarble_visible_entities_bucket\{le="25"\} 1$/m);
    assert.match(text, /^bluemarble_inputs_rejected_total\{reason="speed"\} 1$/m);
    assert.match(text, /^bluemarble_inputs_rejected_total\{reason="teleport"\} 0$/m);
    assert.match(text, /^bluemarble_entities\{kind="npc"\} 300$/m);
    assert.match(text, /^bluemarble_connections_closed_total\{reason="idle_timeout"\} 1$/m);
    assert.match(text, /^bluemarble_bytes_sent_total 1200$/m);
  });

  it('reports the Prometheus content type', () => {
    assert.match(new Metrics().contentType, /^text\/plain; version=0\.0\.4/);
  });
});

describe('rejectReasonLabel', () => {
  it('maps every known code to its name and anything else to unknown', () => {
    for (const [code, name] of Object.entries(REJECT_REASON_NAMES)) assert.equal(rejectReasonLabel(Number(code)), name);
    assert.equal(rejectReasonLabel(0), 'unknown');
    assert.equal(rejectReasonLabel(99), 'unknown');
  });
});
