import Database from 'better-sqlite3';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openSqliteStateStore } from '../../state/sqlite-store';

const tmpFile = () => path.join(mkdtempSync(path.join(os.tmpdir(), 'state-store-')), 'state.db');

/**
 * What only the SQLite store has: migrating its own older files. The behaviour both stores share
 * (quarantine, run reports, bindings, links, ...) is tested once for both in
 * test/integration/state-store-conformance.test.ts.
 */
describe('sqlite state store', () => {
  test('migrates a state file from before bindings kept fields: old bindings stay, new ones keep fields', async () => {
    const file = tmpFile();
    const old = new Database(file);
    old.exec(`CREATE TABLE bindings (pipeline TEXT NOT NULL, source_key TEXT NOT NULL, target_key TEXT NOT NULL, hash TEXT NOT NULL,
      updated_at TEXT NOT NULL, PRIMARY KEY (pipeline, source_key)) WITHOUT ROWID;
      INSERT INTO bindings VALUES ('p', '1', 't1', 'h1', '2025-01-01T00:00:00.000Z');`);
    old.close();

    const store = openSqliteStateStore(file);
    expect((await store.getBindings('p', ['1'])).get('1')).toEqual({ targetKey: 't1', hash: 'h1' });
    await store.putBindings('p', [{ sourceKey: '2', targetKey: 't2', hash: 'h2', fields: { price: 10 } }]);
    expect((await store.getBindings('p', ['1', '2'])).get('2')).toEqual({ targetKey: 't2', hash: 'h2', fields: { price: 10 } });
    await store.close();
    // opening a migrated file again is a no-op
    const again = openSqliteStateStore(file);
    expect((await again.getBindings('p', ['2'])).get('2')?.fields).toEqual({ price: 10 });
    await again.close();
  });
});
