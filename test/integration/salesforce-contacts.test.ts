import Database from 'better-sqlite3';
import { TASK_QUEUES } from '../../contracts/queues';
import type { SyncResult } from '../../contracts/sync';
import type { SalesforceEmulator } from '../../emulators/salesforce';
import { SOBJECTS } from '../../emulators/salesforce/schema';
import { queryDb } from '../helpers/demo-env';
import { startSalesforceErpEnv, type EmulatorErpEnv } from '../helpers/emulator-erp-env';
import type { DevEnv } from '../helpers/env';
import { untilSettled } from '../helpers/salesforce-settle';

/**
 * Contacts both ways on the real dev server, through the shipped pipelines (emulator + jsforce,
 * demo ERP): erp-contacts-to-salesforce links each Contact to its Account (by the Account's
 * ERP_Id__c, or SF-<Account Id>), salesforce-contacts-to-erp gives each ERP contact its customer
 * (the Account's ERP_Id__c, else SF-<AccountId>). Contacts made from the ERP come back to their
 * own ERP contact, not as copies.
 */

jest.setTimeout(300_000);

const TOKEN = '00DEm0000000001!contacts';
let env: DevEnv;
let emulator: SalesforceEmulator;
let stack: EmulatorErpEnv<SalesforceEmulator> | undefined;
let erpDb: string;
let n = 0;
const acc: Record<string, string> = {};

beforeAll(async () => {
  stack = await startSalesforceErpEnv({ token: TOKEN, account: 'contacts-org' });
  ({ env, emulator, erpDb } = stack);
  // Two Accounts made from ERP customers (ERP_Id__c), one made in Salesforce (its ERP customer is SF-<Id>).
  acc.e1 = emulator.store.insert(SOBJECTS.Account!, { Name: 'Erste GmbH', ERP_Id__c: 'E-1' });
  acc.e2 = emulator.store.insert(SOBJECTS.Account!, { Name: 'Zweite AG', ERP_Id__c: 'E-2' });
  acc.sf = emulator.store.insert(SOBJECTS.Account!, { Name: 'Salesforce-made Ltd' });
});

afterAll(async () => {
  await stack?.stop();
});

