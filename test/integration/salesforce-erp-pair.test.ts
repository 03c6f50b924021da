import Database from 'better-sqlite3';
import type { PairSideTotals, SyncPairResult } from '../../contracts/pair-sync';
import { TASK_QUEUES } from '../../contracts/queues';
import type { SalesforceEmulator } from '../../emulators/salesforce';
import { SOBJECTS } from '../../emulators/salesforce/schema';
import { queryDb } from '../helpers/demo-env';
import { startSalesforceErpEnv, type EmulatorErpEnv } from '../helpers/emulator-erp-env';
import type { DevEnv } from '../helpers/env';
import { untilSettled } from '../helpers/salesforce-settle';

/**
 * The shipped pair config/pairs/salesforce-erp-customers.json on the real dev server: Salesforce
 * Accounts (the emulator, through jsforce) ⇄ demo ERP customers, run by a `salesforce` worker.
 * Salesforce owns name, phone, website and address; the ERP owns email, VAT number, credit
 * limit, segment and active.
 */

jest.setTimeout(300_000);

const TOKEN = '00DEm0000000001!pair';
const PAIR = 'salesforce-erp-customers';
const IN_ERP = 60;
const IN_SF = 40;
const account = SOBJECTS.Account!;

let setup: EmulatorErpEnv<SalesforceEmulator>;
let env: DevEnv;
let emulator: SalesforceEmulator;
let erpDb: string;
let n = 0;

beforeAll(async () => {
  setup = await startSalesforceErpEnv({ token: TOKEN, account: 'pair-org' });
  ({ env, emulator, erpDb } = setup);
});

afterAll(() => setup?.stop());

async function syncPair(): Promise<SyncPairResult> {
  await untilSettled(); // the connector reads only SystemModstamp seconds that are over
  const handle = await env.client.workflow.start('syncPair', { taskQueue: TASK_QUEUES.salesforce, workflowId: `sf-pair-${++n}`, args: [{ pair: PAIR }], workflowExecutionTimeout: '2 minutes' });
  const result = (await handle.result()) as SyncPairResult;
  expect(result.status).toBe('completed');
  return result;
}

const writesOn = (t: PairSideTotals) => t.created + t.updated + t.archived + t.deleted;
type ErpRow = { id: number; external_key: string; name: string; city: string | null; credit_limit_minor: number | null };
const erpRows = () => queryDb<ErpRow>(erpDb, 'SELECT * FROM customers ORDER BY id');
const erpByKey = (key: string) => queryDb<ErpRow>(erpDb, 'SELECT * FROM customers WHERE external_key = ?', key)[0];
const accounts = () => emulator.store.all('Account');

test(`seeds ${IN_ERP} ERP customers and ${IN_SF} Salesforce accounts`, () => {
  const at = Date.now() - 3600_000;
  const db = new Database(erpDb);
  const insert = db.prepare(
    `INSERT INTO customers (external_key, name, email, phone, website, vat_number, street, city, postal_code, country_code,
       credit_limit_minor, credit_currency, segment, active, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)`,
  );
  db.transaction(() => {
    for (let i = 1; i <= IN_ERP; i++) {
      insert.run(`E-${i}`, `ERP Customer ${i} GmbH`, `billing${i}@erp${i}.example`, `030 ${100000 + i}`, `erp${i}.example`, `DE${100000000 + i}`, `Hauptstraße ${i}`, 'Berlin', String(10000 + i), 'DE', 1000 * i, 'EUR', i % 5 === 0 ? 'enterprise' : 'smb', new Date(at + i).toISOString());
    }
  })();
  db.close();
  emulator.store.now = () => at;
  emulator.store.transaction(() => {
    for (let i = 1; i <= IN_SF; i++) {
      emulator.store.insert(account, { Name: `Salesforce Account ${i} Ltd`, Phone: '040 901820', Website: `sf${i}.example`, BillingStreet: `Harbour Road ${i}`, BillingCity: 'Hamburg', BillingPostalCode: String(20000 + i), BillingCountryCode: 'DE', Credit_Limit__c: 500 + i, ERP_Credit_Currency__c: 'EUR' });
    }
  });
  emulator.store.now = Date.now;
  expect(erpRows()).toHaveLength(IN_ERP);
  expect(accounts()).toHaveLength(IN_SF);
});

test('the first run creates each side on the other; later runs write nothing (no echo)', async () => {
  const first = await syncPair();
  const sf = first.totals.sides.salesforce!;
  const erp = first.totals.sides.erp!;
  expect([sf.quarantined, erp.quarantined]).toEqual([0, 0]);
  expect([sf.created, erp.created]).toEqual([IN_ERP, IN_SF]);
  for (let round = 2; round <= 3; round++) {
    const t = (await syncPair()).totals.sides;
    expect([round, writesOn(t.salesforce!), writesOn(t.erp!)]).toEqual([round, 0, 0]);
  }
  const total = IN_ERP + IN_SF;
  expect(erpRows()).toHaveLength(total);
  expect(accounts()).toHaveLength(total);
  expect(accounts().find((a) => a.data.Name === 'ERP Customer 7 GmbH')?.data).toMatchObject({ ERP_Id__c: 'E-7', ERP_Email__c: 'billing7@erp7.example', Credit_Limit__c: 70 });
  const sfBorn = accounts().find((a) => a.data.Name === 'Salesforce Account 7 Ltd')!;
  expect(erpByKey(`SF-${sfBorn.id}`)).toMatchObject({ name: 'Salesforce Account 7 Ltd', city: 'Hamburg', credit_limit_minor: 50700 });
});

test('edits flow by ownership: a name edited in Salesforce reaches the ERP, a credit limit edited in the ERP reaches Salesforce', async () => {
  const sfBorn = accounts().find((a) => a.data.Name === 'Salesforce Account 11 Ltd')!;
  emulator.store.update(account, sfBorn.id, { Name: 'Renamed In Salesforce Ltd', BillingCity: 'Bremen' });
  const db = new Database(erpDb);
  db.prepare('UPDATE customers SET credit_limit_minor = ?, updated_at = ? WHERE external_key = ?').run(4_242_400, new Date(Date.now() + 1000).toISOString(), 'E-12');
  db.close();

  const r = await syncPair();
  expect(erpByKey(`SF-${sfBorn.id}`)).toMatchObject({ name: 'Renamed In Salesforce Ltd', city: 'Bremen' });
  expect(accounts().find((a) => a.data.ERP_Id__c === 'E-12')!.data.Credit_Limit__c).toBe(42424);
  expect([r.totals.sides.erp!.updated, r.totals.sides.salesforce!.updated]).toEqual([1, 1]);
  const quiet = await syncPair();
  expect([writesOn(quiet.totals.sides.salesforce!), writesOn(quiet.totals.sides.erp!)]).toEqual([0, 0]);
});
