import Database from 'better-sqlite3';
import path from 'node:path';
import type { TrytonClient } from '../../connectors/tryton/client';
import { pendingApprovalQuery, rejectUpdate } from '../../contracts/approval';
import { erpEventSignal, orderStatusQuery, orderWorkflowId, type DealWatcherResult, type OrderToCashResult } from '../../contracts/orders';
import { TASK_QUEUES } from '../../contracts/queues';
import { upsertDeals } from '../../demo/deals';
import { demoPaths, seedDemo } from '../../demo/seed';
import { startTryton, type TrytonInstance } from '../../scripts/tryton';
import { adminClient, payInvoice, postInvoices } from '../../scripts/tryton/admin-helpers';
import type { SyncWorkers } from '../../workers/worker';
import { queryDb, syncWorkersFor, trytonVars } from '../helpers/demo-env';
import { startDevEnv, type DevEnv } from '../helpers/env';

jest.setTimeout(300_000);

let env: DevEnv;
let tryton: TrytonInstance;
let admin: TrytonClient;
let workers: SyncWorkers;
let running: Promise<void>;
let crm: string;

const NO_GATE = { maxAmountMinor: 1_000_000_000, newCustomer: false, policy: { approvers: ['manager'], timeout: '2 days', onTimeout: { action: 'reject' as const } } };

beforeAll(async () => {
  [env, tryton] = await Promise.all([startDevEnv(), startTryton({ log: () => undefined })]);
  admin = adminClient(tryton);
  const dir = path.join(env.tmp, 'demo');
  seedDemo(dir, { accounts: 0, contacts: 0, products: 0 });
  crm = demoPaths(dir).crm;
  const db = new Database(crm);
  const acc = db.prepare("INSERT INTO accounts (id, company_name, email, phone, street, city, zip, country, currency, status, updated_at) VALUES (?,?,?,?,?,?,?,?,?,'active',?)");
  acc.run(9001, 'Acme Rockets GmbH', 'buy@acme.example', '030 901820', '1 Hauptstr.', 'berlin', '10115', 'Germany', 'EUR', '2026-01-01T00:00:00.000Z');
  acc.run(9002, 'Globex SARL', 'achats@globex.example', '01 42 68 53 00', '2 Rue de Rivoli', 'PARIS', '75001', 'France', 'EUR', '2026-01-01T00:00:00.000Z');
  db.prepare("INSERT INTO products (id, sku, name, price, currency, unit, active, updated_at) VALUES (?,?,?,?, 'EUR', 'pc', 'true', ?)")
    .run(8001, 'rkt-1', 'Rocket engine', '1250.00', '2026-01-01T00:00:00.000Z');
  db.close();
  workers = await syncWorkersFor(env, dir, ['orders'], trytonVars(tryton));
  running = workers.run();
});

afterAll(async () => {
  workers?.shutdown();
  await running;
  await admin?.logout();
  await Promise.all([env?.teardown(), tryton?.stop()]);
});

const deal = (id: number, accountId: number) => ({ id, accountId, name: `Deal ${id}`, stage: 'won' as const, currency: 'EUR', lines: [{ productId: 8001, quantity: 2, unitPrice: '1250.00' }] });
const dealRow = (id: number) => queryDb<Record<string, string | null>>(crm, 'SELECT * FROM deals WHERE id = ?', id)[0]!;
const sales = (ref: string) =>
  admin.model<Array<{ id: number; state: string; number: string | null; invoices: number[] }>>('sale.sale', 'search_read', [[['reference', '=', ref]], 0, null, null, ['state', 'number', 'invoices']]);
async function until<T>(what: string, fn: () => Promise<T | undefined | null | false>): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const v = await fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('a won deal found twice by the watcher becomes one confirmed Tryton order; invoice and payment flow back', async () => {
  upsertDeals(crm, [deal(1, 9001), { ...deal(3, 9001), stage: 'proposal' }]);
  const watch = (name: string) =>
    env.client.workflow.execute('dealWatcher', { taskQueue: TASK_QUEUES.orders, workflowId: `watch-${name}`, args: [{ name, approval: NO_GATE }] }) as Promise<DealWatcherResult>;
  expect(await watch('w1')).toMatchObject({ read: 1, started: 1 });
  expect(await watch('w1')).toMatchObject({ read: 0, started: 0 }); // checkpoint moved on
  expect(await watch('w2')).toMatchObject({ read: 1 }); // a second watcher sees the deal again …

  const h = env.client.workflow.getHandle(orderWorkflowId('1'));
  await until('the invoice wait', async () => (await h.query(orderStatusQuery)).step === 'wait for invoice');
  const ids: string[] = [];
  for await (const w of env.client.workflow.list({ query: `WorkflowId = '${orderWorkflowId('1')}'` })) ids.push(w.runId);
  expect(ids).toHaveLength(1); // … and it is still one saga
  const [sale, ...more] = await sales('DEAL-1');
  expect(more).toEqual([]); // and one ERP order
  expect(sale).toMatchObject({ state: 'processing', number: expect.any(String) });
  expect(dealRow(1)).toMatchObject({ erp_order_number: sale!.number, erp_order_status: 'processing', last_sync_error: null });

  const invoiceId = sale!.invoices[0]!;
  await postInvoices(admin, [invoiceId]);
  await h.signal(erpEventSignal, { kind: 'invoice-posted' });
  await until('the payment wait', async () => (await h.query(orderStatusQuery)).step === 'wait for payment');
  expect(dealRow(1)).toMatchObject({ erp_invoice_number: expect.stringMatching(/^INV/), erp_invoice_amount: '2500.00 EUR', erp_payment_status: 'open' });

  await payInvoice(admin, invoiceId);
  await h.signal(erpEventSignal, { kind: 'invoice-paid' });
  const result = (await h.result()) as OrderToCashResult;
  expect(result).toMatchObject({ outcome: 'paid', orderNumber: sale!.number, invoiceNumber: expect.stringMatching(/^INV/) });
  expect(dealRow(1)).toMatchObject({ erp_payment_status: 'paid' });
});

test('a rejected order leaves no draft order and no active orphan customer in Tryton', async () => {
  upsertDeals(crm, [deal(2, 9002)]);
  const h = await env.client.workflow.start('orderToCash', { taskQueue: TASK_QUEUES.orders, workflowId: orderWorkflowId('2'), args: [{ dealId: '2' }] });
  const pending = await until('the approval gate', async () => (await h.query(pendingApprovalQuery)).pending);
  expect(pending.reasons).toEqual(['new customer created for this order']);
  expect(await sales('DEAL-2')).toEqual([expect.objectContaining({ state: 'draft' })]);
  await h.executeUpdate(rejectUpdate, { args: [{ approver: 'sales-manager', planHash: pending.planHash, comment: 'credit check failed' }] });
  const result = (await h.result()) as OrderToCashResult;
  expect(result.outcome).toBe('rejected');
  expect(result.compensations).toEqual([
    { undo: 'cancel draft order DEAL-2', ok: true },
    { undo: 'deactivate customer 9002', ok: true },
    { undo: 'write failure reason to the deal', ok: true },
  ]);
  expect(await sales('DEAL-2')).toEqual([]);
  const parties = await admin.model<Array<{ active: boolean | number }>>('party.party', 'search_read', [[['code', '=', 'CRM-9002']], 0, null, null, ['active']], { active_test: false });
  expect(parties.map((p) => Boolean(p.active))).toEqual([false]); // archived, not left active
  expect(dealRow(2)).toMatchObject({ erp_order_status: 'cancelled', last_sync_error: expect.stringMatching(/approval rejected by sales-manager: credit check failed/) });
});
