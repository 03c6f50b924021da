/**
 * The run report a person reads (issue 11 item 4): real syncs on the dev server (a first run
 * with quarantined records, then a price change held at the approval gate and approved), the
 * text report and the self-contained HTML file, opened in Debian's headless Chromium to check
 * what it shows: counts, the pages chart, a quarantine reason, before/after, who approved.
 */
import Database from 'better-sqlite3';
import { cpSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { approveUpdate, pendingApprovalQuery } from '../../contracts/approval';
import { TASK_QUEUES } from '../../contracts/queues';
import type { SyncResult } from '../../contracts/sync';
import { runCli, type CliDeps } from '../../cli/program';
import { demoPaths, seedDemo } from '../../demo/seed';
import { toMinorUnits } from '../../mappings/dsl/money';
import { openSqliteStateStore } from '../../state/sqlite-store';
import type { StateStore } from '../../state/types';
import { parseWorkerEnv } from '../../workers/config';
import { createSyncWorkers, type SyncWorkers } from '../../workers/worker';
import { startBrowser, type HeadlessBrowser } from '../helpers/browser';
import { ROOT, startDevEnv, type DevEnv } from '../helpers/env';
import { waitFor } from '../helpers/processes';

jest.setTimeout(240_000);

let env: DevEnv;
let dir: string;
let configDir: string;
let store: StateStore;
let workers: SyncWorkers;
let running: Promise<void>;
let browser: HeadlessBrowser | undefined;
let browserStarting: Promise<HeadlessBrowser> | undefined;
let first: SyncResult;
let second: SyncResult;

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const deps: CliDeps = {
    env: parseWorkerEnv({ DEMO_DATA_DIR: dir, TEMPORAL_ADDRESS: env.server.address, SYNC_CONFIG_DIR: configDir }),
    stdout: (t) => (out += t),
    stderr: (t) => (err += t),
    client: async () => env.client,
    store: () => store,
    user: 'test-operator',
  };
  return { code: await runCli(argv, deps), out, err };
}

beforeAll(async () => {
  // Chromium starts while the syncs run; afterAll stops it even when the rest fails.
  browserStarting = startBrowser();
  browserStarting.catch(() => undefined);
  env = await startDevEnv();
  dir = path.join(env.tmp, 'demo');
  seedDemo(dir, { accounts: 0, contacts: 0, products: 60 });
  configDir = path.join(env.tmp, 'config');
  cpSync(path.join(ROOT, 'config'), configDir, { recursive: true });
  // Bindings keep the fields of a pipeline with watchFields: its updates get before/after samples.
  writeFileSync(
    path.join(configDir, 'pipelines', 'priced-products.json'),
    JSON.stringify({
      name: 'priced-products',
      family: 'sql',
      source: { system: 'demo-crm', entity: 'products' },
      target: { system: 'demo-erp', entity: 'products' },
      mapping: 'crm-product-to-product',
      pageSize: 20,
      approval: { watchFields: ['listPrice.amountMinor'], maxChangePercent: 20, policy: { approvers: ['pricing-lead'], timeout: '2 days', onTimeout: { action: 'reject' } } },
    }),
  );
  workers = await createSyncWorkers({
    connection: env.nativeConnection,
    namespace: 'default',
    families: ['sql'],
    configDir,
    stateDb: path.join(dir, 'state.db'),
    env: { DEMO_DATA_DIR: dir },
    workflowBundle: env.workflowBundle,
  });
  running = workers.run();
  store = openSqliteStateStore(path.join(dir, 'state.db'));

  first = await env.client.workflow.execute('syncPipeline', { taskQueue: TASK_QUEUES.sql, workflowId: 'report-first', args: [{ pipeline: 'priced-products' }] });
  // A CRM user raises five prices by half: the gate holds the page until pricing-lead approves.
  const db = new Database(demoPaths(dir).crm);
  db.prepare("UPDATE products SET price = printf('%.2f', CAST(price AS REAL) * 1.5), updated_at = ? WHERE id <= 5 AND price GLOB '[0-9]*'").run(new Date(Date.now() + 5000).toISOString());
  db.close();
  const h = await env.client.workflow.start('syncPipeline', { taskQueue: TASK_QUEUES.sql, workflowId: 'report-second', args: [{ pipeline: 'priced-products' }] });
  const state = await waitFor(async () => (await h.query(pendingApprovalQuery)).pending, 'the price change to wait for approval', 60_000, 200);
  await h.executeUpdate(approveUpdate, { args: [{ approver: 'pricing-lead', planHash: state.planHash, comment: 'Q3 price list' }] });
  second = await h.result();
  browser = await browserStarting;
});

afterAll(async () => {
  await (browser ?? (await browserStarting?.catch(() => undefined)))?.stop();
  workers?.shutdown();
  await running;
  await store?.close();
  await env?.teardown();
});

