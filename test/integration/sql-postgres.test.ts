/**
 * The SQL connector on PostgreSQL (a real Debian PostgreSQL 15 started here), as a source and as
 * a target: timestamptz cursors with microsecond resolution, keyset paging through runs of equal
 * timestamps, ON CONFLICT upserts by external key, quoted (mixed-case) identifiers, and a refused
 * record failing alone inside its batch.
 */
import { Client } from 'pg';
import type { SqlSystem } from '../../connectors/sql/config';
import { SqlSystemSchema } from '../../connectors/sql/config';
import { createSqlConnector } from '../../connectors/sql/connector';
import { openPostgresSql, pgTimestampToIso } from '../../connectors/sql/postgres';
import { CONNECTOR_KINDS } from '../../pipelines/systems';
import { startPostgres, type TestPostgres } from '../helpers/postgres';

jest.setTimeout(120_000);

let pg: TestPostgres;
let url: string;
let sql: Client;
beforeAll(async () => {
  pg = await startPostgres();
  url = await pg.createDatabase('sql_connector');
  sql = new Client({ connectionString: url });
  await sql.connect();
  await sql.query(`
    CREATE TABLE "CrmContacts" ("Id" text PRIMARY KEY, "FullName" text NOT NULL, "updatedAt" timestamptz NOT NULL);
    CREATE TABLE erp_customers (id bigserial PRIMARY KEY, external_key text UNIQUE NOT NULL, name text NOT NULL, credit_minor bigint,
      active boolean, updated_at timestamptz NOT NULL);`);
});
afterAll(async () => {
  await sql?.end();
  await pg?.stop();
});

const system: SqlSystem = {
  kind: 'sql',
  dialect: 'postgres',
  urlEnv: 'CRM_PG_URL',
  entities: {
    contacts: { table: 'CrmContacts', keyColumn: 'Id', keyType: 'text', modifiedAtColumn: 'updatedAt' },
    customers: {
      table: 'erp_customers',
      keyColumn: 'id',
      keyType: 'integer',
      modifiedAtColumn: 'updated_at',
      externalKeyColumn: 'external_key',
      fields: { name: 'name', 'creditLimit.amountMinor': 'credit_minor', active: 'active' },
    },
  },
};

test('timestamps read back as ISO text with six fraction digits', () => {
  expect(pgTimestampToIso('2026-01-01 10:00:00.123456+00')).toBe('2026-01-01T10:00:00.123456Z');
  expect(pgTimestampToIso('2026-01-01 10:00:00+00')).toBe('2026-01-01T10:00:00.000000Z');
  expect(pgTimestampToIso('2026-01-01 10:00:00.5')).toBe('2026-01-01T10:00:00.500000Z');
  expect(pgTimestampToIso('infinity')).toBe('infinity');
});

test('as a source: microsecond cursors page through equal timestamps and byte-ordered text keys without skipping or repeating', async () => {
  // Three rows share one microsecond, two differ from it by 1 µs (a JS Date would merge them all).
  const rows: [string, string, string][] = [
    ['b', 'Bea', '2026-03-01 12:00:00.000001+00'],
    ['A', 'Ann', '2026-03-01 12:00:00.000001+00'],
    ['a', 'Abe', '2026-03-01 12:00:00.000001+00'],
    ['z', 'Zed', '2026-03-01 12:00:00.000000+00'],
    ['c', 'Cy', '2026-03-01 12:00:00.000002+00'],
    ['d', 'Di', '2026-03-02 08:30:00+00'],
  ];
  for (const [id, name, at] of rows) await sql.query('INSERT INTO "CrmContacts" VALUES ($1, $2, $3)', [id, name, at]);
  const c = createSqlConnector(system, 'crm-pg', openPostgresSql(url));
  try {
    const seen: string[] = [];
    const cursors: string[] = [];
    let after = null;
    for (let i = 0; i < 10; i++) {
      const page = await c.fetchChanges('contacts', { after, limit: 2 });
      seen.push(...page.records.map((r) => r.key));
      cursors.push(...page.records.map((r) => r.modifiedAt));
      after = page.nextCursor;
      if (!page.hasMore) break;
    }
    // Timestamp first, then key in byte order ("A" < "a" < "b"), as compareCursors orders them.
    expect(seen).toEqual(['z', 'A', 'a', 'b', 'c', 'd']);
    expect(cursors).toEqual([
      '2026-03-01T12:00:00.000000Z',
      '2026-03-01T12:00:00.000001Z',
      '2026-03-01T12:00:00.000001Z',
      '2026-03-01T12:00:00.000001Z',
      '2026-03-01T12:00:00.000002Z',
      '2026-03-02T08:30:00.000000Z',
    ]);
    expect(await c.countChanges!('contacts', { modifiedAt: '2026-03-01T12:00:00.000001Z', key: 'A' })).toBe(4);
    // A lookback cursor (key '') re-reads from that instant on.
    const again = await c.fetchChanges('contacts', { after: { modifiedAt: '2026-03-01T12:00:00.000002Z', key: '' }, limit: 10 });
    expect(again.records.map((r) => r.key)).toEqual(['c', 'd']);
    expect((await c.read('contacts', ['a', 'missing'])).map((r) => r.data.FullName)).toEqual(['Abe']);
  } finally {
    await c.close();
  }
});

