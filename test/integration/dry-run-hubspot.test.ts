/**
 * A dry run to a non-SQL target (issue 11, item 2): erp-customers-to-hubspot plans against the
 * HubSpot emulator. The plan's before values are the companies' real properties, read by key
 * through the connector (not ∅), and apply's check compares them: a company edited in HubSpot
 * between plan and apply is reported and kept, the others are written. Real dev server, demo
 * SQLite CRM/ERP, HubSpot emulator (the SaaS stand-in), in-process `sql` and `hubspot` workers.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import type { ApplyPlanResult } from '../../contracts/plan';
import { TASK_QUEUES } from '../../contracts/queues';
import type { SyncResult } from '../../contracts/sync';
import { demoPaths, seedDemo } from '../../demo/seed';
import { startHubSpotEmulator, type HubSpotEmulator } from '../../emulators/hubspot';
import { openSqliteStateStore } from '../../state/sqlite-store';
import type { StateStore } from '../../state/types';
import type { SyncWorkers } from '../../workers/worker';
import { queryDb, syncWorkersFor } from '../helpers/demo-env';
import { startDevEnv, type DevEnv } from '../helpers/env';

jest.setTimeout(240_000);

const TOKEN = 'pat-na1-dry-run-0000';
let env: DevEnv;
let emulator: HubSpotEmulator;
let dir: string;
let store: StateStore;
let workers: SyncWorkers;
let running: Promise<void>;
let n = 0;

const run = async (pipeline: string, family: 'sql' | 'hubspot', extra: Record<string, unknown> = {}): Promise<SyncResult> => {
  const r = (await env.client.workflow.execute('syncPipeline', { taskQueue: TASK_QUEUES[family], workflowId: `dry-hs-${++n}`, args: [{ pipeline, ...extra }] })) as SyncResult;
  expect(r.status).toBe('completed');
  return r;
};
const company = (externalKey: string) => emulator.store.find('companies', externalKey, 'erp_customer_id')!;

beforeAll(async () => {
  env = await startDevEnv();
  emulator = await startHubSpotEmulator({ token: TOKEN });
  dir = path.join(env.tmp, 'demo');
  seedDemo(dir, { accounts: 40, contacts: 0, products: 0 });
  workers = await syncWorkersFor(env, dir, ['sql', 'hubspot'], {
    HUBSPOT_BASE_PATH: emulator.baseUrl,
    HUBSPOT_ACCESS_TOKEN: TOKEN,
    HUBSPOT_GOVERNOR_DB: path.join(env.tmp, 'hubspot-governor.db'),
    HUBSPOT_ACCOUNT: 'dry-run-portal',
  });
  running = workers.run();
  store = openSqliteStateStore(path.join(dir, 'state.db'));
});

afterAll(async () => {
  workers?.shutdown();
  await running;
  await store?.close();
  await emulator?.stop();
  await env?.teardown();
});

test('a dry run to HubSpot shows the companies\' real before values; apply reports a company changed in HubSpot meanwhile and writes the rest', async () => {
  await run('demo-accounts', 'sql');
  const created = await run('erp-customers-to-hubspot', 'hubspot');
  expect(created.totals.created).toBeGreaterThan(20);

  // Three ERP customers move to another city.
  const rows = queryDb<{ external_key: string; city: string }>(demoPaths(dir).erp, 'SELECT external_key, city FROM customers ORDER BY id LIMIT 3');
  const keys = rows.map((r) => r.external_key);
  const erp = new Database(demoPaths(dir).erp);
  const at = new Date(Date.now() + 2000).toISOString();
  for (const k of keys) erp.prepare('UPDATE customers SET city = ?, updated_at = ? WHERE external_key = ?').run(`Moved ${k}`, at, k);
  erp.close();
  const before = new Map(keys.map((k) => [k, company(k).props]));
  for (const r of rows) expect(before.get(r.external_key)!.city).toBe(r.city); // HubSpot holds the ERP's old city

  const dry = await run('erp-customers-to-hubspot', 'hubspot', { mode: 'dry-run' });
  expect(dry.plan!.counts).toMatchObject({ creates: 0, updates: 3 });
  const items = (await store.listPlanItems(dry.plan!.planId, { limit: 1000 })).filter((i) => i.op === 'update');
  expect(items.map((i) => i.key).sort()).toEqual([...keys].sort());
  for (const i of items) {
    // Field by field, named by HubSpot property: only the city changes, from what HubSpot holds now.
    expect(i.data.changes).toEqual([{ field: 'city', before: before.get(i.key)!.city, after: `Moved ${i.key}` }]);
  }
  for (const k of keys) expect(company(k).props).toEqual(before.get(k)); // nothing written

  // Between plan and apply someone edits one of them in HubSpot (another property).
  const edited = keys[1]!;
  emulator.store.update('companies', company(edited).id, { phone: '+44 20 7946 0000' });

  const applied = (await env.client.workflow.execute('applyPlan', { taskQueue: TASK_QUEUES.hubspot, workflowId: `dry-hs-apply-${++n}`, args: [{ planId: dry.plan!.planId }] })) as ApplyPlanResult;
  expect(applied.totals).toMatchObject({ written: 2, updated: 2, changedMeanwhile: 1, alreadyApplied: 0 });
  expect(applied.changedMeanwhile).toEqual([edited]);
  // Reported, not overwritten: the edited company keeps its old city and the edit.
  expect(company(edited).props).toMatchObject({ city: before.get(edited)!.city, phone: '+44 20 7946 0000' });
  for (const k of keys.filter((x) => x !== edited)) expect(company(k).props).toEqual({ ...before.get(k), city: `Moved ${k}` });
});
