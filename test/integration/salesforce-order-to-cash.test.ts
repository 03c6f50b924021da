import path from 'node:path';
import type { TrytonClient } from '../../connectors/tryton/client';
import { crmOrderWorkflowId, erpEventSignal, orderStatusQuery, type OpportunityWatcherResult, type OrderToCashResult } from '../../contracts/orders';
import { TASK_QUEUES } from '../../contracts/queues';
import { startSalesforceEmulator, type SalesforceEmulator } from '../../emulators/salesforce';
import { SOBJECTS } from '../../emulators/salesforce/schema';
import { ConnectorPool } from '../../pipelines/load';
import { startTryton, type TrytonInstance } from '../../scripts/tryton';
import { adminClient, payInvoice, postInvoices } from '../../scripts/tryton/admin-helpers';
import type { SyncWorkers } from '../../workers/worker';
import { syncWorkersFor, trytonVars } from '../helpers/demo-env';
import { startDevEnv, type DevEnv } from '../helpers/env';
import { untilSettled } from '../helpers/salesforce-settle';

/**
 * Salesforce opportunities → order to cash on the real dev server: the emulator (through the
 * jsforce connector) as the CRM, a real Tryton as the ERP. A won opportunity read by the
 * opportunity watcher becomes one confirmed Tryton sale; its order, invoice and payment status
 * come back to the opportunity's ERP_* fields.
 */

jest.setTimeout(300_000);

const TOKEN = '00DEm0000000001!o2c';
const NO_GATE = { maxAmountMinor: 1_000_000_000, newCustomer: false, policy: { approvers: ['manager'], timeout: '2 days', onTimeout: { action: 'reject' as const } } };

let env: DevEnv;
let tryton: TrytonInstance;
let emulator: SalesforceEmulator;
let admin: TrytonClient;
let workers: SyncWorkers;
let running: Promise<void>;
let pool: ConnectorPool;
let accountId: string;
let wonLine: { PricebookEntryId: string; Product2Id: string };

beforeAll(async () => {
  [env, tryton] = await Promise.all([startDevEnv(), startTryton({ log: () => undefined })]);
  admin = adminClient(tryton);
  emulator = await startSalesforceEmulator({ token: TOKEN, dbPath: path.join(env.tmp, 'salesforce.db') });
  const vars = {
    ...trytonVars(tryton),
    SALESFORCE_INSTANCE_URL: emulator.baseUrl,
    SALESFORCE_ACCESS_TOKEN: TOKEN,
    SALESFORCE_GOVERNOR_DB: path.join(env.tmp, 'salesforce-governor.db'),
    SALESFORCE_ACCOUNT: 'o2c-org',
  };
  workers = await syncWorkersFor(env, path.join(env.tmp, 'demo'), ['orders'], vars);
  running = workers.run();

  // The product comes from the ERP: in Tryton under its key, in Salesforce as a Product2 with that ERP_Id__c.
  pool = new ConnectorPool(workers.registry, vars);
  const [made] = await pool.get('tryton').upsert('products', [
    { externalKey: 'P-RKT', fields: { externalKey: 'P-RKT', sku: 'RKT-1', name: 'Rocket engine', listPrice: { amountMinor: 125_000, currency: 'EUR' }, unit: 'unit', active: true } },
  ]);
  expect(made).toMatchObject({ ok: true });
  const store = emulator.store;
  const pricebook = store.all('Pricebook2')[0]!.id;
  const product = store.insert(SOBJECTS.Product2!, { Name: 'Rocket engine', ProductCode: 'RKT-1', IsActive: true, ERP_Id__c: 'P-RKT' });
  const entry = store.insert(SOBJECTS.PricebookEntry!, { Pricebook2Id: pricebook, Product2Id: product, UnitPrice: 1250, IsActive: true, ERP_Id__c: 'P-RKT' });
  wonLine = { PricebookEntryId: entry, Product2Id: product };
  accountId = store.insert(SOBJECTS.Account!, { Name: 'Acme Rockets GmbH', Phone: '030 901820', BillingStreet: '1 Hauptstr.', BillingCity: 'berlin', BillingPostalCode: '10115', BillingCountryCode: 'DE' });
});

afterAll(async () => {
  workers?.shutdown();
  await running;
  await pool?.closeAll();
  await admin?.logout();
  await emulator?.stop();
  await Promise.all([env?.teardown(), tryton?.stop()]);
});