test('as a target: ON CONFLICT upserts by external key; a refused record fails alone; bigint and boolean columns', async () => {
  const c = createSqlConnector(system, 'erp-pg', openPostgresSql(url));
  try {
    const first = await c.upsert('customers', [
      { externalKey: 'crm-1', fields: { name: 'Acme', creditLimit: { amountMinor: 9_007_199_254_740_993n }, active: true } },
      { externalKey: 'crm-2', fields: { name: null } }, // NOT NULL: refused, the others still written
      { externalKey: 'crm-3', fields: { name: 'Globex', active: false } },
    ]);
    expect(first.map((o) => [o.externalKey, o.ok, o.ok ? o.action : o.error.type])).toEqual([
      ['crm-1', true, 'created'],
      ['crm-2', false, 'ValidationError'],
      ['crm-3', true, 'created'],
    ]);
    expect(first[1]).toMatchObject({ error: { field: 'name' } });
    const again = await c.upsert('customers', [{ externalKey: 'crm-1', fields: { name: 'Acme AG', creditLimit: { amountMinor: 5 }, active: true } }]);
    expect(again).toEqual([{ externalKey: 'crm-1', ok: true, targetKey: first[0]!.ok ? first[0]!.targetKey : '', action: 'updated' }]);
    const table = (await sql.query('SELECT external_key, name, credit_minor::text AS credit, active FROM erp_customers ORDER BY external_key')).rows;
    expect(table).toEqual([
      { external_key: 'crm-1', name: 'Acme AG', credit: '5', active: true },
      { external_key: 'crm-3', name: 'Globex', credit: null, active: false },
    ]);
    expect(await c.findByExternalKeys!('customers', ['crm-3', 'nope'])).toEqual(new Map([['crm-3', first[2]!.ok ? first[2]!.targetKey : '']]));
  } finally {
    await c.close();
  }
});

test('config: a postgres system names the environment variable with its URL; the worker opens it from there', async () => {
  expect(SqlSystemSchema.safeParse({ ...system, urlEnv: undefined }).error?.issues[0]).toMatchObject({ path: ['urlEnv'], message: expect.stringMatching(/needs "urlEnv"/) });
  expect(SqlSystemSchema.safeParse({ ...system, path: 'x.db' }).error?.issues[0]).toMatchObject({ path: ['path'] });
  const parsed = SqlSystemSchema.parse(system);
  await expect(async () => CONNECTOR_KINDS.sql!.create(parsed, 'erp-pg', {})).rejects.toMatchObject({ type: 'AuthError', message: expect.stringMatching(/CRM_PG_URL/) });
  const c = CONNECTOR_KINDS.sql!.create(parsed, 'erp-pg', { CRM_PG_URL: url });
  try {
    expect(c.describe().kind).toBe('sql/postgres');
    expect((await c.read('customers', ['1'])).length).toBeLessThanOrEqual(1);
  } finally {
    await c.close();
  }
});
