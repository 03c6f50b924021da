import path from 'node:path';
import type { TrytonClient } from '../../connectors/tryton/client';
import { createTrytonConnector, type TrytonConnector } from '../../connectors/tryton/connector';
import type { SourceRecord } from '../../connectors/types';
import type { PairSideTotals, SyncPairResult } from '../../contracts/pair-sync';
import { TASK_QUEUES } from '../../contracts/queues';
import { seedDemo } from '../../demo/seed';
import { startSalesforceEmulator, type SalesforceEmulator } from '../../emulators/salesforce';
import { SOBJECTS } from '../../emulators/salesforce/schema';
import { startTryton, type TrytonInstance } from '../../scripts/tryton';
import { adminClient } from '../../scripts/tryton/admin-helpers';
import type { SyncWorkers } from '../../workers/worker';
import { syncWorkersFor, trytonVars } from '../helpers/demo-env';
import { startDevEnv, type DevEnv } from '../helpers/env';
import { untilSettled } from '../helpers/salesforce-settle';
import { germanVat } from '../helpers/vat';

/**
 * The shipped pair config/pairs/salesforce-tryton-parties.json on the real dev server:
 * Salesforce Accounts (the emulator, through jsforce) ⇄ parties of a real trytond, run by a
 * `salesforce` family worker. Salesforce owns name, phone, website and address; Tryton owns
 * email, the VAT number and active; a deleted Account archives its party.
 */

jest.setTimeout(300_000);

const TOKEN = '00DEm0000000001!tryton-pair';
const PAIR = 'salesforce-tryton-parties';
const IN_SF = 20;
const IN_TRYTON = 10;
const account = SOBJECTS.Account!;

let env: DevEnv;
let emulator: SalesforceEmulator;
let tryton: TrytonInstance;
let admin: TrytonClient;
let conn: TrytonConnector;
let sync: SyncWorkers;
let running: Promise<void>;
let n = 0;
let bedParties = 0;
const seeded = new Map<number, number>();
const sfIds: string[] = [];

beforeAll(async () => {
  [env, tryton] = await Promise.all([startDevEnv(), startTryton({ log: () => undefined })]);
  emulator = await startSalesforceEmulator({ token: TOKEN, dbPath: path.join(env.tmp, 'salesforce.db') });
  admin = adminClient(tryton);
  conn = createTrytonConnector({ url: tryton.url, database: tryton.database, user: tryton.user, password: tryton.password });
  const dir = path.join(env.tmp, 'demo');
  seedDemo(dir, { accounts: 0, contacts: 0, products: 0 });
  sync = await syncWorkersFor(env, dir, ['salesforce'], {
    SALESFORCE_INSTANCE_URL: emulator.baseUrl,
    SALESFORCE_ACCESS_TOKEN: TOKEN,
    SALESFORCE_GOVERNOR_DB: path.join(env.tmp, 'salesforce-governor.db'),
    SALESFORCE_ACCOUNT: 'tryton-pair-org',
    ...trytonVars(tryton),
  });
  running = sync.run();
});

afterAll(async () => {
  sync?.shutdown();
  await running;
  await conn?.close();
  await admin?.logout();
  await emulator?.stop();
  await tryton?.stop();
  await env?.teardown();
});

async function syncPair(): Promise<SyncPairResult> {
  await untilSettled(); // the connector reads only SystemModstamp seconds that are over
  const handle = await env.client.workflow.start('syncPair', {
    taskQueue: TASK_QUEUES.salesforce, workflowId: `sf-tryton-pair-${++n}`, args: [{ pair: PAIR }],
    // A run that keeps finding its own writes (an echo loop) never ends: fail it instead of hanging.
    workflowExecutionTimeout: '3 minutes',
  });
  const result = (await handle.result()) as SyncPairResult;
  expect(result.status).toBe('completed');
  return result;
}

const writesOn = (t: PairSideTotals) => t.created + t.updated + t.archived + t.deleted;
const accounts = () => emulator.store.all('Account');
const accountByErpKey = (key: string) => accounts().find((a) => a.data.ERP_Id__c === key);

async function parties(): Promise<SourceRecord[]> {
  const page = await conn.fetchChanges('parties', { after: null, limit: 10_000 });
  expect(page.hasMore).toBe(false);
  return page.records;
}
async function partyByKey(key: string): Promise<Record<string, unknown>> {
  const id = (await conn.findByExternalKeys('parties', [key])).get(key);
  if (!id) throw new Error(`no party with external key ${key}`);
  return (await conn.read('parties', [id]))[0]!.data;
}

/** Both sides through the pair's own mappings, by canonical external key. */
async function canonicalSides() {
  const sf = sync.registry.mappings.get('salesforce-account-to-tryton-party-pair')!;
  const tr = sync.registry.mappings.get('tryton-party-to-customer')!;
  const left = new Map<string, unknown>();
  for (const a of accounts()) {
    const m = sf.apply({ ...a.data, Id: a.id }, { keyPrefix: 'SF-' });
    if (!m.ok) throw new Error(`account ${a.id} does not map: ${JSON.stringify(m.issues)}`);
    left.set(String(m.value.externalKey), m.value);
  }
  const right = new Map<string, unknown>();
  for (const p of await parties()) {
    const m = tr.apply(p.data);
    if (!m.ok) throw new Error(`party ${p.key} does not map: ${JSON.stringify(m.issues)}`);
    right.set(String(m.value.externalKey), m.value);
  }
  return { salesforce: left, tryton: right };
}

