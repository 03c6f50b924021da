import { WorkflowUpdateFailedError } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import Database from 'better-sqlite3';
import { cpSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createApprovalTokenActivities } from '../../activities/approval-token';
import type { OrderActivities } from '../../activities/orders';
import { bearerAuthenticator, sha256Hex, startApprovalService, type ApprovalService, type PendingItem } from '../../approvals/service';
import { approveUpdate } from '../../contracts/approval';
import type { OrderToCashResult } from '../../contracts/orders';
import { TASK_QUEUES } from '../../contracts/queues';
import type { SyncResult } from '../../contracts/sync';
import { demoPaths, seedDemo } from '../../demo/seed';
import { loadApprovalKeyring } from '../../workers/approval-issuers';
import { createSyncWorkers, type SyncWorkers } from '../../workers/worker';
import { ROOT, startDevEnv, type DevEnv } from '../helpers/env';

jest.setTimeout(180_000);

const SECRET = 'demo-secret-for-the-integration-test-0123456789';
const BEARER = { 'pricing-lead': 'bearer-pricing-lead-1', manager: 'bearer-manager-1' };
let env: DevEnv;
let sync: SyncWorkers;
let orders: Worker;
let running: Promise<unknown>;
let service: ApprovalService;
let dir: string;

/** The order saga's activities as test doubles: only the approval gate matters here. */
const orderFakes: OrderActivities = {
  loadDeal: async () => ({ dealId: '77', accountId: '7', name: 'Deal 77', stage: 'won', currency: 'EUR', amountMinor: 900_000, discountPercent: 0, lines: [{ productId: '3', quantity: 1, unitPriceMinor: 900_000, discountPercent: 0 }] }),
  ensureCustomer: async () => ({ customerKey: '7', targetKey: '70', created: false }),
  ensureProducts: async () => ({ createdTargetKeys: [], existing: 1 }),
  createDraftOrder: async () => ({ orderKey: '500', externalKey: 'DEAL-77' }),
  quoteOrder: async () => ({ state: 'quotation', number: 'SO-500' }),
  confirmOrder: async () => ({ state: 'processing', number: 'SO-500' }),
  writeBackOrder: async () => undefined,
  checkInvoice: async () => ({ invoiceKey: '9', number: 'INV-1', state: 'paid', posted: true, paid: true, totalMinor: 900_000, amountDueMinor: 0, currency: 'EUR' }),
  writeBackInvoice: async () => undefined,
  writeBackPayment: async () => undefined,
  cancelDraftOrder: async () => undefined,
  archiveProducts: async () => undefined,
  deactivateCustomer: async () => undefined,
  recordDealFailure: async () => undefined,
};

beforeAll(async () => {
  env = await startDevEnv();
  dir = path.join(env.tmp, 'demo');
  seedDemo(dir, { accounts: 0, contacts: 0, products: 30 });
  // The shipped config (its approval-issuers.json trusts "approvals-demo" with APPROVALS_DEMO_SECRET)
  // plus a pipeline whose price gate takes only signed decisions.
  const configDir = path.join(env.tmp, 'config');
  cpSync(path.join(ROOT, 'config'), configDir, { recursive: true });
  writeFileSync(
    path.join(configDir, 'pipelines', 'signed-products.json'),
    JSON.stringify({
      name: 'signed-products', family: 'sql',
      source: { system: 'demo-crm', entity: 'products' }, target: { system: 'demo-erp', entity: 'products' },
      mapping: 'crm-product-to-product',
      approval: {
        watchFields: ['listPrice.amountMinor'], maxChangePercent: 20,
        policy: { approvers: ['pricing-lead'], timeout: '2 days', onTimeout: { action: 'reject' }, require: 'signed', issuers: ['approvals-demo'] },
      },
    }),
  );
  const vars = { DEMO_DATA_DIR: dir, APPROVALS_DEMO_SECRET: SECRET };
  sync = await createSyncWorkers({ connection: env.nativeConnection, namespace: 'default', families: ['sql'], configDir, stateDb: path.join(dir, 'state.db'), env: vars, workflowBundle: env.workflowBundle });
  const approvalKeys = await loadApprovalKeyring(path.join(configDir, 'approval-issuers.json'), vars);
  orders = await Worker.create({
    connection: env.nativeConnection, taskQueue: 'approval-service-orders', workflowBundle: env.workflowBundle,
    activities: { ...orderFakes, ...createApprovalTokenActivities({ approvalKeys }) },
  });
  running = Promise.all([sync.run(), orders.run()]);
  service = await startApprovalService({
    client: env.client,
    signer: { issuer: 'approvals-demo', key: new TextEncoder().encode(SECRET), alg: 'HS256' },
    authenticate: bearerAuthenticator({ users: Object.fromEntries(Object.entries(BEARER).map(([u, b]) => [u, { sha256: sha256Hex(b) }])) }),
    port: 0,
  });
});

