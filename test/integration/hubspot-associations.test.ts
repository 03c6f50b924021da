import { Client } from '@hubspot/api-client';
import Database from 'better-sqlite3';
import path from 'node:path';
import { TASK_QUEUES } from '../../contracts/queues';
import type { SyncResult } from '../../contracts/sync';
import { demoPaths, seedDemo } from '../../demo/seed';
import { startHubSpotEmulator, type HubSpotEmulator } from '../../emulators/hubspot';
import type { syncPipeline } from '../../workflows';
import type { SyncWorkers } from '../../workers/worker';
import { syncWorkersFor } from '../helpers/demo-env';
import { startDevEnv, type DevEnv } from '../helpers/env';

/**
 * Associations written with the records: demo ERP customers → HubSpot companies, then demo ERP
 * contacts → HubSpot contacts, each associated with its company (v4 batch associate default)
 * through the workflow, against the HubSpot emulator and a Temporal dev server.
 */

jest.setTimeout(180_000);

const TOKEN = 'pat-na1-assoc-0000';

let env: DevEnv;
let emulator: HubSpotEmulator;
let sync: SyncWorkers;
let running: Promise<void>;
let erpDb: string;
let hubspot: Client;
let n = 0;

beforeAll(async () => {
  env = await startDevEnv();
  emulator = await startHubSpotEmulator({ token: TOKEN, rateLimitPer10s: 190, searchPerSecond: 5 });
  const dir = path.join(env.tmp, 'demo');
  seedDemo(dir, { accounts: 0, contacts: 0, products: 0 });
  erpDb = demoPaths(dir).erp;
  sync = await syncWorkersFor(env, dir, ['hubspot'], {
      HUBSPOT_BASE_PATH: emulator.baseUrl,
      HUBSPOT_ACCESS_TOKEN: TOKEN,
      HUBSPOT_GOVERNOR_DB: path.join(env.tmp, 'hubspot-governor.db'),
      HUBSPOT_ACCOUNT: 'assoc-portal',
  });
  running = sync.run();
  hubspot = new Client({ accessToken: TOKEN, basePath: emulator.baseUrl, numberOfApiCallRetries: 0 });
});

afterAll(async () => {
  sync?.shutdown();
  await running;
  await emulator?.stop();
  await env?.teardown();
});

async function run(input: Parameters<typeof syncPipeline>[0]): Promise<SyncResult> {
  const handle = await env.client.workflow.start('syncPipeline', {
    taskQueue: TASK_QUEUES.hubspot,
    workflowId: `test-${input.pipeline}-${++n}`,
    args: [input],
  });
  return (await handle.result()) as SyncResult;
}

/**
 * ERP rows. A contact names its customer by `customer_external_key`; the companies pipeline reads
 * customers keyed by that external key, so HubSpot's `erp_customer_id` holds the same value. The
 * ERP's own ids differ from the keys on purpose.
 */
const key = (customer: number): string => `acct-${customer}`;
function insertCustomers(ids: number[]): void {
  const db = new Database(erpDb);
  const now = new Date().toISOString();
  const ins = db.prepare('INSERT INTO customers (id, external_key, name, email, city, country_code, segment, active, updated_at) VALUES (?,?,?,?,?,?,?,?,?)');
  db.transaction(() => {
    for (const id of ids) ins.run(id + 1000, key(id), `Customer ${id}`, `billing${id}@example.com`, 'Berlin', 'DE', 'smb', 1, now);
  })();
  db.close();
}

function insertContacts(rows: { id: number; customer: number }[]): void {
  const db = new Database(erpDb);
  const now = new Date().toISOString();
  const ins = db.prepare('INSERT INTO contacts (id, external_key, customer_external_key, first_name, last_name, email, job_title, updated_at) VALUES (?,?,?,?,?,?,?,?)');
  db.transaction(() => {
    for (const r of rows) ins.run(r.id, `c-${r.id}`, key(r.customer), `Ada${r.id}`, `Lovelace${r.id}`, `ada${r.id}@example.com`, 'Buyer', now);
  })();
  db.close();
}

/** HubSpot id of the record whose unique property has the value, through the official client. */
async function hubspotId(objectType: 'companies' | 'contacts', idProperty: string, value: string): Promise<string | undefined> {
  const res = await hubspot.crm.objects.batchApi.read(objectType, { inputs: [{ id: value }], idProperty, properties: [idProperty], propertiesWithHistory: [] }, false);
  return res.results[0]?.id;
}

async function companiesOf(contactId: string): Promise<string[]> {
  const page = await hubspot.crm.associations.v4.basicApi.getPage('contacts', contactId, 'companies', undefined, 500);
  return page.results.map((r) => String(r.toObjectId));
}

