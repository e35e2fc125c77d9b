import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ActionCooldowns, actionById } from '../../src/world/actions.ts';
import { RejectReason } from '../../src/world/types.ts';

test('actionById', () => {
  assert.equal(actionById(1)?.name, 'wave');
  assert.equal(actionById(2)?.cooldownMs, 800);
  assert.equal(actionById(0), undefined);
  assert.equal(actionById(99), undefined);
});

test('ActionCooldowns: unknown, ready, cooling down, ready again exactly at the boundary', () => {
  const c = new ActionCooldowns();
  assert.equal(c.check(42, 0), RejectReason.UnknownAction);
  assert.equal(c.check(1, 1000), 0);
  c.use(1, 1000);
  assert.equal(c.check(1, 1000), RejectReason.Cooldown);
  assert.equal(c.check(1, 2499), RejectReason.Cooldown);
  assert.equal(c.check(1, 2500), 0);
  assert.equal(c.check(2, 1001), 0, 'cooldowns are per action');
  c.use(42, 0); // ignored
  assert.equal(c.check(42, 0), RejectReason.UnknownAction);
});

test('ActionCooldowns: survives a JSON round trip (zone handoff) and drops junk', () => {
  const c = new ActionCooldowns();
  c.use(2, 5000);
  c.use(3, 5100);
  const copy = ActionCooldowns.fromJSON(JSON.parse(JSON.stringify(c)) as Record<string, number>);
  assert.deepEqual(copy.toJSON(), { '2': 5800, '3': 5350 });
  assert.equal(copy.check(2, 5799), RejectReason.Cooldown);
  assert.equal(copy.check(2, 5800), 0);
  const junk = ActionCooldowns.fromJSON({ '2': NaN, '77': 1e12, x: 5 });
  assert.deepEqual(junk.toJSON(), {});
});
