/**
 * Alerts (issue 11 item 6) from a real worker on the dev server to a local webhook receiver
 * started by this test: a failed sync (the receiver refuses the first post: the activity
 * retries), a quarantine growing past its threshold (once per crossing), a run that reads
 * nothing where its pipeline usually reads many, an approval waiting longer than allowed.
 */
import Database from 'better-sqlite3';
import { cpSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { approveUpdate, pendingApprovalQuery } from '../../contracts/approval';
import { TASK_QUEUES } from '../../contracts/queues';
import type { SyncResult } from '../../contracts/sync';
import { demoPaths, seedDemo } from '../../demo/seed';
import { createSyncWorkers, type SyncWorkers } from '../../workers/worker';
import { ROOT, startDevEnv, type DevEnv } from '../helpers/env';
import { waitFor } from '../helpers/processes';

jest.setTimeout(240_000);

interface Received {
  text: string;
  blocks: { type: string; text?: { text: string }; elements?: { text: string }[] }[];
}

let env: DevEnv;
let dir: string;
let workers: SyncWorkers;
let running: Promise<void>;
let receiver: http.Server;
const received: Received[] = [];
let refusals = 0;
/** The receiver answers 503 to this many posts first (a chat service that is briefly down). */
let refuseNext = 0;

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (refuseNext > 0) {
        refuseNext--;
        refusals++;
        res.writeHead(503).end('try later');
        return;
      }
      received.push(JSON.parse(body) as Received);
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/T000/B000/secret-part`;

  env = await startDevEnv();
  dir = path.join(env.tmp, 'demo');
  seedDemo(dir, { accounts: 300, contacts: 200, products: 30 });
  const configDir = path.join(env.tmp, 'config');
  cpSync(path.join(ROOT, 'config'), configDir, { recursive: true });
  writeFileSync(
    path.join(configDir, 'alerts.json'),
    JSON.stringify({
      webhookUrlEnv: 'TEST_ALERT_WEBHOOK',
      rules: { failedSync: true, quarantineAbove: 5, zeroRead: { usualAtLeast: 50, lastRuns: 3 }, approvalWaitingLongerThan: '1 second' },
    }),
  );
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
  workers = await createSyncWorkers({
    connection: env.nativeConnection,
    namespace: 'default',
    families: ['sql'],
    configDir,
    stateDb: path.join(dir, 'state.db'),
    env: { DEMO_DATA_DIR: dir, TEST_ALERT_WEBHOOK: url },
    workflowBundle: env.workflowBundle,
    approvalsPollSeconds: 0.3,
  });
  expect(workers.alerts?.rules).toEqual({ failedSync: true, quarantineAbove: 5, zeroRead: { usualAtLeast: 50, lastRuns: 3 }, approvalWaitingMs: 1000 });
  running = workers.run();
});

afterAll(async () => {
  workers?.shutdown();
  await running;
  await env?.teardown();
  await new Promise((r) => receiver?.close(r));
});

let n = 0;
const run = (pipeline: string, extra: Record<string, unknown> = {}): Promise<SyncResult> =>
  env.client.workflow.execute('syncPipeline', { taskQueue: TASK_QUEUES.sql, workflowId: `alerts-${pipeline}-${++n}`, args: [{ pipeline, ...extra }] });

const kindOf = (m: Received) => /\*([a-z-]+)\*/.exec(m.blocks.at(-1)?.elements?.[0]?.text ?? '')?.[1];
const alertsOf = (kind: string) => received.filter((m) => kindOf(m) === kind);

test('a failed sync posts one Slack-compatible alert, retried when the webhook refuses at first', async () => {
  refuseNext = 2;
  const err = await run('no-such-pipeline').catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const [m] = await waitFor(() => (alertsOf('failed-sync').length ? alertsOf('failed-sync') : null), 'the failed-sync alert', 60_000);
  expect(refusals).toBe(2);
  expect(m!.text).toMatch(/^Sync of no-such-pipeline failed: Sync alerts-no-such-pipeline-\d+@\S+ failed after reading 0 records\. See: crm-erp-sync report /);
  expect(m!.blocks.map((b) => b.type)).toEqual(['header', 'section', 'context']);
  expect(m!.blocks[0]!.text!.text).toBe('Sync of no-such-pipeline failed');
  expect(JSON.stringify(received)).not.toContain('secret-part'); // the URL is nobody's business
});

test('a quarantine growing past its threshold alerts once per crossing; a completed sync without issues posts nothing', async () => {
  const before = received.length;
  const first = await run('demo-accounts');
  expect(first.totals.quarantined).toBeGreaterThan(5);
  await waitFor(() => alertsOf('quarantine-growing').length === 1, 'the quarantine alert', 30_000);
  const [m] = alertsOf('quarantine-growing');
  expect(m!.text).toBe('Quarantine of demo-accounts grew past 5: More than 5 records of demo-accounts are held back in quarantine. See: crm-erp-sync quarantine list -p demo-accounts');
  await run('demo-accounts'); // still over the threshold: no new alert
  await run('priced-products'); // first run: creates only, a few quarantined (under 5 is not guaranteed, so only kinds are checked)
  expect(received.slice(before).map(kindOf).filter((k) => k !== 'quarantine-growing')).toEqual([]);
  expect(alertsOf('quarantine-growing').filter((x) => x.text.includes('demo-accounts'))).toHaveLength(1);
});

test('a run that reads nothing where the pipeline usually reads many alerts', async () => {
  const usual = await run('demo-contacts', { mode: 'full' });
  expect(usual.totals.read).toBe(200);
  expect(alertsOf('zero-read')).toHaveLength(0);
  const db = new Database(demoPaths(dir).crm);
  db.prepare('DELETE FROM contacts').run();
  db.close();
  const empty = await run('demo-contacts', { mode: 'full' });
  expect(empty.totals.read).toBe(0);
  const [m] = await waitFor(() => (alertsOf('zero-read').length ? alertsOf('zero-read') : null), 'the zero-read alert', 30_000);
  expect(m!.text).toMatch(/^demo-contacts read no records: Sync \S+ read 0 records; its last 1 completed runs read 200 \(median\)/);
});

test('an approval waiting longer than allowed alerts once', async () => {
  const db = new Database(demoPaths(dir).crm);
  db.prepare("UPDATE products SET price = printf('%.2f', CAST(price AS REAL) * 1.5), updated_at = ? WHERE id <= 5 AND price GLOB '[0-9]*'").run(new Date(Date.now() + 5000).toISOString());
  db.close();
  const h = await env.client.workflow.start('syncPipeline', { taskQueue: TASK_QUEUES.sql, workflowId: 'alerts-waiting', args: [{ pipeline: 'priced-products' }] });
  const pending = await waitFor(async () => (await h.query(pendingApprovalQuery)).pending, 'a pending approval', 60_000, 200);
  const [m] = await waitFor(() => (alertsOf('approval-waiting').length ? alertsOf('approval-waiting') : null), 'the approval-waiting alert', 30_000);
  expect(m!.text).toMatch(new RegExp(`^Approval waiting: priced-products page 1: \\d+ creates and \\d+ updates of demo-erp\\.products has waited since ${pending.requestedAt.replace(/[.]/g, '\\.')} for a decision by pricing-lead\\.$`));
  await new Promise((r) => setTimeout(r, 1500)); // several watch rounds: the alert's workflow id keeps it to one
  expect(alertsOf('approval-waiting')).toHaveLength(1);
  await h.executeUpdate(approveUpdate, { args: [{ approver: 'pricing-lead', planHash: pending.planHash }] });
  expect((await h.result()).status).toBe('completed');
});
