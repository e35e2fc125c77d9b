// The database's item catalogue is seeded by a migration (a migration never changes once shipped),
// and the zones use the world's catalogue: the two must say the same thing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SEED_ITEMS } from '../../src/store/migrations.ts';
import { ITEMS } from '../../src/world/character.ts';

test('the seeded item definitions are the world catalogue', () => {
  assert.deepEqual(
    SEED_ITEMS.map((i) => ({ ...i })),
    ITEMS.map(({ itemId, name, stackSize, rare }) => ({ itemId, name, stackSize, rare })),
  );
});