function opportunity(name: string, stage: string, line: { PricebookEntryId: string; Product2Id: string } = wonLine): string {
  const id = emulator.store.insert(SOBJECTS.Opportunity!, { Name: name, AccountId: accountId, StageName: stage, CloseDate: '2026-12-01', Amount: 2500 });
  emulator.store.insert(SOBJECTS.OpportunityLineItem!, { OpportunityId: id, ...line, Quantity: 2, UnitPrice: 1250 });
  return id;
}
const opp = (id: string) => emulator.store.get(id)!.data;
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
let runs = 0;
async function watch(name: string): Promise<OpportunityWatcherResult> {
  await untilSettled(); // the connector reads only SystemModstamp seconds that are over
  return env.client.workflow.execute('opportunityWatcher', { taskQueue: TASK_QUEUES.orders, workflowId: `watch-opps-${++runs}`, args: [{ name, approval: NO_GATE }] }) as Promise<OpportunityWatcherResult>;
}

test('a won opportunity found twice becomes one confirmed Tryton sale; order, invoice and payment status flow back to it', async () => {
  const won = opportunity('Two rocket engines', 'Closed Won');
  const open = opportunity('Maybe a rocket', 'Prospecting');
  expect(await watch('w1')).toMatchObject({ read: 2, won: 1, started: 1, alreadyClosed: 0 });

  const workflowId = crmOrderWorkflowId('salesforce', won);
  const h = env.client.workflow.getHandle(workflowId);
  await until('the invoice wait', async () => (await h.query(orderStatusQuery)).step === 'wait for invoice');
  // A second watcher sees it again … (only once the saga's write-backs are done: a write bumps
  // SystemModstamp to the current second, which an incremental read leaves for the next run)
  expect(await watch('w2')).toMatchObject({ won: 1 });
  const runIds: string[] = [];
  for await (const w of env.client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) runIds.push(w.runId);
  expect(runIds).toHaveLength(1); // … and it is still one saga
  const [sale, ...more] = await sales(`DEAL-${won}`);
  expect(more).toEqual([]);
  expect(sale).toMatchObject({ state: 'processing', number: expect.any(String) });
  expect(opp(won)).toMatchObject({ ERP_Order_Number__c: sale!.number, ERP_Order_Status__c: 'processing' });
  const parties = await admin.model<Array<{ name: string }>>('party.party', 'search_read', [[['code', '=', `CRM-SF-${accountId}`]], 0, null, null, ['name']]);
  expect(parties).toEqual([expect.objectContaining({ name: 'Acme Rockets GmbH' })]); // the account became the customer SF-<Id>
  expect(await sales(`DEAL-${open}`)).toEqual([]); // not won: no order

  const invoiceId = sale!.invoices[0]!;
  await postInvoices(admin, [invoiceId]);
  await h.signal(erpEventSignal, { kind: 'invoice-posted' });
  await until('the payment wait', async () => (await h.query(orderStatusQuery)).step === 'wait for payment');
  expect(opp(won)).toMatchObject({ ERP_Invoice_Number__c: expect.stringMatching(/^INV/), ERP_Invoice_Status__c: 'posted', ERP_Invoice_Amount__c: '2500.00 EUR', ERP_Payment_Status__c: 'open' });

  await payInvoice(admin, invoiceId);
  await h.signal(erpEventSignal, { kind: 'invoice-paid' });
  const result = (await h.result()) as OrderToCashResult;
  expect(result).toMatchObject({ outcome: 'paid', orderNumber: sale!.number });
  expect(opp(won)).toMatchObject({ ERP_Payment_Status__c: 'paid', ERP_Invoice_Status__c: 'paid' });

  // The write-backs changed the opportunity: the watcher reads it again and starts nothing.
  expect(await watch('w1')).toMatchObject({ won: 1, started: 0, alreadyClosed: 1 });
  expect(await sales(`DEAL-${won}`)).toHaveLength(1);
});

test('a won opportunity whose product has no ERP_Id__c orders nothing and gets the reason', async () => {
  const product = emulator.store.insert(SOBJECTS.Product2!, { Name: 'Hand-made widget', IsActive: true });
  const entry = emulator.store.insert(SOBJECTS.PricebookEntry!, { Pricebook2Id: emulator.store.all('Pricebook2')[0]!.id, Product2Id: product, UnitPrice: 10, IsActive: true });
  const id = opportunity('Widgets', 'Closed Won', { PricebookEntryId: entry, Product2Id: product });
  const h = await env.client.workflow.start('orderToCash', {
    taskQueue: TASK_QUEUES.orders, workflowId: crmOrderWorkflowId('salesforce', id), args: [{ dealId: id, crm: 'salesforce', approval: NO_GATE }],
  });
  await expect(h.result()).rejects.toMatchObject({ cause: { type: 'ValidationError', message: expect.stringMatching(/^load deal: .*has no ERP_Id__c/) } });
  expect(await sales(`DEAL-${id}`)).toEqual([]);
  expect(String(opp(id).ERP_Sync_Error__c)).toMatch(/has no ERP_Id__c; products come from the ERP/);
});