afterAll(async () => {
  await service?.close();
  sync?.shutdown();
  if (orders?.getState() === 'RUNNING') orders.shutdown();
  await running;
  await env?.teardown();
});

const call = async (user: keyof typeof BEARER | null, method: string, url: string, body?: unknown) => {
  const res = await fetch(service.url + url, {
    method,
    headers: { ...(user ? { authorization: `Bearer ${BEARER[user]}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

async function until<T>(what: string, fn: () => Promise<T | undefined | null | false>): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const v = await fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('through the example service: both a bulk-sync gate and an order gate are listed, decided by signed tokens, logged with subject and issuer', async () => {
  const startSync = () => env.client.workflow.start('syncPipeline', { taskQueue: TASK_QUEUES.sql, workflowId: 'sync:signed-products', args: [{ pipeline: 'signed-products' }] });
  expect(((await (await startSync()).result()) as SyncResult).status).toBe('completed'); // creates pass the gate
  const db = new Database(demoPaths(dir).crm);
  db.prepare("UPDATE products SET price = printf('%.2f', CAST(price AS REAL) * 1.5), updated_at = ? WHERE id <= 4 AND price GLOB '[0-9]*'").run(new Date().toISOString());
  db.close();
  const syncRun = await startSync();
  const order = await env.client.workflow.start('orderToCash', {
    taskQueue: 'approval-service-orders', workflowId: 'order-to-cash:77',
    args: [{ dealId: '77', approval: { maxAmountMinor: 100_000, policy: { approvers: ['manager'], timeout: '2 days', onTimeout: { action: 'reject' }, require: 'signed', issuers: ['approvals-demo'] } } }],
  });

  expect((await call(null, 'GET', '/approvals')).status).toBe(401);
  const listed = await until('both gates listed', async () => {
    const r = await call('manager', 'GET', '/approvals');
    const items = r.body.pending as PendingItem[];
    return items.length === 2 ? items : null;
  });
  const byId = Object.fromEntries(listed.map((i) => [i.workflowId, i]));
  expect(byId['sync:signed-products']).toMatchObject({ gate: 'signed-products page 1', require: 'signed', mayDecide: false, summary: '0 creates and 4 updates of demo-erp.products' });
  expect(byId['order-to-cash:77']).toMatchObject({ gate: 'order', workflowType: 'orderToCash', mayDecide: true, summary: expect.stringMatching(/9,000.00 EUR/) });

  // The pricing lead may not decide the order: the service signs, the gate's validator refuses.
  const wrong = await call('pricing-lead', 'POST', '/approvals/order-to-cash%3A77/approve', { planHash: byId['order-to-cash:77']!.planHash });
  expect(wrong).toEqual({ status: 403, body: { error: '"pricing-lead" may not decide gate "order"; allowed: manager' } });
  // A stale plan hash is stopped by the service before signing.
  expect((await call('manager', 'POST', '/approvals/order-to-cash%3A77/approve', { planHash: 'feedface' })).status).toBe(409);

  const okOrder = await call('manager', 'POST', '/approvals/order-to-cash%3A77/approve', { planHash: byId['order-to-cash:77']!.planHash, comment: 'via portal' });
  expect(okOrder).toMatchObject({ status: 200, body: { user: 'manager', outcome: { approved: true, decidedBy: 'manager', issuer: 'approvals-demo' } } });
  // What anyone with namespace access could send (the CLI recipe without a token): refused.
  const named = await syncRun.executeUpdate(approveUpdate, { args: [{ approver: 'pricing-lead', planHash: byId['sync:signed-products']!.planHash }] }).catch((e: unknown) => e);
  expect(named).toBeInstanceOf(WorkflowUpdateFailedError);
  expect((named as WorkflowUpdateFailedError).cause?.message).toMatch(/requires a signed decision/);
  const okSync = await call('pricing-lead', 'POST', '/approvals/sync%3Asigned-products/approve', { planHash: byId['sync:signed-products']!.planHash });
  expect(okSync).toMatchObject({ status: 200, body: { outcome: { approved: true, decidedBy: 'pricing-lead', issuer: 'approvals-demo' } } });

  const orderResult = (await order.result()) as OrderToCashResult;
  expect(orderResult.outcome).toBe('paid');
  const syncResult = (await syncRun.result()) as SyncResult;
  expect(syncResult).toMatchObject({ status: 'completed', totals: { updated: 4 } });
  expect(syncResult.approvals).toEqual([expect.objectContaining({ decision: 'approve', approver: 'pricing-lead', issuer: 'approvals-demo', tokenId: expect.any(String), accepted: true, via: 'update' })]);
  // The shared secret is nowhere in history.
  const history = JSON.stringify((await syncRun.fetchHistory()).events);
  expect(history).not.toContain(SECRET);
  expect(await until('gates no longer listed', async () => ((await call('manager', 'GET', '/approvals')).body.pending as PendingItem[]).length === 0)).toBe(true);
});
