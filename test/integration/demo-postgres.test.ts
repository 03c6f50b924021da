/**
 * The demo on PostgreSQL (`DEMO_DB=postgres://…`): the demo CRM and ERP seeded into schemas
 * demo_crm and demo_erp of a real PostgreSQL 15, the demo's config switched to dialect postgres
 * (workers/demo/database.ts, the function `npm start` uses), and one sync of each demo pipeline
 * on the dev server. Both sides are then compared row by row through the pipeline's own mapping.
 */
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Client as PgClient, types } from 'pg';
import { TASK_QUEUES } from '../../contracts/queues';
import { seedDemoPostgres } from '../../demo/postgres';
import type { SyncResult } from '../../contracts/sync';
import { PROJECT_CONFIG, loadRegistry } from '../../pipelines/load';
import { demoDatabase } from '../../workers/demo/database';
import { createSyncWorkers, type SyncWorkers } from '../../workers/worker';
import { startDevEnv, type DevEnv } from '../helpers/env';
import { startPostgres, type TestPostgres } from '../helpers/postgres';
import { compareSqlTarget } from '../helpers/sql-target';

jest.setTimeout(300_000);

const SIZE = { accounts: 400, contacts: 800, products: 150 };
let env: DevEnv;
let pg: TestPostgres;
let url: string;
let sql: PgClient;
let sync: SyncWorkers | undefined;
let running: Promise<void> | undefined;

beforeAll(async () => {
  env = await startDevEnv();
  pg = await startPostgres();
  url = await pg.createDatabase('demo');
  // Rows as the SQLite demo has them: bigint as numbers, timestamps as ISO text.
  sql = new PgClient({
    connectionString: url,
    types: { getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === 20 ? Number : oid === 1184 ? (v: string) => v : types.getTypeParser(oid, format))) as typeof types.getTypeParser },
  });
  await sql.connect();
});
afterAll(async () => {
  sync?.shutdown();
  await running;
  await sql?.end();
  await pg?.stop();
  await env?.teardown();
});

test('DEMO_DB=postgres://…: seed, one sync per demo pipeline, both sides equal', async () => {
  const dir = path.join(env.tmp, 'demo');
  expect(() => demoDatabase({ DEMO_DB: 'mysql://x' }, dir, PROJECT_CONFIG.configDir)).toThrow(/^DEMO_DB: expected a postgres:\/\/user:password@host:port\/database URL/);
  const db = demoDatabase({ DEMO_DB: url }, dir, PROJECT_CONFIG.configDir);
  expect(db.kind).toBe('postgres');
  expect(db.where).not.toContain(new URL(url).password);
  // The seed goes through the same path `npm start` takes, at a test size.
  expect(await seedDemoPostgres(url, dir, SIZE)).toBe(true);
  expect(await db.seed()).toBe(false); // seeded already: left as it is
  const count = async (t: string) => Number((await sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${t}`)).rows[0]!.n);
  expect(await count('demo_crm.accounts')).toBe(SIZE.accounts);
  expect(await count('demo_crm.contacts')).toBe(SIZE.contacts);
  expect(await count('demo_erp.customers')).toBe(0);

  // The generated config names the URL's variable, never the URL (it holds the password).
  const systemsText = readFileSync(path.join(db.configDir!, 'systems.json'), 'utf8');
  expect(systemsText).not.toContain(new URL(url).password);
  const vars = { ...process.env, DEMO_DB: url, DEMO_DATA_DIR: dir };
  const registry = loadRegistry({ configDir: db.configDir!, env: vars });
  expect(registry.systems.get('demo-erp')!.config).toMatchObject({ dialect: 'postgres', urlEnv: 'DEMO_DB', schema: 'demo_erp' });
  // Nothing can come from the SQLite files: remove them.
  for (const f of ['crm.db', 'erp.db']) rmSync(path.join(dir, f), { force: true });

  sync = await createSyncWorkers({ connection: env.nativeConnection, namespace: 'default', families: ['sql'], configDir: db.configDir, stateDb: path.join(dir, 'state.db'), env: vars, workflowBundle: env.workflowBundle });
  running = sync.run();
  const results: SyncResult[] = await Promise.all(
    ['demo-accounts', 'demo-contacts', 'demo-products'].map((pipeline) => env.client.workflow.execute('syncPipeline', { taskQueue: TASK_QUEUES.sql, workflowId: `demo-pg:${pipeline}`, args: [{ pipeline, pageSize: 100 }] })),
  );
  for (const r of results) expect(r.status).toBe('completed');
  expect(results.map((r) => r.totals.read)).toEqual([SIZE.accounts, SIZE.contacts, SIZE.products]);

  const read = {
    source: async (t: string) => (await sql.query(`SELECT * FROM demo_crm.${t}`)).rows as Record<string, unknown>[],
    target: async (t: string) => (await sql.query(`SELECT * FROM demo_erp.${t}`)).rows as Record<string, unknown>[],
  };
  for (const [pipeline, table, erpTable, n] of [
    ['demo-accounts', 'accounts', 'customers', SIZE.accounts],
    ['demo-contacts', 'contacts', 'contacts', SIZE.contacts],
    ['demo-products', 'products', 'products', SIZE.products],
  ] as const) {
    const cmp = await compareSqlTarget(dir, pipeline, table, path.join(dir, 'state.db'), read);
    expect({ pipeline, problems: cmp.problems }).toEqual({ pipeline, problems: [] });
    expect(cmp.valid + cmp.refused).toBe(n);
    expect(cmp.valid).toBeGreaterThan(0);
    expect(cmp.targetRows).toBe(cmp.valid);
    expect(await count(`demo_erp.${erpTable}`)).toBe(cmp.valid);
  }
});
