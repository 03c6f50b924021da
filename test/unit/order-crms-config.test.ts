import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { OpportunityWatcherInputSchema, OrderToCashInputSchema } from '../../contracts/orders';
import { loadOrderCrms } from '../../pipelines/order-crms';
import { loadRegistry, PROJECT_CONFIG } from '../../pipelines/load';

const registry = loadRegistry({ env: {} });
const dir = mkdtempSync(path.join(tmpdir(), 'order-crms-'));
function load(content: unknown) {
  const file = path.join(dir, `f${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(content));
  return () => loadOrderCrms(file, registry);
}
const good = { kind: 'salesforce', system: 'salesforce', writeBack: { erp_order_status: 'ERP_Order_Status__c' } };

test('the shipped config/order-crms.json loads: salesforce with its key prefix and every write-back field', () => {
  const crms = loadOrderCrms(path.join(PROJECT_CONFIG.configDir, 'order-crms.json'), registry);
  const sf = crms.get('salesforce')!;
  expect(sf).toMatchObject({ name: 'salesforce', system: 'salesforce', keyPrefix: 'SF-', wonStage: 'Closed Won', entities: { deals: 'opportunities', lines: 'opportunityLines' } });
  expect(Object.keys(sf.writeBack).sort()).toEqual(
    ['erp_invoice_amount', 'erp_invoice_number', 'erp_invoice_status', 'erp_order_number', 'erp_order_status', 'erp_payment_status', 'last_sync_error'],
  );
});

test('defaults fill what a CRM entry leaves out; no file means no CRMs', () => {
  expect(load({ sf: good })().get('sf')).toMatchObject({ currency: 'EUR', customerMapping: 'salesforce-account-to-customer', entities: { products: 'products', accounts: 'accounts' } });
  expect(loadOrderCrms(path.join(dir, 'missing.json'), registry).size).toBe(0);
});

test.each([
  [{ sf: { ...good, system: 'nope' } }, /sf\.system: no system "nope" in systems\.json/],
  [{ sf: { ...good, system: 'demo-erp' } }, /sf\.system: system "demo-erp" is of kind "sql", expected "salesforce"/],
  [{ sf: { ...good, customerMapping: 'nope' } }, /sf\.customerMapping: no mapping "nope"/],
  [{ sf: { ...good, writeBack: { erp_colour: 'X__c' } } }, /sf\.writeBack/],
  [{ sf: { ...good, writeBack: { erp_order_status: 'bad field' } } }, /sf\.writeBack\.erp_order_status: expected a Salesforce field API name/],
  [{ sf: { ...good, currency: 'euro' } }, /sf\.currency: expected an ISO 4217 code/],
  [{ SF: good }, /SF: a CRM name is lower-case/],
])('a broken entry names the file, the path and the fix (%#)', (content, message) => {
  expect(load(content)).toThrow(message);
});

test('workflow inputs: crm names a CRM; the watcher takes defaults', () => {
  expect(OrderToCashInputSchema.parse({ dealId: '006Em0000000001IAA', crm: 'salesforce' }).crm).toBe('salesforce');
  expect(OrderToCashInputSchema.safeParse({ dealId: '1', crm: 'Sales Force' }).success).toBe(false);
  expect(OpportunityWatcherInputSchema.parse({})).toEqual({ crm: 'salesforce', name: 'opportunity-watcher', pageSize: 200 });
  expect(OpportunityWatcherInputSchema.safeParse({ pageSize: 5000 }).success).toBe(false);
});
