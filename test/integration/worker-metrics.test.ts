/**
 * Prometheus metrics of a worker process (issue 11 item 5): the worker started with
 * WORKER_METRICS_PORT serves /metrics; after real syncs the record counters equal the syncs'
 * totals, the step histogram counts every page, and the approvals gauge follows a sync that
 * waits at its gate and is approved.
 */
import Database from 'better-sqlite3';
import { cpSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { approveUpdate, pendingApprovalQuery } from '../../contracts/approval';
import { TASK_QUEUES } from '../../contracts/queues';
import type { SyncResult } from '../../contracts/sync';
import { demoPaths, seedDemo } from '../../demo/seed';
import { ROOT, startDevEnv, type DevEnv } from '../helpers/env';
import { waitFor } from '../helpers/processes';
import { scrape as scrapeAt, startMetricsWorker, total } from '../helpers/metrics';
import { stopAllWorkers } from '../helpers/worker-process';

jest.setTimeout(240_000);

let env: DevEnv;
let dir: string;
let port: number;

beforeAll(async () => {
  env = await startDevEnv();
  dir = path.join(env.tmp, 'demo');
  seedDemo(dir, { accounts: 300, contacts: 0, products: 40 });
  const configDir = path.join(env.tmp, 'config');
  cpSync(path.join(ROOT, 'config'), configDir, { recursive: true });
  writeFileSync(
    path.join(configDir, 'pipelines', 'priced-products.json'),
    JSON.stringify({
      name: 'priced-products',
      family: 'sql',
      source: { system: 'demo-crm', entity: 'products' },
      target: { system: 'demo-erp', entity: 'products' },
      mapping: 'crm-product-to-product',
      approval: { watchFields: ['listPrice.amountMinor'], maxChangePercent: 20, policy: { approvers: ['pricing-lead'], timeout: '2 days', onTimeout: { action: 'reject' } } },
    }),
  );
  port = await startMetricsWorker({
    TEMPORAL_ADDRESS: env.server.address,
    DEMO_DATA_DIR: dir,
    SYNC_CONFIG_DIR: configDir,
    WORKER_APPROVALS_POLL_SECONDS: '0.5',
  });
});

const scrape = () => scrapeAt(port);

afterAll(async () => {
  await stopAllWorkers();
  await env?.teardown();
});

const run = (pipeline: string, workflowId: string, extra: Record<string, unknown> = {}): Promise<SyncResult> =>
  env.client.workflow.execute('syncPipeline', { taskQueue: TASK_QUEUES.sql, workflowId, args: [{ pipeline, ...extra }] });

test('after real syncs the record counters equal the syncs\' totals, and every page is timed per step', async () => {
  const first = await run('demo-accounts', 'metrics-accounts-1', { pageSize: 50 });
  // Three accounts change in the CRM; a full re-read finds them updated and the rest unchanged.
  const db = new Database(demoPaths(dir).crm);
  db.prepare("UPDATE accounts SET company_name = company_name || ' Group', updated_at = ? WHERE id IN (SELECT id FROM accounts ORDER BY id LIMIT 3)").run(new Date(Date.now() + 5000).toISOString());
  db.close();
  const second = await run('demo-accounts', 'metrics-accounts-2', { pageSize: 50, mode: 'full' });
  expect(first.totals.created).toBeGreaterThan(0);
  expect(first.totals.quarantined).toBeGreaterThan(0);
  expect(second.totals.unchanged).toBeGreaterThan(0);
  expect(second.totals.updated).toBeGreaterThan(0);

  const s = await scrape();
  const counter = s.find((x) => x.name.startsWith('crm_erp_sync_records'))!.name; // with or without a _total suffix
  for (const outcome of ['read', 'created', 'updated', 'unchanged', 'quarantined'] as const) {
    expect({ outcome, value: total(s, counter, { pipeline: 'demo-accounts', outcome }) }).toEqual({ outcome, value: first.totals[outcome] + second.totals[outcome] });
  }
  // One preparePage (fetch, map, plan) per page, the last, empty one included.
  const pages = first.totals.pages + second.totals.pages;
  expect(total(s, 'crm_erp_sync_page_step_duration_count', { pipeline: 'demo-accounts', step: 'preparePage' })).toBe(pages);
  expect(total(s, 'crm_erp_sync_page_step_duration_count', { pipeline: 'demo-accounts', step: 'writePage' })).toBeGreaterThan(0);
  expect(total(s, 'crm_erp_sync_page_step_duration_sum', { pipeline: 'demo-accounts', step: 'preparePage' })).toBeGreaterThan(0);
  // Temporal's own worker metrics are there too, on the same endpoint.
  expect(s.some((x) => x.name.startsWith('temporal_'))).toBe(true);
});

test('the approvals gauge counts a sync waiting at its gate, and drops back once it is approved', async () => {
  await run('priced-products', 'metrics-products-1');
  const db = new Database(demoPaths(dir).crm);
  db.prepare("UPDATE products SET price = printf('%.2f', CAST(price AS REAL) * 1.5), updated_at = ? WHERE id <= 5 AND price GLOB '[0-9]*'").run(new Date(Date.now() + 5000).toISOString());
  db.close();
  const h = await env.client.workflow.start('syncPipeline', { taskQueue: TASK_QUEUES.sql, workflowId: 'metrics-products-2', args: [{ pipeline: 'priced-products' }] });
  const pending = await waitFor(async () => (await h.query(pendingApprovalQuery)).pending, 'a pending approval', 60_000, 200);
  const waiting = async () => total(await scrape(), 'crm_erp_sync_approvals_waiting', {});
  await waitFor(async () => (await waiting()) === 1, 'the gauge to show one waiting sync', 30_000, 250);
  await h.executeUpdate(approveUpdate, { args: [{ approver: 'pricing-lead', planHash: pending.planHash }] });
  await h.result();
  await waitFor(async () => (await waiting()) === 0, 'the gauge to drop to zero', 30_000, 250);
  expect(await waiting()).toBe(0);
});