async function run(pipeline: string): Promise<SyncResult> {
  const h = await env.client.workflow.start('syncPipeline', { taskQueue: TASK_QUEUES.salesforce, workflowId: `sf-contacts-${++n}`, args: [{ pipeline }] });
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
const sfContact = (erpKey: string) => emulator.store.all('Contact').find((c) => c.data.ERP_Id__c === erpKey)?.data;
type ErpContact = { external_key: string; customer_external_key: string; first_name: string | null; last_name: string; email: string | null };
const erpContacts = () => queryDb<ErpContact>(erpDb, 'SELECT external_key, customer_external_key, first_name, last_name, email FROM contacts ORDER BY external_key');

test('ERP contacts become Contacts of their Account; one whose Account is not in Salesforce waits in quarantine', async () => {
  const at = new Date(Date.now() - 3600_000).toISOString();
  const ins = 'INSERT INTO contacts (external_key, customer_external_key, first_name, last_name, email, phone, job_title, updated_at) VALUES (?,?,?,?,?,?,?,?)';
  erp(ins, 'C-1', 'E-1', 'Ada', 'Lovelace', 'ada@erste.example', '+493012345601', 'CTO', at);
  erp(ins, 'C-2', 'E-2', 'Alan', 'Turing', 'alan@zweite.example', null, null, at);
  erp(ins, 'C-3', `SF-${acc.sf}`, 'Grace', 'Hopper', 'grace@sf-made.example', null, 'Admiral', at);
  erp(ins, 'C-4', 'E-404', 'Nobody', 'Known', null, null, null, at);

  const first = await run('erp-contacts-to-salesforce');
  expect(first.totals).toMatchObject({ read: 4, created: 3, quarantined: 1 });
  expect(sfContact('C-1')).toMatchObject({ AccountId: acc.e1, FirstName: 'Ada', LastName: 'Lovelace', Email: 'ada@erste.example', Phone: '+493012345601', Title: 'CTO' });
  expect(sfContact('C-2')).toMatchObject({ AccountId: acc.e2, LastName: 'Turing' });
  expect(sfContact('C-3')).toMatchObject({ AccountId: acc.sf, LastName: 'Hopper' });
  expect(sfContact('C-4')).toBeUndefined();
  const [q] = await stack!.sync.store.listQuarantine('erp-contacts-to-salesforce', 10);
  expect(JSON.stringify(q)).toMatch(/no Salesforce Account with ERP_Id__c 'E-404'/);

  // The Account arrives, Ada moves to the second customer: both follow.
  acc.e404 = emulator.store.insert(SOBJECTS.Account!, { Name: 'Late Arrival KG', ERP_Id__c: 'E-404' });
  const now = new Date().toISOString();
  erp("UPDATE contacts SET customer_external_key = 'E-2', updated_at = ? WHERE external_key = 'C-1'", now);
  erp('UPDATE contacts SET updated_at = ? WHERE external_key = ?', now, 'C-4');
  const second = await run('erp-contacts-to-salesforce');
  expect(second.totals).toMatchObject({ created: 1, updated: 1, quarantined: 0 });
  expect(sfContact('C-1')!.AccountId).toBe(acc.e2);
  expect(sfContact('C-4')!.AccountId).toBe(acc.e404);
  expect(emulator.store.all('Contact')).toHaveLength(4);
});

let k1 = '';
let k2 = '';

test("Contacts made in Salesforce become ERP contacts of their Account's customer; those made from the ERP are not read back", async () => {
  k1 = emulator.store.insert(SOBJECTS.Contact!, { AccountId: acc.e1, FirstName: 'Katherine', LastName: 'Johnson', Email: 'KJ@Erste.example' });
  k2 = emulator.store.insert(SOBJECTS.Contact!, { AccountId: acc.sf, LastName: 'Vaughan', Title: 'Supervisor' });
  const k3 = emulator.store.insert(SOBJECTS.Contact!, { LastName: 'Orphan' });
  await untilSettled(); // the connector reads only SystemModstamp seconds that are over

  const r = await run('salesforce-contacts-to-erp');
  expect(r.totals).toMatchObject({ read: 3, created: 2, quarantined: 1 });
  const rows = new Map(erpContacts().map((c) => [c.external_key, c]));
  expect(rows.get(`SF-${k1}`)).toMatchObject({ customer_external_key: 'E-1', first_name: 'Katherine', last_name: 'Johnson', email: 'kj@erste.example' });
  expect(rows.get(`SF-${k2}`)).toMatchObject({ customer_external_key: `SF-${acc.sf}`, last_name: 'Vaughan' });
  expect(rows.has(`SF-${k3}`)).toBe(false); // no Account: quarantined
  expect([...rows.keys()].sort()).toEqual(['C-1', 'C-2', 'C-3', 'C-4', `SF-${k1}`, `SF-${k2}`].sort()); // no copies of C-1..C-4
});

test('a contact the ERP got from Salesforce goes back to its own Contact, not a new one; later Salesforce edits still reach the ERP', async () => {
  const before = emulator.store.all('Contact').length;
  const back = await run('erp-contacts-to-salesforce');
  expect(back.totals).toMatchObject({ created: 0, quarantined: 0 }); // (the 60 s lookback reads C-1 and C-4 again, unchanged)
  expect(back.totals.updated).toBe(2); // SF-k1 and SF-k2, new to this pipeline, written onto their own Contacts
  expect(emulator.store.all('Contact')).toHaveLength(before);
  expect(emulator.store.get(k1)!.data).toMatchObject({ AccountId: acc.e1, LastName: 'Johnson', Email: 'kj@erste.example' });
  expect(emulator.store.get(k1)!.data.ERP_Id__c ?? null).toBeNull(); // still Salesforce's own

  emulator.store.update(SOBJECTS.Contact!, k2, { LastName: 'Vaughan-Smith' });
  await untilSettled();
  const edit = await run('salesforce-contacts-to-erp');
  expect(edit.totals).toMatchObject({ updated: 1, created: 0 });
  expect(erpContacts().find((c) => c.external_key === `SF-${k2}`)).toMatchObject({ last_name: 'Vaughan-Smith' });
});
