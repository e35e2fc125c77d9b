// Characters inside the zones: foraging changes them and tells the client; a rare find is told
// only once its save is durable; the character crosses zone borders whole; leaving hands the
// final state to persistence; the write-behind collects only what changed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CharacterCause } from '../../src/protocol/types.ts';
import type { PlayerSave } from '../../src/store/store.ts';
import { ITEMS, newCharacterSheet } from '../../src/world/character.ts';
import { poseFromDegrees } from '../../src/world/geo.ts';
import { zoneOfPose } from '../../src/world/zoning.ts';
import type { CharacterSink } from '../../src/zone/zone.ts';
import { Sim, input, settle } from '../helpers/sim.ts';

const FORAGE = 3;
const GEM = ITEMS.find((i) => i.rare)!.itemId;

/** A sink that records everything and lets the test decide when critical saves are durable. */
class RecordingSink implements CharacterSink {
  readonly left_: Array<{ playerId: number; save: PlayerSave | undefined }> = [];
  readonly critical_: Array<{ save: PlayerSave; durable: () => void }> = [];
  /** autoDurable: every critical save is durable at once (a rare find must not hold up the test). */
  constructor(private readonly autoDurable = false) {}
  left(playerId: number, save: PlayerSave | undefined): void {
    this.left_.push({ playerId, save });
  }
  critical(save: PlayerSave): Promise<void> {
    return new Promise((resolve) => {
      this.critical_.push({ save, durable: resolve });
      if (this.autoDurable) resolve();
    });
  }
}

const HERE = poseFromDegrees(48.8566, 2.3522, 0, 0);

test('foraging fills the inventory, teaches the skill and tells the client; collect takes only changes', async () => {
  const sink = new RecordingSink(true);
  const sim = new Sim({}, sink);
  const p = await sim.addPlayer(HERE, 'forager', { playerId: 7, sheet: newCharacterSheet() });
  await sim.tick();
  assert.equal(p.characters[0]?.cause, CharacterCause.Login);
  assert.deepEqual(sim.host.collectSaves(), [], 'nothing changed yet');
  // Forage every 6th tick (the action's cooldown is 250 ms = 5 ticks).
  for (let i = 0; i < 30; i++) {
    sim.sendInputs(p, [input(p.nextSeq++, 0, 0, 50, i % 6 === 0 ? [FORAGE] : [])]);
    await sim.tick();
  }
  await sim.tick(); // a confirmed rare find is told the tick after it is durable
  const last = p.characters[p.characters.length - 1]!;
  const finds = p.characters.filter((m) => m.found !== null).length;
  assert.ok(finds >= 4, `found something on each forage (${finds})`);
  assert.equal(last.skills[0]?.skillId, 1);
  assert.equal(last.experience, 5 * 5);
  const saves = sim.host.collectSaves();
  assert.equal(saves.length, 1);
  const save = saves[0]!;
  assert.equal(save.state.playerId, 7);
  assert.equal(save.state.saveSeq, sink.critical_.length + 1);
  // A rare find saved on its own (critical) as the last change leaves no inventory to the batch.
  const inventory = save.inventory ?? sink.critical_[sink.critical_.length - 1]?.save.inventory;
  assert.deepEqual(inventory, last.inventory.map((i) => ({ ...i, durability: 1, quality: 1 })));
  assert.deepEqual(sim.host.collectSaves(), [], 'collected once');
});

test('a rare find is told only after its critical save is durable', async () => {
  const sink = new RecordingSink();
  const sim = new Sim({}, sink);
  const p = await sim.addPlayer(HERE, 'lucky', { playerId: 9, sheet: newCharacterSheet() });
  await sim.tick();
  // Forage until the world hands out a sky gem (2 % a forage: 2,000 tries miss with p < 1e-17).
  for (let i = 0; i < 12_000 && sink.critical_.length === 0; i++) {
    sim.sendInputs(p, [input(p.nextSeq++, 0, 0, 50, i % 6 === 0 ? [FORAGE] : [])]);
    await sim.tick();
  }
  assert.equal(sink.critical_.length, 1, 'one critical save for the gem');
  const pending = sink.critical_[0]!;
  assert.ok(pending.save.inventory?.some((i) => i.itemId === GEM), 'the critical save holds the gem');
  const toldBefore = p.characters.length;
  for (let i = 0; i < 5; i++) {
    sim.sendInputs(p, [input(p.nextSeq++, 0, 0)]);
    await sim.tick();
  }
  assert.equal(p.characters.length, toldBefore, 'nothing told while the save is not durable');
  assert.ok(!p.characters.some((m) => m.inventory.some((i) => i.itemId === GEM)), 'the client has not seen the gem');
  pending.durable();
  await settle();
  await sim.tick();
  const told = p.characters[p.characters.length - 1]!;
  assert.equal(told.cause, CharacterCause.Confirmed);
  assert.deepEqual(told.found, { itemId: GEM, quantity: 1 });
});

test('the character crosses a zone border whole and leaves with a final save', async () => {
  const sink = new RecordingSink();
  const sim = new Sim({}, sink);
  const sheet = newCharacterSheet();
  sheet.inventory = [{ slot: 0, itemId: 2, quantity: 17, durability: 0.5, quality: 0.25 }];
  sheet.level = 3;
  const p = await sim.addPlayer(HERE, 'walker', { playerId: 11, sheet, saveSeq: 40 });
  const startZone = p.zone;
  // Walk east at 6 m/s until the owner changes (a res-8 cell is ~1 km across).
  for (let i = 0; i < 4000 && p.zone === startZone; i++) {
    sim.sendInputs(p, [input(p.nextSeq++, 6, 0)]);
    await sim.tick();
  }
  assert.notEqual(p.zone, startZone, 'handed off');
  for (let i = 0; i < 3; i++) await sim.tick();
  const saves = sim.host.collectSaves();
  assert.equal(saves.length, 1);
  const s = saves[0]!;
  assert.equal(s.state.zone, p.zone, 'saved with its new zone');
  assert.equal(s.state.zone, zoneOfPose(p.lastFrame!.state.own, 8));
  assert.equal(s.state.level, 3);
  assert.ok(s.state.saveSeq > 40, 'save sequence carried across the handoff');
  // Walk a step more, then leave: the final state goes to the sink.
  sim.sendInputs(p, [input(p.nextSeq++, 6, 0)]);
  await sim.tick();
  sim.bus.sendToZone(p.zone, { kind: 'leave', entityId: p.id });
  await sim.tick();
  assert.equal(sink.left_.length, 1);
  const final = sink.left_[0]!;
  assert.equal(final.playerId, 11);
  assert.ok(final.save && final.save.state.saveSeq === s.state.saveSeq + 1);
  assert.deepEqual(sim.ownersOf(p.id), []);
});
