/**
 * The 429 and retry counters of the worker's Prometheus metrics (issue 11 item 5): a worker
 * process with WORKER_METRICS_PORT syncs demo ERP customers into the HubSpot emulator through a
 * proxy that answers a seeded share of the POSTs with HubSpot's 429 (Retry-After: 1). Each 429
 * fails one write attempt, which is retried: the scraped counters equal the 429s the proxy sent
 * and the retries the sync's result reports.
 */
import Database from 'better-sqlite3';
import path from 'node:path';
import { TASK_QUEUES } from '../../contracts/queues';
import type { SyncResult } from '../../contracts/sync';
import { demoPaths, seedDemo } from '../../demo/seed';
import { startHubSpotEmulator, type HubSpotEmulator } from '../../emulators/hubspot';
import { startDevEnv, type DevEnv } from '../helpers/env';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy';
import { scrape as scrapeAt, startMetricsWorker, total } from '../helpers/metrics';
import { stopAllWorkers } from '../helpers/worker-process';

jest.setTimeout(240_000);

const TOKEN = 'pat-na1-test-metrics-0000';
const CUSTOMERS = 80;
let env: DevEnv;
let emulator: HubSpotEmulator;
let proxy: FaultProxy;
let dir: string;
let port: number;

beforeAll(async () => {
  env = await startDevEnv();
  emulator = await startHubSpotEmulator({ token: TOKEN });
  // Only POSTs (the batch upserts) are counted and may get a 429; HubSpot-style body, never forwarded.
  proxy = await startFaultProxy({ upstream: emulator.baseUrl, seed: 429, counts: (m) => m === 'POST', shares: { rate429: 0.3 }, retryAfterSeconds: 1 });
  dir = path.join(env.tmp, 'demo');
  seedDemo(dir, { accounts: 0, contacts: 0, products: 0 });
  const db = new Database(demoPaths(dir).erp);
  const now = new Date().toISOString();
  const ins = db.prepare('INSERT INTO customers (external_key, name, email, city, country_code, segment, active, updated_at) VALUES (?,?,?,?,?,?,?,?)');
  db.transaction(() => {
    for (let i = 1; i <= CUSTOMERS; i++) ins.run(`cust-${i}`, `Customer ${i}`, `billing${i}@example.com`, `City ${i % 7}`, 'DE', i % 2 ? 'smb' : 'enterprise', 1, now);
  })();
  db.close();
  port = await startMetricsWorker({
    TEMPORAL_ADDRESS: env.server.address,
    WORKER_FAMILIES: 'hubspot',
    DEMO_DATA_DIR: dir,
    HUBSPOT_BASE_PATH: proxy.url,
    HUBSPOT_ACCESS_TOKEN: TOKEN,
    HUBSPOT_GOVERNOR_DB: path.join(env.tmp, 'hubspot-governor.db'),
  });
});

const scrape = () => scrapeAt(port);

afterAll(async () => {
  await stopAllWorkers();
  await proxy?.stop();
  await emulator?.stop();
  await env?.teardown();
});

test('each 429 HubSpot answered is counted once as rate limited and once as a retry, per system and step', async () => {
  const result: SyncResult = await env.client.workflow.execute('syncPipeline', {
    taskQueue: TASK_QUEUES.hubspot,
    workflowId: 'metrics-429',
    args: [{ pipeline: 'erp-customers-to-hubspot', pageSize: 10 }],
  });
  expect(result.status).toBe('completed');
  expect(result.totals.created).toBe(CUSTOMERS);
  const sent = proxy.count('rate429');
  expect(sent).toBeGreaterThan(0); // the seed draws some: a run without 429s would prove nothing
  expect(proxy.count()).toBe(sent); // and nothing else failed

  const s = await scrape();
  const where = { pipeline: 'erp-customers-to-hubspot', system: 'hubspot' };
  expect(total(s, 'crm_erp_sync_rate_limited', where)).toBe(sent);
  expect(total(s, 'crm_erp_sync_rate_limited', { ...where, step: 'writePage' })).toBe(sent);
  expect(total(s, 'crm_erp_sync_activity_retries', { pipeline: 'erp-customers-to-hubspot' })).toBe(sent);
  expect(total(s, 'crm_erp_sync_activity_retries', { ...where, step: 'writePage' })).toBe(sent);
  expect(result.totals.retries).toBe(sent);
  // No 429s and no retries are counted for a pipeline that saw none.
  expect(total(s, 'crm_erp_sync_rate_limited', { pipeline: 'demo-accounts' })).toBe(0);
});
