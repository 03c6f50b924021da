import Database from 'better-sqlite3';
import { TASK_QUEUES } from '../../contracts/queues';
import type { SyncResult } from '../../contracts/sync';
import type { SalesforceEmulator } from '../../emulators/salesforce';
import { startSalesforceErpEnv, type EmulatorErpEnv } from '../helpers/emulator-erp-env';
import type { DevEnv } from '../helpers/env';

/**
 * The shipped pipeline erp-products-to-salesforce on the real dev server: demo ERP products →
 * Salesforce Product2 (upsert by ERP_Id__c) with one standard PricebookEntry each (UnitPrice =
 * list price), through jsforce and the emulator. A product Salesforce refuses is quarantined
 * while the rest is written; a price change updates the entry instead of adding one.
 */

jest.setTimeout(300_000);

const TOKEN = '00DEm0000000001!products';
const PRODUCTS = 30;

let env: DevEnv;
let emulator: SalesforceEmulator;
let stack: EmulatorErpEnv<SalesforceEmulator> | undefined;
let erpDb: string;
let n = 0;

beforeAll(async () => {
  stack = await startSalesforceErpEnv({ token: TOKEN, account: 'products-org' });
  ({ env, emulator, erpDb } = stack);
});

afterAll(async () => {
  await stack?.stop();
});

async function run(): Promise<SyncResult> {
  const h = await env.client.workflow.start('syncPipeline', { taskQueue: TASK_QUEUES.salesforce, workflowId: `sf-products-${++n}`, args: [{ pipeline: 'erp-products-to-salesforce' }] });
  const r = (await h.result()) as SyncResult;
  expect(r.status).toBe('completed');
  return r;
}
function erp(sql: string, ...params: unknown[]): void {
  const db = new Database(erpDb);
  try {
    db.prepare(sql).run(...params);
  } finally {
    db.close();
  }
}
const standardId = () => emulator.store.all('Pricebook2').find((p) => p.data.IsStandard === true)!.id;
const products = () => new Map(emulator.store.all('Product2').map((p) => [String(p.data.ERP_Id__c), p]));
const entries = () => emulator.store.all('PricebookEntry');

test(`${PRODUCTS} ERP products become Product2 records with their standard price; the one Salesforce refuses is quarantined`, async () => {
  const db = new Database(erpDb);
  const insert = db.prepare('INSERT INTO products (id, external_key, sku, name, description, list_price_minor, currency, unit, active, updated_at) VALUES (?,?,?,?,?,?,?,?,1,?)');
  const at = new Date(Date.now() - 3600_000).toISOString();
  db.transaction(() => {
    for (let i = 1; i <= PRODUCTS; i++) insert.run(i, `E-P${i}`, `SKU-${i}`, i === 7 ? 'x'.repeat(300) : `Product ${i}`, `About ${i}`, 1000 * i + 99, 'EUR', 'unit', at);
  })();
  db.close();

  const first = await run();
  expect(first.totals).toMatchObject({ read: PRODUCTS, created: PRODUCTS - 1, quarantined: 1 });
  const sf = products();
  expect(sf.size).toBe(PRODUCTS - 1);
  expect(sf.has('7')).toBe(false);
  expect(sf.get('3')!.data).toMatchObject({ Name: 'Product 3', ProductCode: 'SKU-3', Description: 'About 3', IsActive: true });
  const byProduct = new Map(entries().map((e) => [String(e.data.Product2Id), e.data]));
  expect(entries()).toHaveLength(PRODUCTS - 1);
  for (const [key, p] of sf) {
    expect(byProduct.get(p.id)).toMatchObject({ Pricebook2Id: standardId(), UnitPrice: Number(key) * 10 + 0.99, IsActive: true, ERP_Id__c: key });
  }
});

test('a price change updates the standard entry, an archived product turns inactive, the fixed one is created; a rerun writes nothing', async () => {
  const now = new Date().toISOString();
  erp('UPDATE products SET list_price_minor = 55500, updated_at = ? WHERE id = 3', now);
  erp('UPDATE products SET active = 0, updated_at = ? WHERE id = 4', now);
  erp("UPDATE products SET name = 'Product 7', updated_at = ? WHERE id = 7", now);
  const second = await run();
  expect(second.totals).toMatchObject({ created: 1, updated: 2, quarantined: 0 });
  const sf = products();
  expect(sf.size).toBe(PRODUCTS);
  expect(entries()).toHaveLength(PRODUCTS); // updated in place, not a second entry
  const entryOf = (key: string) => entries().find((e) => e.data.Product2Id === sf.get(key)!.id)!.data;
  expect(entryOf('3')).toMatchObject({ UnitPrice: 555, ERP_Id__c: '3' });
  expect(entryOf('7')).toMatchObject({ UnitPrice: 70.99, Pricebook2Id: standardId() });
  expect(sf.get('4')!.data.IsActive).toBe(false);

  const third = await run();
  expect(third.totals.created + third.totals.updated + third.totals.quarantined).toBe(0);
});
