import Database from 'better-sqlite3';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { SyncPairResult } from '../../contracts/pair-sync';
import { TASK_QUEUES } from '../../contracts/queues';
import type { SyncResult } from '../../contracts/sync';
import { demoPaths, seedDemo } from '../../demo/seed';
import { loadRegistry } from '../../pipelines/load';
import { killWhileRunning } from '../helpers/crash';
import { queryDb } from '../helpers/demo-env';
import { startDevEnv, type DevEnv } from '../helpers/env';
import { spawnWorker, stopAllWorkers } from '../helpers/worker-process';

jest.setTimeout(300_000);

let env: DevEnv;
beforeAll(async () => {
  env = await startDevEnv();
});
afterAll(async () => {
  await stopAllWorkers();
  await env?.teardown();
});

const ACCOUNTS = 8000;

test('a worker SIGKILLed in the middle of a two-way run is replaced: no duplicate on either side, no edit lost', async () => {
  const dir = path.join(env.tmp, 'demo');
  seedDemo(dir, { accounts: ACCOUNTS, contacts: 0, products: 0 });
  const workerEnv = { TEMPORAL_ADDRESS: env.server.address, DEMO_DATA_DIR: dir, SYNC_STATE_DB: path.join(dir, 'state.db'), WORKER_FAMILIES: 'sql' };
  const paths = demoPaths(dir);

  // The ERP filled one way first (as a user upgrading from pipelines would have it).
  const first = spawnWorker(workerEnv);
  await first.ready;
  const filled = (await env.client.workflow.execute('syncPipeline', { taskQueue: TASK_QUEUES.sql, workflowId: 'fill', args: [{ pipeline: 'demo-accounts' }] })) as SyncResult;
  expect(filled.status).toBe('completed');

  // Edits on both sides before the pair ever ran: 5% CRM names (CRM-owned), 5% ERP credit limits (ERP-owned).
  const when = new Date(Date.now() + 1000).toISOString();
  const crm = new Database(paths.crm);
  const renamed = crm.prepare("UPDATE accounts SET company_name = 'Renamed ' || id, updated_at = ? WHERE id % 20 = 0").run(when).changes;
  crm.close();
  const erp = new Database(paths.erp);
  const limited = erp.prepare("UPDATE customers SET credit_limit_minor = 100 * id, credit_currency = 'EUR', updated_at = ? WHERE id % 20 = 3").run(when).changes;
  erp.close();
  const erpCount = () => queryDb<{ c: number }>(paths.erp, 'SELECT count(*) c FROM customers')[0]!.c;
  const before = { erp: erpCount(), crm: ACCOUNTS };

  const handle = await env.client.workflow.start('syncPair', {
    taskQueue: TASK_QUEUES.sql,
    workflowId: 'pair-crash',
    args: [{ pair: 'demo-customers', pageSize: 2000 }],
  });
  // One worker dies while a page is planned (or written), the next one while a page is written.
  const kill = await killWhileRunning(handle, first, workerEnv, ['planPairPage', 'writePairPage']);
  expect(['planPairPage', 'writePairPage']).toContain(kill.inFlight.type);
  const killWrite = await killWhileRunning(handle, spawnWorker(workerEnv), workerEnv, ['writePairPage']);
  expect(killWrite.inFlight.type).toBe('writePairPage');

  spawnWorker(workerEnv);
  const result = (await handle.result()) as SyncPairResult;
  expect(result.status).toBe('completed');

  // No duplicate on either side: every row is one the run reports creating or one that was there,
  // and no business record exists twice (demo names carry the account id, so they are unique).
  expect(erpCount()).toBe(before.erp + result.totals.sides.erp!.created);
  expect(result.totals.sides.erp!.created).toBeLessThan(10); // accounts the one-way fill refused, valid now after their rename
  expect(queryDb<{ c: number }>(paths.crm, 'SELECT count(*) c FROM accounts')[0]!.c).toBe(before.crm + result.totals.sides.crm!.created);
  expect(queryDb(paths.erp, 'SELECT name, count(*) n FROM customers GROUP BY name HAVING n > 1')).toEqual([]);
  expect(queryDb(paths.erp, 'SELECT external_key, count(*) n FROM customers GROUP BY external_key HAVING n > 1')).toEqual([]);
  // No edit lost: every linked, active customer agrees field by field on both sides (through the pair's mappings).
  const registry = loadRegistry({ env: { DEMO_DATA_DIR: dir } });
  const crmMap = registry.mappings.get('crm-account-to-customer')!;
  const erpMap = registry.mappings.get('erp-customer-to-customer')!;
  const erpByKey = new Map(queryDb<Record<string, unknown>>(paths.erp, 'SELECT * FROM customers').map((r) => [String(r.external_key), erpMap.apply(r)]));
  let compared = 0;
  const differ: string[] = [];
  for (const row of queryDb<Record<string, unknown>>(paths.crm, 'SELECT * FROM accounts')) {
    const c = crmMap.apply(row);
    if (!c.ok || c.value.active === false) continue;
    const e = erpByKey.get(String(row.id));
    compared++;
    if (!e?.ok || !isDeepStrictEqual(e.value, c.value)) differ.push(String(row.id));
  }
  expect(differ.slice(0, 5)).toEqual([]);
  expect(compared).toBeGreaterThan(ACCOUNTS * 0.6);
  // and the edits are where they should be
  expect(queryDb<{ c: number }>(paths.erp, "SELECT count(*) c FROM customers WHERE name LIKE 'Renamed %'")[0]!.c).toBeGreaterThan(renamed * 0.6);
  expect(limited).toBeGreaterThan(0);
  console.log(`pair-crash: killed during ${kill.inFlight.type} and ${killWrite.inFlight.type} (${kill.workers + killWrite.workers} workers); ${compared} customers equal on both sides`);
});