test('the text report: counts, slowest pages, quarantine by rule, before/after, who approved and when', async () => {
  expect(first.totals.quarantined).toBeGreaterThan(0);
  expect(first.totals.pages).toBeGreaterThan(2);
  expect(second.totals.updated).toBeGreaterThan(0);

  const one = await cli('report', first.syncId);
  expect(one.code).toBe(0);
  expect(one.out).toContain(`read ${first.totals.read}  created ${first.totals.created}`);
  expect(one.out).toMatch(new RegExp(`slowest pages \\(of ${first.totals.pages}\\)`));
  // Since syncPipeline `throughput-v1` a page is two steps: preparePage (fetch, map, plan) and writePage.
  expect(one.out).toMatch(/\n1\s+20\s+\d+ ms\s+preparePage \d+ ms, writePage \d+ ms/);
  expect(one.out).toMatch(/still quarantined from this sync: \d+/);

  const two = await cli('report', second.syncId);
  expect(two.code).toBe(0);
  expect(two.out).toContain(`updated ${second.totals.updated}`);
  // Minor-unit fields read as money through the money module: "746.73 EUR → 1,120.10 EUR" (the seed has USD and GBP prices too).
  expect(two.out).toMatch(/updates, before → after \(first \d+ sampled\)\n {2}#[1-5] {2}listPrice\.amountMinor: [\d,]+\.\d\d ([A-Z]{3}) → [\d,]+\.\d\d \1\n/);
  expect(two.out).toMatch(/approvals\n {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ {2}approve by pricing-lead via update {2}priced-products page 1 {2}"Q3 price list"/);

  const j = JSON.parse((await cli('report', second.syncId, '--json')).out) as { totals: Record<string, number>; pages: { seq: number }[]; changes: unknown[]; approvals: unknown[] };
  expect(j.totals).toEqual(second.totals);
  expect(j.pages.length).toBe(second.totals.pages);
  expect(j.changes.length).toBe(Math.min(5, second.totals.updated));
  expect(j.approvals).toEqual([expect.objectContaining({ decision: 'approve', approver: 'pricing-lead' })]);
});

test('the HTML report, opened in headless Chromium, shows the counts, the pages chart and a quarantined reason', async () => {
  const file = path.join(env.tmp, 'first.html');
  const r = await cli('report', first.syncId, '--html', file);
  expect(r.code).toBe(0);
  expect(r.out).toContain(`HTML report written to ${file}`);
  expect(statSync(file).mode & 0o777).toBe(0o600);
  const html = readFileSync(file, 'utf8');
  // self-contained: nothing loaded from elsewhere, no script
  expect(html).not.toMatch(/<(script|link|img|iframe)\b/i);
  expect(html).not.toMatch(/\b(src|href)\s*=/i);

  const page = await browser!.browser.newPage();
  const requests: string[] = [];
  page.on('request', (req) => requests.push(req.url()));
  await page.goto(`file://${file}`);
  expect(await page.locator('[data-count="read"]').innerText()).toBe(`${first.totals.read}\nread`);
  expect(await page.locator('[data-count="quarantined"]').innerText()).toBe(`${first.totals.quarantined}\nquarantined`);
  expect(await page.locator('h1').innerText()).toMatch(/^priced-products\s+completed$/);
  const chart = page.locator('svg#pages-chart');
  expect(await chart.isVisible()).toBe(true);
  expect(await chart.locator('circle.page').count()).toBe(first.totals.pages);
  expect((await chart.boundingBox())!.width).toBeGreaterThan(100);
  const [q] = (await store.listQuarantine('priced-products', 1000)).filter((x) => x.syncId === first.syncId);
  expect(q).toBeDefined();
  expect(await page.locator('#quarantine').innerText()).toContain(q!.reason);
  expect(await page.locator('#slowest tbody tr').count()).toBe(Math.min(10, first.totals.pages));
  expect(requests).toEqual([`file://${file}`]);
  await page.close();
});

test('the HTML report of the approved run shows before/after per field and who approved when', async () => {
  const file = path.join(env.tmp, 'second.html');
  expect((await cli('report', 'report-second', '--html', file)).code).toBe(0);
  const page = await browser!.browser.newPage();
  await page.goto(`file://${file}`);
  expect(await page.locator('[data-count="updated"]').innerText()).toBe(`${second.totals.updated}\nupdated`);
  const change = page.locator('#changes tbody tr').first();
  const [key, field, before, after] = await change.locator('td').allInnerTexts();
  expect(key).toMatch(/^[1-5]$/);
  expect(field).toBe('listPrice.amountMinor');
  const [, beforeAmount, currency] = /^([\d,]+\.\d\d) ([A-Z]{3})$/.exec(before!) ?? [];
  const [, afterAmount, afterCurrency] = /^([\d,]+\.\d\d) ([A-Z]{3})$/.exec(after!) ?? [];
  expect({ before, after, afterCurrency }).toEqual({ before: `${beforeAmount} ${currency}`, after: `${afterAmount} ${currency}`, afterCurrency: currency });
  expect(toMinorUnits(afterAmount!, currency!)).toBeGreaterThan(toMinorUnits(beforeAmount!, currency!) * 1.4);
  expect(await page.locator('#approvals tbody').innerText()).toMatch(/approve\s+pricing-lead\s+update\s+priced-products page 1\s+Q3 price list/);
  expect(await page.locator('#retries').innerText()).toContain('no retried steps');
  await page.close();
});