test(`seeds ${IN_SF} Salesforce accounts and ${IN_TRYTON} Tryton parties, none in common`, async () => {
  bedParties = (await parties()).length;
  const [de] = await admin.model<{ id: number }[]>('country.country', 'search_read', [[['code', '=', 'DE']], 0, 1, null, ['code']], {});
  const values = Array.from({ length: IN_TRYTON }, (_, k) => {
    const i = k + 1;
    return {
      name: `Tryton Party ${i} GmbH`,
      contact_mechanisms: [['create', [{ type: 'email', value: `billing${i}@party${i}.example` }, { type: 'phone', value: `+49 30 ${100000 + i}` }, { type: 'website', value: `party${i}.example` }]]],
      addresses: [['create', [{ street: `Hauptstraße ${i}`, city: 'Berlin', postal_code: String(10000 + i), country: de!.id }]]],
      identifiers: [['create', [{ type: 'eu_vat', code: germanVat(i) }]]],
    };
  });
  (await admin.model<number[]>('party.party', 'create', [values], {})).forEach((id, k) => seeded.set(k + 1, id));
  const at = Date.now() - 3600_000;
  emulator.store.now = () => at;
  emulator.store.transaction(() => {
    for (let i = 1; i <= IN_SF; i++) {
      sfIds.push(emulator.store.insert(account, { Name: `Salesforce Account ${i} Ltd`, Phone: '040 901820', Website: `sf${i}.example`, BillingStreet: `Harbour Road ${i}`, BillingCity: 'hamburg', BillingPostalCode: String(20000 + i), BillingCountryCode: 'DE' }));
    }
  });
  emulator.store.now = Date.now;
  expect(await parties()).toHaveLength(bedParties + IN_TRYTON);
  expect(accounts()).toHaveLength(IN_SF);
});

test('the first run creates each side on the other; later runs write nothing; both sides equal', async () => {
  const inTryton = bedParties + IN_TRYTON;
  const first = await syncPair();
  const sf = first.totals.sides.salesforce!;
  const tr = first.totals.sides.tryton!;
  expect([sf.quarantined, tr.quarantined]).toEqual([0, 0]);
  expect([sf.created, tr.created]).toEqual([inTryton, IN_SF]);
  for (let round = 2; round <= 3; round++) {
    const t = (await syncPair()).totals.sides;
    expect([round, writesOn(t.salesforce!), writesOn(t.tryton!), t.salesforce!.quarantined, t.tryton!.quarantined]).toEqual([round, 0, 0, 0, 0]);
  }
  const total = inTryton + IN_SF;
  expect(accounts()).toHaveLength(total);
  expect(await parties()).toHaveLength(total);
  const sides = await canonicalSides();
  expect([...sides.tryton.keys()].sort()).toEqual([...sides.salesforce.keys()].sort());
  for (const [key, value] of sides.salesforce) expect([key, sides.tryton.get(key)]).toEqual([key, value]);
  // Identities: an Account from Tryton carries "TRY-<party id>", a party from Salesforce the code "CRM-SF-<Id>".
  expect(accountByErpKey(`TRY-${seeded.get(7)}`)?.data).toMatchObject({ Name: 'Tryton Party 7 GmbH', ERP_VAT_Number__c: germanVat(7), ERP_Email__c: 'billing7@party7.example' });
  expect(await partyByKey(`SF-${sfIds[6]}`)).toMatchObject({ code: `CRM-SF-${sfIds[6]}`, name: 'Salesforce Account 7 Ltd', city: 'Hamburg', country: 'DE', phone: '+4940901820' });
});

test('edits flow by ownership: a name edited in Salesforce reaches Tryton, a VAT number edited in Tryton reaches Salesforce', async () => {
  const renamed = sfIds[10]!;
  const party = seeded.get(2)!;
  emulator.store.update(account, renamed, { Name: 'Renamed In Salesforce Ltd', BillingCity: 'bremen' });
  const [current] = await admin.model<{ id: number; 'identifiers.': { id: number }[] }[]>('party.party', 'read', [[party], ['identifiers.code']], {});
  await admin.model('party.party', 'write', [[party], { identifiers: [['write', [current!['identifiers.'][0]!.id], { code: germanVat(902) }]] }], {});

  const r = await syncPair();
  expect(await partyByKey(`SF-${renamed}`)).toMatchObject({ name: 'Renamed In Salesforce Ltd', city: 'Bremen' });
  expect(accountByErpKey(`TRY-${party}`)!.data.ERP_VAT_Number__c).toBe(germanVat(902));
  expect([r.totals.sides.tryton!.updated, r.totals.sides.salesforce!.updated, r.totals.conflicts]).toEqual([1, 1, 0]);
  const quiet = await syncPair();
  expect([writesOn(quiet.totals.sides.salesforce!), writesOn(quiet.totals.sides.tryton!)]).toEqual([0, 0]);
});

test('a deleted Account archives its party; a party archived in Tryton sets ERP_Active__c = false on its Account; later runs write nothing', async () => {
  const gone = sfIds[3]!;
  expect((await partyByKey(`SF-${gone}`)).active).toBe(true);
  emulator.store.delete(account, gone);
  const archivedParty = seeded.get(3)!;
  await admin.model('party.party', 'write', [[archivedParty], { active: false }], {});

  const r = await syncPair();
  expect((await partyByKey(`SF-${gone}`)).active).toBe(false);
  expect(accountByErpKey(`TRY-${archivedParty}`)!.data.ERP_Active__c).toBe(false);
  expect([r.totals.sides.tryton!.archived, r.totals.sides.salesforce!.archived]).toEqual([1, 1]);
  const quiet = await syncPair();
  expect([writesOn(quiet.totals.sides.salesforce!), writesOn(quiet.totals.sides.tryton!)]).toEqual([0, 0]);
});
