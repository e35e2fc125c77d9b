// The Store contract: every adapter must pass this same suite, so SQLite and PostgreSQL behave
// identically. open() returns a store on an empty database (not yet migrated); the suite migrates
// it, shares it across its tests (each test makes its own accounts) and closes it at the end.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MIGRATION_NAMES } from '../../src/store/migrations.ts';
import { AccountConflictError } from '../../src/store/store.ts';
import type { InventoryItem, PlayerSave, PlayerState, SkillRecord, Store, WorldEntityRecord } from '../../src/store/store.ts';

export interface StoreContractOptions {
  /** node:test skip message (e.g. the service is not running). */
  skip?: string;
}

const ZONE = '881f1d4887fffff';

export function storeContract(name: string, open: () => Promise<Store>, opts: StoreContractOptions = {}): void {
  describe(`Store contract: ${name}`, { skip: opts.skip }, () => {
    let store: Store;
    let firstMigration: string[] = [];
    let counter = 0;
    const run = Date.now().toString(36);
    const unique = (prefix: string): string => `${prefix}_${run}_${counter++}`;

    before(async () => {
      store = await open();
      firstMigration = await store.migrate();
    });

    after(async () => {
      if (store === undefined) return;
      await store.close();
      await store.close(); // closing twice is harmless
    });

    async function newPlayer(prefix = 'player'): Promise<number> {
      const username = unique(prefix);
      const account = await store.createAccount({ username, email: `${username}@example.com`, passwordHash: 'hash' });
      return account.playerId;
    }

    function state(playerId: number, saveSeq: number, over: Partial<PlayerState> = {}): PlayerState {
      return {
        playerId,
        zone: ZONE,
        latE7: 488_566_000 + (playerId % 1000),
        lonE7: -23_522_000 - (playerId % 1000),
        altCm: 3500,
        heading16: 65_535,
        health: 87.25,
        stamina: 0.1,
        level: 7,
        experience: 2 ** 40 + 3,
        playtimeSeconds: 123_456,
        saveSeq,
        ...over,
      };
    }

    const items: InventoryItem[] = [
      { slot: 5, itemId: 5, quantity: 1, durability: 1, quality: 0.999 },
      { slot: 0, itemId: 1, quantity: 99, durability: 0.5, quality: 0.25 },
      { slot: 2, itemId: 3, quantity: 20, durability: 0, quality: 1 },
    ];
    const bySlot = (a: InventoryItem, b: InventoryItem) => a.slot - b.slot;
    const skills: SkillRecord[] = [
      { skillId: 9, level: 3, experience: 1200 },
      { skillId: 2, level: 40, experience: 2 ** 35 },
    ];
    const bySkill = (a: SkillRecord, b: SkillRecord) => a.skillId - b.skillId;

    it('migrate applies the whole history once and is then a no-op', async () => {
      assert.deepEqual(firstMigration, [...MIGRATION_NAMES]);
      assert.deepEqual(await store.migrate(), []);
      assert.deepEqual(await store.migrate(), []);
    });

    it('creates an account and finds it by username (case-insensitively) and by id', async () => {
      const username = unique('Alice_Mixed');
      const t0 = Date.now();
      const created = await store.createAccount({
        username,
        email: `${username}.Mail@Example.COM`,
        passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA',
      });
      assert.ok(Number.isSafeInteger(created.playerId) && created.playerId > 0);
      assert.equal(created.username, username, 'the username keeps its case');
      assert.equal(created.email, `${username}.mail@example.com`.toLowerCase(), 'the email is lower-cased');
      assert.equal(created.passwordHash, '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA');
      assert.ok(created.createdAtMs >= t0 - 1000 && created.createdAtMs <= Date.now() + 1000);
      assert.equal(created.lastLoginAtMs, null);

      assert.deepEqual(await store.findAccountByUsername(username.toUpperCase()), created);
      assert.deepEqual(await store.findAccountByUsername(username.toLowerCase()), created);
      assert.deepEqual(await store.findAccountById(created.playerId), created);
      assert.equal(await store.findAccountByUsername(unique('nobody')), undefined);
      assert.equal(await store.findAccountById(2 ** 31 - 7), undefined);

      const other = await store.createAccount({ username: unique('bob'), email: `${unique('bob')}@example.com`, passwordHash: 'h' });
      assert.notEqual(other.playerId, created.playerId);
    });

    it('refuses a taken username or email with an AccountConflictError naming the field', async () => {
      const username = unique('Carol');
      const email = `${username}@example.com`;
      await store.createAccount({ username, email, passwordHash: 'h' });

      const isConflict = (field: 'username' | 'email') => (err: unknown) => {
        assert.ok(err instanceof AccountConflictError, `expected AccountConflictError, got ${String(err)}`);
        assert.equal(err.field, field);
        return true;
      };
      await assert.rejects(
        store.createAccount({ username: username.toUpperCase(), email: `${unique('x')}@example.com`, passwordHash: 'h' }),
        isConflict('username'),
      );
      const freshName = unique('dave');
      await assert.rejects(
        store.createAccount({ username: freshName, email: email.toUpperCase(), passwordHash: 'h' }),
        isConflict('email'),
      );
      // Both taken: the username is reported.
      await assert.rejects(store.createAccount({ username, email, passwordHash: 'h' }), isConflict('username'));
      // A refused account leaves nothing behind.
      assert.equal(await store.findAccountByUsername(freshName), undefined);
    });

    it('stores and finds SQL-looking and wildcard usernames literally', async () => {
      const tricky = [
        `x'; DROP TABLE players; --${run}`,
        `a" OR "1"="1${run}`,
        `per%cent${run}`,
        `under_score${run}`,
        `back\\slash${run}`,
        `Ünïcødé🙂${run}`,
      ];
      for (const username of tricky) {
        const created = await store.createAccount({ username, email: `${unique('t')}@example.com`, passwordHash: 'h' });
        const found = await store.findAccountByUsername(username);
        assert.equal(found?.username, username);
        assert.equal(found?.playerId, created.playerId);
      }
      // No LIKE semantics: wildcards match only themselves.
      assert.equal(await store.findAccountByUsername(`per_cent${run}`), undefined);
      assert.equal(await store.findAccountByUsername(`under%${run}`), undefined);
      // The table survived.
      assert.ok((await store.findAccountByUsername(tricky[0] as string)) !== undefined);
    });

    it('loads a new account with no state, inventory or skills; an unknown id loads as undefined', async () => {
      const username = unique('newbie');
      const { playerId } = await store.createAccount({ username, email: `${username}@example.com`, passwordHash: 'h' });
      assert.deepEqual(await store.loadPlayer(playerId), { playerId, username, state: null, inventory: [], skills: [] });
      assert.equal(await store.loadPlayer(2 ** 31 - 11), undefined);
    });

    it('round-trips a save: state, inventory and skills', async () => {
      const id = await newPlayer();
      const st = state(id, 1, { latE7: -899_999_999, lonE7: 1_799_999_999, altCm: -420, heading16: 0 });
      assert.deepEqual(await store.savePlayers([{ state: st, inventory: items, skills }]), { written: 1, stale: 0 });
      const loaded = await store.loadPlayer(id);
      assert.deepEqual(loaded?.state, st);
      assert.deepEqual(loaded?.inventory, [...items].sort(bySlot));
      assert.deepEqual(loaded?.skills, [...skills].sort(bySkill));
    });

    it('leaves inventory and skills alone when undefined, and clears them with empty arrays', async () => {
      const id = await newPlayer();
      await store.savePlayers([{ state: state(id, 1), inventory: items, skills }]);

      const moved = state(id, 2, { latE7: 1, lonE7: 2, health: 12.5 });
      assert.deepEqual(await store.savePlayers([{ state: moved }]), { written: 1, stale: 0 });
      let loaded = await store.loadPlayer(id);
      assert.deepEqual(loaded?.state, moved);
      assert.deepEqual(loaded?.inventory, [...items].sort(bySlot));
      assert.deepEqual(loaded?.skills, [...skills].sort(bySkill));

      const fewer = [{ slot: 1, itemId: 2, quantity: 3, durability: 0.75, quality: 0.5 }];
      await store.savePlayers([{ state: state(id, 3), inventory: fewer }]);
      loaded = await store.loadPlayer(id);
      assert.deepEqual(loaded?.inventory, fewer, 'an array replaces the whole inventory');
      assert.deepEqual(loaded?.skills, [...skills].sort(bySkill));

      await store.savePlayers([{ state: state(id, 4), inventory: [], skills: [] }]);
      loaded = await store.loadPlayer(id);
      assert.deepEqual(loaded?.inventory, []);
      assert.deepEqual(loaded?.skills, []);
      assert.equal(loaded?.state?.saveSeq, 4);
    });

    it('ignores saves whose saveSeq is not newer, and counts them as stale', async () => {
      const a = await newPlayer();
      const b = await newPlayer();
      const kept = state(a, 5);
      await store.savePlayers([{ state: kept, inventory: items }]);

      const result = await store.savePlayers([
        { state: state(a, 5, { latE7: 7 }), inventory: [] }, // same seq: a replay
        { state: state(b, 1) },
        { state: state(a, 4, { latE7: 8 }), skills: [] }, // older
      ]);
      assert.deepEqual(result, { written: 1, stale: 2 });
      const loaded = await store.loadPlayer(a);
      assert.deepEqual(loaded?.state, kept);
      assert.deepEqual(loaded?.inventory, [...items].sort(bySlot), 'a stale save does not touch the inventory');
      assert.equal((await store.loadPlayer(b))?.state?.saveSeq, 1);
    });

    it('keeps the newest of several saves for one player in one batch', async () => {
      const id = await newPlayer();
      const result = await store.savePlayers([
        { state: state(id, 7), inventory: items },
        { state: state(id, 9, { latE7: 99 }) },
        { state: state(id, 8), skills },
      ]);
      assert.deepEqual(result, { written: 1, stale: 2 });
      const loaded = await store.loadPlayer(id);
      assert.deepEqual(loaded?.state, state(id, 9, { latE7: 99 }));
      // As if applied in saveSeq order: 7 set the inventory, 8 the skills, 9 changed neither.
      assert.deepEqual(loaded?.inventory, [...items].sort(bySlot));
      assert.deepEqual(loaded?.skills, [...skills].sort(bySkill));
    });

    it('rejects a whole batch that names an unknown player, writing nothing', async () => {
      const a = await newPlayer();
      const b = await newPlayer();
      await store.savePlayers([
        { state: state(a, 1), inventory: items },
        { state: state(b, 1), skills },
      ]);
      const before = [await store.loadPlayer(a), await store.loadPlayer(b)];
      const unknownId = 2 ** 31 - 3;
      await assert.rejects(
        store.savePlayers([
          { state: state(a, 2, { latE7: 5 }), inventory: [] },
          { state: state(unknownId, 1) },
          { state: state(b, 2, { latE7: 6 }), skills: [] },
        ]),
        (err: unknown) => {
          assert.ok(err instanceof Error);
          assert.match(err.message, new RegExp(`unknown player id ${unknownId}`));
          return true;
        },
      );
      assert.deepEqual([await store.loadPlayer(a), await store.loadPlayer(b)], before);
      // The store is still usable after the rollback.
      assert.deepEqual(await store.savePlayers([{ state: state(a, 2) }]), { written: 1, stale: 0 });
    });

    it('rejects values a column cannot hold exactly, writing nothing', async () => {
      const id = await newPlayer();
      await assert.rejects(store.savePlayers([{ state: state(id, 1, { latE7: 1.5 }) }]), /latE7 must be an integer/);
      await assert.rejects(store.savePlayers([{ state: state(id, 1, { health: Number.NaN }) }]), /health must be a finite/);
      await assert.rejects(store.savePlayers([{ state: state(id, 1, { altCm: 2 ** 31 }) }]), /altCm is outside the 32-bit range/);
      assert.equal((await store.loadPlayer(id))?.state, null);
      assert.deepEqual(await store.savePlayers([]), { written: 0, stale: 0 });
    });

    it('round-trips a 2,000-player batch', async () => {
      const ids: number[] = [];
      for (let from = 0; from < 2000; from += 100) {
        const chunk = await Promise.all(Array.from({ length: 100 }, () => newPlayer('bulk')));
        ids.push(...chunk);
      }
      const saves = (seq: number): PlayerSave[] =>
        ids.map((id, i) => {
          const save: PlayerSave = { state: state(id, seq, { heading16: (i * 7 + seq) % 65_536, health: i / 8 }) };
          if (i % 10 === 0) save.inventory = [{ slot: 0, itemId: 1 + (i % 5), quantity: 1 + (i % 50), durability: 1, quality: seq / 4 }];
          if (i % 25 === 0) save.skills = [{ skillId: 1, level: seq, experience: i }];
          return save;
        });
      assert.deepEqual(await store.savePlayers(saves(1)), { written: 2000, stale: 0 });
      const second = saves(2);
      assert.deepEqual(await store.savePlayers(second), { written: 2000, stale: 0 });
      for (let i = 0; i < ids.length; i += 97) {
        const loaded = await store.loadPlayer(ids[i] as number);
        const expected = second[i] as PlayerSave;
        assert.deepEqual(loaded?.state, expected.state);
        if (i % 10 === 0) assert.deepEqual(loaded?.inventory, expected.inventory);
        if (i % 25 === 0) assert.deepEqual(loaded?.skills, expected.skills);
      }
      assert.deepEqual(await store.savePlayers(second), { written: 0, stale: 2000 });
    });

    it('has the seeded item definitions', async () => {
      assert.deepEqual(await store.itemDefinitions(), [
        { itemId: 1, name: 'stone', stackSize: 99, rare: false },
        { itemId: 2, name: 'wood', stackSize: 99, rare: false },
        { itemId: 3, name: 'berry', stackSize: 20, rare: false },
        { itemId: 4, name: 'iron ore', stackSize: 50, rare: false },
        { itemId: 5, name: 'sky gem', stackSize: 1, rare: true },
      ]);
      assert.deepEqual(await store.itemDefinition(5), { itemId: 5, name: 'sky gem', stackSize: 1, rare: true });
      assert.equal(await store.itemDefinition(999), undefined);
    });

    it('replaces and loads world entities with their JSON data', async () => {
      const entity = (id: number, data: unknown): WorldEntityRecord => ({
        id,
        kind: id % 3,
        zone: ZONE,
        latE7: 100 * id,
        lonE7: -100 * id,
        altCm: id,
        heading16: id * 11,
        data,
      });
      const first = [
        entity(3, { brain: { seed: 123456789, waypoints: [[1, 2], [3, 4]] }, name: `O'Neil "the" \\ npc` }),
        entity(1, null),
        entity(2, [1, 'two', { three: 3.5 }, true]),
      ];
      await store.saveWorldEntities(first);
      assert.deepEqual(await store.loadWorldEntities(), [first[1], first[2], first[0]]);

      const second = [entity(4, { hp: 10 })];
      await store.saveWorldEntities(second);
      assert.deepEqual(await store.loadWorldEntities(), second, 'the set is replaced, not merged');

      await store.saveWorldEntities([]);
      assert.deepEqual(await store.loadWorldEntities(), []);
    });

    it('records the last login', async () => {
      const username = unique('login');
      const { playerId } = await store.createAccount({ username, email: `${username}@example.com`, passwordHash: 'h' });
      const at = Date.UTC(2030, 0, 2, 3, 4, 5, 678);
      await store.recordLogin(playerId, at);
      assert.equal((await store.findAccountById(playerId))?.lastLoginAtMs, at);
      assert.equal((await store.findAccountByUsername(username))?.lastLoginAtMs, at);
      await store.recordLogin(playerId, at + 1);
      assert.equal((await store.findAccountById(playerId))?.lastLoginAtMs, at + 1);
      // An unknown id is not an error: there is simply nothing to update.
      await store.recordLogin(2 ** 31 - 5, at);
    });
  });
}
