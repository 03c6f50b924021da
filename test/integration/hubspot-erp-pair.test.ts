import Database from 'better-sqlite3';
import type { PairSideTotals, SyncPairResult } from '../../contracts/pair-sync';
import { TASK_QUEUES } from '../../contracts/queues';
import type { HubSpotEmulator } from '../../emulators/hubspot';
import type { SyncWorkers } from '../../workers/worker';
import { queryDb } from '../helpers/demo-env';
import { startHubSpotErpEnv, type EmulatorErpEnv } from '../helpers/emulator-erp-env';
import type { DevEnv } from '../helpers/env';

/**
 * The shipped pair config/pairs/hubspot-erp-customers.json on the real dev server: HubSpot
 * companies (the HubSpot emulator, with HubSpot's rate limits) ⇄ demo ERP customers, run by a
 * `hubspot` family worker. HubSpot owns name, phone, website and address; the ERP owns email,
 * VAT number, credit limit, segment and active; an archived company archives its customer.
 */

jest.setTimeout(300_000);

const TOKEN = 'pat-na1-pair-0000';
const PAIR = 'hubspot-erp-customers';
const IN_ERP = 600;
const IN_HUBSPOT = 400;

let setup: EmulatorErpEnv<HubSpotEmulator>;
let env: DevEnv;
let emulator: HubSpotEmulator;
let sync: SyncWorkers;
let erpDb: string;
let n = 0;

beforeAll(async () => {
  setup = await startHubSpotErpEnv({ token: TOKEN, account: 'pair-portal', emulator: { rateLimitPer10s: 190, searchPerSecond: 5 } });
  ({ env, emulator, sync, erpDb } = setup);
});

afterAll(() => setup?.stop());

async function syncPair(): Promise<SyncPairResult> {
  const handle = await env.client.workflow.start('syncPair', {
    taskQueue: TASK_QUEUES.hubspot,
    workflowId: `hubspot-pair-${++n}`,
    args: [{ pair: PAIR }],
    // A run that keeps finding its own writes (an echo loop) never ends: fail it instead of hanging.
    workflowExecutionTimeout: '2 minutes',
  });
  const result = (await handle.result()) as SyncPairResult;
  expect(result.status).toBe('completed');
  return result;
}

const writesOn = (t: PairSideTotals) => t.created + t.updated + t.archived + t.deleted;
const iso = (ms: number) => new Date(ms).toISOString();

function erpExec(sql: string, ...params: unknown[]): void {
  const db = new Database(erpDb);
  try {
    const res = db.prepare(sql).run(...params);
    expect(res.changes).toBe(1);
  } finally {
    db.close();
  }
}

type Company = { id: number; props: Record<string, string> };
function companies(archived = false): Company[] {
  const rows = emulator.store.db.prepare("SELECT id, props FROM objects WHERE type = 'companies' AND archived = ? ORDER BY id").all(archived ? 1 : 0) as {
    id: number;
    props: string;
  }[];
  return rows.map((r) => ({ id: r.id, props: JSON.parse(r.props) as Record<string, string> }));
}
const company = (id: number) => companies().find((c) => c.id === id);
type ErpRow = Record<string, unknown> & { id: number; external_key: string; name: string; active: number; credit_limit_minor: number | null };
const erpRows = () => queryDb<ErpRow>(erpDb, 'SELECT * FROM customers ORDER BY id');
const erpByKey = (key: string) => queryDb<ErpRow>(erpDb, 'SELECT * FROM customers WHERE external_key = ?', key)[0];

/** Both sides through the pair's own mappings, by canonical external key. */
function canonicalSides() {
  const hs = sync.registry.mappings.get('hubspot-company-to-customer-pair')!;
  const erp = sync.registry.mappings.get('erp-customer-to-customer')!;
  const left = new Map<string, unknown>();
  for (const c of companies()) {
    const m = hs.apply({ ...c.props, hs_object_id: String(c.id) }, { keyPrefix: 'HS-' });
    if (!m.ok) throw new Error(`company ${c.id} does not map: ${JSON.stringify(m.issues)}`);
    left.set(String(m.value.externalKey), m.value);
  }
  const right = new Map<string, unknown>();
  for (const r of erpRows()) {
    const m = erp.apply(r);
    if (!m.ok) throw new Error(`ERP customer ${r.id} does not map: ${JSON.stringify(m.issues)}`);
    right.set(String(m.value.externalKey), m.value);
  }
  return { hubspot: left, erp: right };
}

