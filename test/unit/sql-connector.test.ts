import { createSqlConnector } from '../../connectors/sql/connector';
import { openSqlite } from '../../connectors/sql/sqlite';
import type { SqlSystem } from '../../connectors/sql/config';

function setup() {
  const db = openSqlite(':memory:');
  const system: SqlSystem = {
    kind: 'sql',
    dialect: 'sqlite',
    path: ':memory:',
    entities: {
      src: { table: 'src', keyColumn: 'id', keyType: 'integer', modifiedAtColumn: 'm' },
      dst: { table: 'dst', keyColumn: 'id', keyType: 'integer', modifiedAtColumn: 'm', externalKeyColumn: 'ext', fields: { name: 'name', 'price.amountMinor': 'price' } },
    },
  };
  return { db, connector: createSqlConnector(system, 'test', db) };
}

test('keyset paging on (modifiedAt, id) never skips or repeats rows sharing a timestamp', async () => {
  const { db, connector } = setup();
  await db.transaction(async (tx) => {
    await tx.all('CREATE TABLE src (id INTEGER PRIMARY KEY, m TEXT NOT NULL)', []);
    // ids 2 and 10 compare differently as text and as numbers: order must follow the column type
    for (let id = 1; id <= 25; id++) await tx.all('INSERT INTO src VALUES (?, ?)', [id, `2026-01-01T00:00:0${id % 3}.000Z`]);
  });
  const seen: string[] = [];
  let after = null;
  for (;;) {
    const page = await connector.fetchChanges('src', { after, limit: 4 });
    seen.push(...page.records.map((r) => r.key));
    after = page.nextCursor;
    if (!page.hasMore) break;
  }
  expect(seen).toHaveLength(25);
  expect(new Set(seen).size).toBe(25);
  expect(await connector.countChanges!('src', null)).toBe(25);
});

test('upsert by external key creates, then updates the same row; a refused row does not stop the batch', async () => {
  const { db, connector } = setup();
  await db.transaction((tx) => tx.all('CREATE TABLE dst (id INTEGER PRIMARY KEY AUTOINCREMENT, ext TEXT UNIQUE NOT NULL, name TEXT NOT NULL, price INTEGER, m TEXT)', []));
  const first = await connector.upsert('dst', [
    { externalKey: 'a', fields: { name: 'A', price: { amountMinor: 100 } } },
    { externalKey: 'b', fields: { price: { amountMinor: 5 } } }, // name missing → NOT NULL refuses it
    { externalKey: 'c', fields: { name: 'C' } },
  ]);
  expect(first.map((o) => (o.ok ? o.action : o.error.type))).toEqual(['created', 'ValidationError', 'created']);
  const again = await connector.upsert('dst', [{ externalKey: 'a', fields: { name: 'A2' } }]);
  expect(again[0]).toMatchObject({ ok: true, action: 'updated', targetKey: first[0]!.ok ? first[0]!.targetKey : '' });
  expect(await db.all('SELECT ext, name FROM dst ORDER BY id', [])).toEqual([
    { ext: 'a', name: 'A2' },
    { ext: 'c', name: 'C' },
  ]);
  expect(await connector.findByExternalKeys('dst', ['a', 'b', 'c'])).toEqual(new Map([['a', '1'], ['c', '2']]));
});

test('an unknown entity is a ConfigError naming the known ones', async () => {
  const { connector } = setup();
  await expect(connector.fetchChanges('nope', { after: null, limit: 1 })).rejects.toMatchObject({ type: 'ConfigError', message: expect.stringContaining('has src, dst') });
});

test('staged pages round-trip through the columnar codec, sparse columns included', async () => {
  const { toColumnar, fromColumnar } = await import('../../activities/page-codec');
  const records = [
    { key: '1', modifiedAt: 'a', data: { id: 1, name: 'x', extra: null } },
    { key: '2', modifiedAt: 'b', data: { id: 2, other: 'y' } },
  ];
  expect(fromColumnar(JSON.parse(JSON.stringify(toColumnar(records))))).toEqual(records);
});

describe('native writes (the side of a two-way pair)', () => {
  async function withTables() {
    const { db, connector } = setup();
    await db.transaction(async (tx) => {
      await tx.all('CREATE TABLE dst (id INTEGER PRIMARY KEY AUTOINCREMENT, ext TEXT UNIQUE, name TEXT NOT NULL, price INTEGER, m TEXT NOT NULL)', []);
      await tx.all('CREATE TABLE src (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, note TEXT, m TEXT NOT NULL)', []);
    });
    return { db, connector };
  }

  test('an insert that carries its external key is created once, even when retried', async () => {
    const { db, connector } = await withTables();
    const first = await connector.insertNative('dst', [{ ref: 'link-1', values: { ext: '42', name: 'Acme', price: 100 } }]);
    const again = await connector.insertNative('dst', [{ ref: 'link-1', values: { ext: '42', name: 'Acme', price: 100 } }]);
    expect(first).toEqual([{ externalKey: 'link-1', ok: true, targetKey: '1', action: 'created' }]);
    expect(again[0]).toMatchObject({ ok: true, targetKey: '1' });
    expect(await db.all('SELECT id, ext, name, price FROM dst', [])).toEqual([{ id: 1, ext: '42', name: 'Acme', price: 100 }]);
  });

  test('an insert without an external key column gets the new key; a refused row is its own outcome', async () => {
    const { connector } = await withTables();
    const out = await connector.insertNative('src', [
      { ref: 'a', values: { name: 'One' } },
      { ref: 'b', values: { name: null } },
      { ref: 'c', values: { name: 'Three' } },
    ]);
    expect(out.map((o) => [o.externalKey, o.ok, o.ok ? o.targetKey : o.error.type])).toEqual([
      ['a', true, '1'],
      ['b', false, 'ValidationError'],
      ['c', true, '2'],
    ]);
  });

  test('a patch changes only the given columns and the modified time; a missing record is NotFound', async () => {
    const { db, connector } = await withTables();
    await db.all("INSERT INTO src (name, note, m) VALUES ('Keep', 'untouched', '2020-01-01T00:00:00.000Z')", []);
    const out = await connector.patchNative('src', [
      { key: '1', values: { name: 'Renamed' } },
      { key: '99', values: { name: 'Nobody' } },
    ]);
    expect(out[0]).toEqual({ externalKey: '1', ok: true, targetKey: '1', action: 'updated' });
    expect(out[1]).toMatchObject({ externalKey: '99', ok: false, error: { type: 'NotFound' } });
    const [row] = await db.all('SELECT name, note, m FROM src', []);
    expect(row).toMatchObject({ name: 'Renamed', note: 'untouched' });
    expect(String(row!.m) > '2020-01-01T00:00:00.000Z').toBe(true);
  });

  test('a native field that is not a plain column name is refused before it meets SQL', async () => {
    const { connector } = await withTables();
    await expect(connector.patchNative('src', [{ key: '1', values: { 'name" = 1; --': 'x' } }])).rejects.toThrow(/is not a plain column name/);
  });
});
