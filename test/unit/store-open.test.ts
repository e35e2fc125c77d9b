// openStore: which adapter a --db value selects, and the errors for a wrong or unreachable one.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DEFAULT_SQLITE_FILE, openStore, parseDbTarget } from '../../src/store/open.ts';
import { redactUrl, withSearchPath } from '../../src/store/postgres.ts';

const dir = mkdtempSync(join(tmpdir(), 'bluemarble-store-open-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('parseDbTarget', () => {
  it('understands sqlite paths, postgres URLs and the default', () => {
    const data = '/var/lib/bm';
    assert.deepEqual(parseDbTarget('', data), { kind: 'sqlite', path: join(data, DEFAULT_SQLITE_FILE) });
    assert.deepEqual(parseDbTarget('sqlite', data), { kind: 'sqlite', path: join(data, DEFAULT_SQLITE_FILE) });
    assert.deepEqual(parseDbTarget('sqlite:/tmp/x.db', data), { kind: 'sqlite', path: '/tmp/x.db' });
    assert.deepEqual(parseDbTarget('sqlite:///tmp/x.db', data), { kind: 'sqlite', path: '/tmp/x.db' });
    assert.deepEqual(parseDbTarget('sqlite::memory:', data), { kind: 'sqlite', path: ':memory:' });
    assert.deepEqual(parseDbTarget('./game.db', data), { kind: 'sqlite', path: './game.db' });
    assert.deepEqual(parseDbTarget('postgres://u@h/db', data), { kind: 'postgres', url: 'postgres://u@h/db' });
    assert.deepEqual(parseDbTarget('postgresql://u@h/db', data), { kind: 'postgres', url: 'postgresql://u@h/db' });
  });

  it('refuses other schemes, without showing a password', () => {
    assert.throws(
      () => parseDbTarget('mysql://root:hunter2@h/db', '/d'),
      (err: unknown) => {
        assert.ok(err instanceof Error);
        assert.match(err.message, /unsupported database scheme "mysql:"/);
        assert.doesNotMatch(err.message, /hunter2/);
        return true;
      },
    );
  });
});

describe('redactUrl / withSearchPath', () => {
  it('hides the password and sets the schema through options', () => {
    assert.equal(redactUrl('postgres://bm:s3cret@db.example:5432/game'), 'postgres://bm:***@db.example:5432/game');
    assert.equal(redactUrl('postgres://bm@db.example/game'), 'postgres://bm@db.example/game');
    const url = new URL(withSearchPath('postgres://bm@h/game?sslmode=disable', 'bm_test_1'));
    assert.equal(url.searchParams.get('options'), '-c search_path=bm_test_1');
    assert.equal(url.searchParams.get('sslmode'), 'disable');
    assert.throws(() => withSearchPath('postgres://h/db', 'x; drop'), /invalid schema name/);
  });
});

describe('openStore', () => {
  it('opens (and migrates) the default SQLite file under the data directory', async () => {
    const dataDir = join(dir, 'data', 'nested');
    const store = await openStore({ db: '', dataDir });
    try {
      assert.equal(store.kind, 'sqlite');
      assert.ok(existsSync(join(dataDir, DEFAULT_SQLITE_FILE)));
      assert.equal((await store.itemDefinitions()).length, 5, 'migrated');
      assert.deepEqual(await store.migrate(), []);
    } finally {
      await store.close();
    }
  });

  it('names the file it cannot open', async () => {
    await assert.rejects(openStore({ db: `sqlite:${join(dir, 'missing', 'dir', 'x.db')}`, dataDir: dir }), /x\.db/);
  });

  it('names an unreachable PostgreSQL server without its password', async () => {
    await assert.rejects(
      openStore({ db: 'postgres://bm:hunter2@127.0.0.1:1/game', dataDir: dir }),
      (err: unknown) => {
        assert.ok(err instanceof Error);
        assert.match(err.message, /cannot open the PostgreSQL database at postgres:\/\/bm:\*\*\*@127\.0\.0\.1:1\/game: .*ECONNREFUSED/);
        assert.doesNotMatch(err.message, /hunter2/);
        return true;
      },
    );
  });
});