test(`seeds ${IN_ERP} ERP customers and ${IN_HUBSPOT} HubSpot companies, none in common`, () => {
  const at = Date.now() - 3600_000;
  const db = new Database(erpDb);
  const insert = db.prepare(
    `INSERT INTO customers (external_key, name, email, phone, website, vat_number, street, city, postal_code, country_code,
       credit_limit_minor, credit_currency, segment, active, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)`,
  );
  db.transaction(() => {
    for (let i = 1; i <= IN_ERP; i++) {
      insert.run(
        `E-${i}`,
        `ERP Customer ${i} GmbH`,
        `billing${i}@erp${i}.example`,
        `030 ${100000 + i}`,
        `erp${i}.example`,
        `DE${100000000 + i}`,
        `Hauptstraße ${i}`,
        'Berlin',
        String(10000 + i),
        'DE',
        1000 * i,
        'EUR',
        i % 5 === 0 ? 'enterprise' : 'smb',
        iso(at + i),
      );
    }
  })();
  db.close();
  emulator.store.transaction(() => {
    for (let i = 1; i <= IN_HUBSPOT; i++) {
      emulator.store.create(
        'companies',
        {
          name: `HubSpot Company ${i} Ltd`,
          domain: `hs${i}.example`,
          phone: '040 901820',
          address: `Harbour Road ${i}`,
          city: 'hamburg',
          zip: String(20000 + i),
          country: 'Germany',
          erp_credit_limit: String(500 + i),
          erp_credit_currency: 'EUR',
          erp_segment: i % 4 === 0 ? 'mid-market' : 'smb',
        },
        at + i,
      );
    }
  });
  expect(erpRows()).toHaveLength(IN_ERP);
  expect(companies()).toHaveLength(IN_HUBSPOT);
});

test('No echo: HubSpot ⇄ ERP with 1,000 customers holds exactly 1,000 on each side after 5 rounds, nothing written after the first', async () => {
  const first = await syncPair();
  const hs = first.totals.sides.hubspot!;
  const erp = first.totals.sides.erp!;
  expect([hs.quarantined, erp.quarantined]).toEqual([0, 0]);
  expect(hs.created).toBe(IN_ERP);
  expect(erp.created).toBe(IN_HUBSPOT);
  expect([hs.updated, erp.updated, hs.archived, erp.archived]).toEqual([0, 0, 0, 0]);

  for (let round = 2; round <= 5; round++) {
    const again = await syncPair();
    const t = again.totals.sides;
    expect([round, writesOn(t.hubspot!), writesOn(t.erp!), t.hubspot!.quarantined, t.erp!.quarantined]).toEqual([round, 0, 0, 0, 0]);
  }
  const total = IN_ERP + IN_HUBSPOT;
  expect(erpRows()).toHaveLength(total);
  expect(companies()).toHaveLength(total);
  expect(new Set(erpRows().map((r) => r.external_key)).size).toBe(total);

  // Field by field, both sides read (through the pair's mappings) as the same canonical customers.
  const sides = canonicalSides();
  expect(sides.hubspot.size).toBe(total);
  expect([...sides.erp.keys()].sort()).toEqual([...sides.hubspot.keys()].sort());
  for (const [key, value] of sides.hubspot) expect([key, sides.erp.get(key)]).toEqual([key, value]);
  // Identities as documented: a company from the ERP carries the ERP key, a customer from HubSpot "HS-<id>".
  expect(companies().find((c) => c.props.name === 'ERP Customer 7 GmbH')?.props.erp_customer_id).toBe('E-7');
  expect(erpRows().find((r) => r.name === 'HubSpot Company 7 Ltd')?.external_key).toBe('HS-7');
});