describe('demo ERP customers and contacts → HubSpot, contacts associated with their companies', () => {
  // Contacts 1–6 belong to customers 1–3; contact 7 to customer 4, added to the ERP later.
  const contacts = [1, 2, 3, 4, 5, 6].map((id) => ({ id, customer: ((id - 1) % 3) + 1 })).concat([{ id: 7, customer: 4 }]);

  test('each contact is associated with its company; one whose company is not in HubSpot is quarantined', async () => {
    insertCustomers([1, 2, 3]);
    insertContacts(contacts);

    const companies = await run({ pipeline: 'erp-customers-to-hubspot' });
    expect(companies.status).toBe('completed');
    expect(companies.totals.created).toBe(3);
    expect(companies.totals.quarantined).toBe(0);

    const result = await run({ pipeline: 'erp-contacts-to-hubspot' });
    expect(result.status).toBe('completed');
    expect(result.totals.read).toBe(7);
    expect(result.totals.created).toBe(6);
    expect(result.totals.quarantined).toBe(1);

    for (const c of contacts.filter((x) => x.customer !== 4)) {
      const contactId = await hubspotId('contacts', 'erp_contact_id', String(c.id));
      const companyId = await hubspotId('companies', 'erp_customer_id', key(c.customer));
      expect(contactId).toBeDefined();
      expect(companyId).toBeDefined();
      expect(await companiesOf(contactId!)).toEqual([companyId]);
      // HubSpot's primary company follows the association.
      const contact = await hubspot.crm.contacts.basicApi.getById(contactId!, ['associatedcompanyid', 'erp_customer_id']);
      expect(contact.properties.associatedcompanyid).toBe(companyId);
      expect(contact.properties.erp_customer_id).toBe(key(c.customer));
    }

    const q = await sync.store.listQuarantine('erp-contacts-to-hubspot', 10);
    expect(q).toHaveLength(1);
    expect(q[0]).toMatchObject({ sourceKey: '7', stage: 'write', field: 'customerExternalKey', rule: 'ValidationError' });
    expect(q[0]!.reason).toMatch(/no HubSpot companies record has erp_customer_id = acct-4/);
    expect(q[0]!.reason).not.toContain(TOKEN);
    // Written, not associated (the documented choice): the contact is in HubSpot without a company.
    const orphan = await hubspotId('contacts', 'erp_contact_id', '7');
    expect(orphan).toBeDefined();
    expect(await companiesOf(orphan!)).toEqual([]);
  });

  test('once the company is synced, a full re-run associates the quarantined contact and releases it', async () => {
    insertCustomers([4]);
    const companies = await run({ pipeline: 'erp-customers-to-hubspot' });
    expect(companies.totals.created).toBe(1);

    const again = await run({ pipeline: 'erp-contacts-to-hubspot', mode: 'full' });
    expect(again.status).toBe('completed');
    expect(again.totals.unchanged).toBe(6);
    // Upserted again by erp_contact_id: HubSpot reports the existing contact as updated.
    expect(again.totals.created + again.totals.updated).toBe(1);
    expect(again.totals.quarantined).toBe(0);
    expect(await sync.store.listQuarantine('erp-contacts-to-hubspot', 10)).toHaveLength(0);

    const contactId = await hubspotId('contacts', 'erp_contact_id', '7');
    const companyId = await hubspotId('companies', 'erp_customer_id', key(4));
    expect(await companiesOf(contactId!)).toEqual([companyId]);
  });
});

describe('emulator: POST /crm/v4/associations/{from}/{to}/batch/associate/default', () => {
  const url = () => `${emulator.baseUrl}/crm/v4/associations/contacts/companies/batch/associate/default`;
  const post = (body: unknown, token = TOKEN) =>
    fetch(url(), { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

  test('links valid pairs, reports missing records per input with a 207, and keeps associatedcompanyid in step', async () => {
    const contact = emulator.store.create('contacts', { firstname: 'Grace', lastname: 'Hopper' });
    const company = emulator.store.create('companies', { name: 'Navy' });
    const res = await post({ inputs: [{ from: { id: String(contact.id) }, to: { id: String(company.id) } }, { from: { id: String(contact.id) }, to: { id: '999999' } }] });
    expect(res.status).toBe(207);
    const body = (await res.json()) as { results: { from: { id: string }; to: { id: string }; associationSpec: { associationTypeId: number } }[]; numErrors: number; errors: { category: string; message: string }[] };
    expect(body.results).toContainEqual({ from: { id: String(contact.id) }, to: { id: String(company.id) }, associationSpec: { associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 279 } });
    expect(body.numErrors).toBe(1);
    expect(body.errors[0]).toMatchObject({ category: 'VALIDATION_ERROR' });
    expect(body.errors[0]!.message).toContain('999999');
    expect(emulator.store.get('contacts', contact.id)?.props.associatedcompanyid).toBe(String(company.id));

    // The official client: a full success is a 200 it parses.
    const other = emulator.store.create('contacts', { firstname: 'Alan', lastname: 'Turing' });
    const ok = await hubspot.crm.associations.v4.batchApi.createDefault('contacts', 'companies', { inputs: [{ _from: { id: String(other.id) }, to: { id: String(company.id) } }] });
    expect(ok.results.map((r) => [r._from.id, r.to.id])).toContainEqual([String(other.id), String(company.id)]);
    // …but it declares no 207 for this endpoint and throws on a partial success (the connector
    // then retries pair by pair to learn which pairs failed).
    await expect(
      hubspot.crm.associations.v4.batchApi.createDefault('contacts', 'companies', { inputs: [{ _from: { id: String(other.id) }, to: { id: '999999' } }] }),
    ).rejects.toMatchObject({ code: 207 });
  });

  test('needs the token', async () => {
    const res = await post({ inputs: [] }, 'pat-na1-wrong');
    expect(res.status).toBe(401);
  });
});
