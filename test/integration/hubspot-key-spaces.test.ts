import path from 'node:path';
import { TASK_QUEUES } from '../../contracts/queues';
import type { SyncResult } from '../../contracts/sync';
import { demoPaths, seedDemo } from '../../demo/seed';
import { startHubSpotEmulator, type HubSpotEmulator } from '../../emulators/hubspot';
import type { SyncWorkers } from '../../workers/worker';
import { queryDb, syncWorkersFor } from '../helpers/demo-env';
import { startDevEnv, type DevEnv } from '../helpers/env';

/**
 * The README's HubSpot trial, in its order, after the demo has filled the ERP from the CRM:
 * HubSpot record ids and CRM ids are both small integers, so before key prefixes a HubSpot
 * company overwrote the ERP customer of the CRM account with the same number.
 */

jest.setTimeout(300_000);

const TOKEN = 'pat-na1-keys-0000';
let env: DevEnv;
let emulator: HubSpotEmulator;
let sync: SyncWorkers;
let running: Promise<void>;
let dir: string;
let n = 0;

beforeAll(async () => {
  env = await startDevEnv();
  emulator = await startHubSpotEmulator({ token: TOKEN, rateLimitPer10s: 190, searchPerSecond: 5 });
  dir = path.join(env.tmp, 'demo');
  seedDemo(dir, { accounts: 400, contacts: 600, products: 40 });
  sync = await syncWorkersFor(env, dir, ['sql', 'hubspot'], {
    HUBSPOT_BASE_PATH: emulator.baseUrl,
    HUBSPOT_ACCESS_TOKEN: TOKEN,
    HUBSPOT_GOVERNOR_DB: path.join(env.tmp, 'hubspot-governor.db'),
    HUBSPOT_ACCOUNT: 'keys-portal',
  });
  running = sync.run();
});

afterAll(async () => {
  sync?.shutdown();
  await running;
  await emulator?.stop();
  await env?.teardown();
});

async function run(pipeline: string, family: 'sql' | 'hubspot'): Promise<SyncResult> {
  const handle = await env.client.workflow.start('syncPipeline', {
    taskQueue: TASK_QUEUES[family],
    workflowId: `keys-${pipeline}-${++n}`,
    args: [{ pipeline }],
  });
  const result = (await handle.result()) as SyncResult;
  expect(result.status).toBe('completed');
  return result;
}

type Row = { id: number; external_key: string; name: string; email: string | null; vat_number: string | null };
const customers = () => queryDb<Row>(demoPaths(dir).erp, 'SELECT id, external_key, name, email, vat_number FROM customers ORDER BY id');
type ContactRow = { id: number; external_key: string; customer_external_key: string; last_name: string; email: string | null };
const contacts = () =>
  queryDb<ContactRow>(demoPaths(dir).erp, 'SELECT id, external_key, customer_external_key, last_name, email FROM contacts ORDER BY id');

test('the README HubSpot sequence creates HubSpot-keyed ERP records and never changes one the CRM owns', async () => {
  for (const p of ['demo-accounts', 'demo-contacts', 'demo-products']) await run(p, 'sql');
  const crmCustomers = customers();
  const crmContacts = contacts();
  expect(crmCustomers.length).toBeGreaterThan(350);
  expect(crmContacts.length).toBeGreaterThan(500);

  for (const p of ['erp-products-to-hubspot', 'erp-customers-to-hubspot', 'erp-contacts-to-hubspot']) await run(p, 'hubspot');
  const companies = await run('hubspot-companies-to-erp', 'hubspot');
  const hsContacts = await run('hubspot-contacts-to-erp', 'hubspot');

  // HubSpot's records arrive as records of their own: created, never an update of a CRM record.
  expect(companies.totals.created).toBe(crmCustomers.length);
  expect(companies.totals.updated).toBe(0);
  expect(hsContacts.totals.created).toBeGreaterThan(0);
  expect(hsContacts.totals.updated).toBe(0);

  // Every ERP record the CRM wrote is exactly as the CRM wrote it: same key, same owner, same fields.
  const after = new Map(customers().map((r) => [r.id, r]));
  for (const before of crmCustomers) expect(after.get(before.id)).toEqual(before);
  const contactsAfter = new Map(contacts().map((r) => [r.id, r]));
  for (const before of crmContacts) expect(contactsAfter.get(before.id)).toEqual(before);

  // The new ones are keyed in HubSpot's key space, and their references stay inside it.
  const fromHubSpot = customers().filter((r) => !crmCustomers.some((c) => c.id === r.id));
  expect(fromHubSpot).toHaveLength(companies.totals.created);
  expect(fromHubSpot.every((r) => /^HS-\d+$/.test(r.external_key))).toBe(true);
  const hsCustomerKeys = new Set(fromHubSpot.map((r) => r.external_key));
  const hsContactRows = contacts().filter((r) => r.external_key.startsWith('HS-'));
  expect(hsContactRows).toHaveLength(hsContacts.totals.created);
  expect(hsContactRows.every((r) => hsCustomerKeys.has(r.customer_external_key))).toBe(true);
});