test('edits on both sides flow: a HubSpot-owned field edited in HubSpot reaches the ERP, an ERP-owned field edited in the ERP reaches HubSpot', async () => {
  const renamed = 11; // a HubSpot-born company
  const erpKey = 'E-12'; // an ERP-born customer
  emulator.store.update('companies', renamed, { name: 'Renamed In HubSpot Ltd', city: 'bremen' });
  erpExec('UPDATE customers SET credit_limit_minor = ?, updated_at = ? WHERE external_key = ?', 4_242_400, iso(Date.now() + 1000), erpKey);

  const r = await syncPair();
  expect(erpByKey(`HS-${renamed}`)).toMatchObject({ name: 'Renamed In HubSpot Ltd', city: 'Bremen' });
  const target = companies().find((c) => c.props.erp_customer_id === erpKey)!;
  expect(target.props.erp_credit_limit).toBe('42424.00');
  expect([r.totals.sides.erp!.updated, r.totals.sides.hubspot!.updated, r.totals.conflicts]).toEqual([1, 1, 0]);

  const quiet = await syncPair();
  expect([writesOn(quiet.totals.sides.hubspot!), writesOn(quiet.totals.sides.erp!)]).toEqual([0, 0]);
});

test('an ERP-owned field edited in HubSpot is not written to the ERP; the ERP value is restored in HubSpot', async () => {
  const id = 21;
  const before = erpByKey(`HS-${id}`)!;
  emulator.store.update('companies', id, { erp_credit_limit: '1.00' });

  const r = await syncPair();
  expect(erpByKey(`HS-${id}`)!.credit_limit_minor).toBe(before.credit_limit_minor);
  expect(company(id)!.props.erp_credit_limit).toBe((Number(before.credit_limit_minor) / 100).toFixed(2));
  expect(r.totals.sides.hubspot!.rejected).toBe(1);
  expect(r.totals.sides.erp!.updated).toBe(0);
});

test('a company archived in HubSpot archives its ERP customer (delete policy "archive"); later runs write nothing', async () => {
  const id = 31;
  expect(erpByKey(`HS-${id}`)!.active).toBe(1);
  expect(emulator.store.archive('companies', id)).toBe(true);

  const r = await syncPair();
  expect(erpByKey(`HS-${id}`)!.active).toBe(0);
  expect(r.totals.sides.erp!.archived).toBe(1);
  expect(companies(true).map((c) => c.id)).toEqual([id]);

  const quiet = await syncPair();
  expect([writesOn(quiet.totals.sides.hubspot!), writesOn(quiet.totals.sides.erp!)]).toEqual([0, 0]);
  // Nothing was created for the archived company on either side.
  expect(erpRows()).toHaveLength(IN_ERP + IN_HUBSPOT);
  expect(companies()).toHaveLength(IN_ERP + IN_HUBSPOT - 1);
});

test('first links by external key work from both sides: records made outside the pair are linked, never created twice', async () => {
  const old = Date.now() - 2 * 3600_000;
  // A company HubSpot holds from before (older than the HubSpot checkpoint), and a new ERP
  // customer carrying its key, "HS-<id>": found from the ERP side by the company's own id.
  const hsBorn = emulator.store.create('companies', { name: 'Older Company AG', country: 'Germany' }, old);
  const erpInsert = (key: string, name: string, at: number) =>
    erpExec('INSERT INTO customers (external_key, name, country_code, segment, active, updated_at) VALUES (?, ?, ?, ?, 1, ?)', key, name, 'DE', 'smb', iso(at));
  erpInsert(`HS-${hsBorn.id}`, 'Older Company AG', Date.now());
  // An ERP customer from before (older than the ERP checkpoint), and a new company carrying its
  // key in erp_customer_id: found from the HubSpot side by that key.
  erpInsert('E-OLD', 'Old ERP Customer SE', old);
  emulator.store.create('companies', { name: 'Old ERP Customer SE', country: 'Germany', erp_customer_id: 'E-OLD' });
  const [erpBefore, hsBefore] = [erpRows().length, companies().length];

  const r = await syncPair();
  expect(r.totals.linked).toBe(2);
  expect([r.totals.sides.hubspot!.created, r.totals.sides.erp!.created]).toEqual([0, 0]);
  expect([erpRows().length, companies().length]).toEqual([erpBefore, hsBefore]);
  expect(canonicalSides().hubspot.get(`HS-${hsBorn.id}`)).toEqual(canonicalSides().erp.get(`HS-${hsBorn.id}`));
  expect(canonicalSides().hubspot.get('E-OLD')).toEqual(canonicalSides().erp.get('E-OLD'));
});
