// The Store contract against PostgreSQL, in a schema of its own (created here, dropped at the end),
// selected through the URL's `options=-c search_path=...`.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { PostgresStore, createPgSchema, dropPgSchema, withSearchPath } from '../../src/store/postgres.ts';
import { POSTGRES_URL, serviceSkip } from '../helpers/services.ts';
import { storeContract } from './store.contract.ts';

const skip = await serviceSkip('postgres');
const schema = `bm_test_${process.pid}_${Date.now().toString(36)}`;
const url = withSearchPath(POSTGRES_URL, schema);
let created = false;

after(async () => {
  if (created) await dropPgSchema(POSTGRES_URL, schema);
});

storeContract(
  'PostgresStore',
  async () => {
    await createPgSchema(POSTGRES_URL, schema);
    created = true;
    return new PostgresStore(url, { poolSize: 4 });
  },
  skip === undefined ? {} : { skip },
);

describe('PostgresStore schema isolation', { skip }, () => {
  it('works inside the schema named by the URL and nowhere else', async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      assert.equal((await client.query<{ s: string }>('select current_schema() as s')).rows[0]?.s, schema);
      const tables = await client.query<{ table_schema: string }>(
        `select distinct table_schema from information_schema.tables where table_name = 'player_state' and table_schema = $1`,
        [schema],
      );
      assert.equal(tables.rows.length, 1, 'the migrated tables live in the test schema');
    } finally {
      await client.end();
    }
  });
});
