import path from 'node:path';
import type { TrytonClient } from '../../connectors/tryton/client';
import type { TrytonConnector } from '../../connectors/tryton/connector';
import type { ReconcilePairResult } from '../../contracts/reconcile';
import { TASK_QUEUES } from '../../contracts/queues';
import { startHubSpotEmulator, type HubSpotEmulator } from '../../emulators/hubspot';
import type { SyncWorkers } from '../../workers/worker';
import type { DevEnv } from '../helpers/env';
import { useTrytonPairBed, writesOn } from '../helpers/tryton-pair-env';
import { germanVat } from '../helpers/vat';

/**
 * The shipped pair config/pairs/hubspot-tryton-parties.json on the real dev server: HubSpot
 * companies (the HubSpot emulator) ⇄ parties of a real trytond, run by a `hubspot` family
 * worker. HubSpot owns name and contact data; Tryton owns the VAT number and active; a company
 * archived in HubSpot archives its party.
 */

jest.setTimeout(300_000);

const TOKEN = 'pat-na1-tryton-pair-0000';
const PAIR = 'hubspot-tryton-parties';
const IN_HUBSPOT = 50;
const IN_TRYTON = 20;

let env: DevEnv;
let emulator: HubSpotEmulator;
let admin: TrytonClient;
let conn: TrytonConnector;
let sync: SyncWorkers;
/** Parties the test bed holds before the test seeds any (the company's, the employee's). */
let bedParties = 0;
/** Party ids of the seeded parties, by seed number. */
const seeded = new Map<number, number>();

const bed = useTrytonPairBed({
  family: 'hubspot',
  pair: PAIR,
  idPrefix: 'hubspot-tryton-pair',
  saas: async (devEnv) => {
    const hubspot = await startHubSpotEmulator({ token: TOKEN });
    return {
      emulator: hubspot,
      vars: {
        HUBSPOT_BASE_PATH: hubspot.baseUrl,
        HUBSPOT_ACCESS_TOKEN: TOKEN,
        HUBSPOT_GOVERNOR_DB: path.join(devEnv.tmp, 'hubspot-governor.db'),
        HUBSPOT_ACCOUNT: 'tryton-pair-portal',
      },
    };
  },
});
beforeAll(() => {
  ({ env, emulator, admin, conn, sync } = bed);
});

const syncPair = () => bed.syncPair();

type Company = { id: number; props: Record<string, string> };
function companies(archived = false): Company[] {
  const rows = emulator.store.db.prepare("SELECT id, props FROM objects WHERE type = 'companies' AND archived = ? ORDER BY id").all(archived ? 1 : 0) as {
    id: number;
    props: string;
  }[];
  return rows.map((r) => ({ id: r.id, props: JSON.parse(r.props) as Record<string, string> }));
}
const companyByErpKey = (key: string) => companies().find((c) => c.props.erp_customer_id === key);

const parties = () => bed.parties();
const partyByKey = (key: string) => bed.partyByKey(key);

/** Both sides through the pair's own mappings, by canonical external key. */
async function canonicalSides() {
  const records = companies().map((c) => ({ label: `company ${c.id}`, data: { ...c.props, hs_object_id: String(c.id) } }));
  const { saas, tryton } = await bed.canonicalSides('hubspot-company-to-tryton-party-pair', records, 'HS-');
  return { hubspot: saas, tryton };
}

test(`seeds ${IN_HUBSPOT} HubSpot companies and ${IN_TRYTON} Tryton parties, none in common`, async () => {
  bedParties = (await parties()).length;
  for (const [i, id] of await bed.seedParties(IN_TRYTON)) seeded.set(i, id);

  const at = Date.now() - 3600_000;
  emulator.store.transaction(() => {
    for (let i = 1; i <= IN_HUBSPOT; i++) {
      emulator.store.create(
        'companies',
        { name: `HubSpot Company ${i} Ltd`, domain: `hs${i}.example`, phone: '040 901820', address: `Harbour Road ${i}`, city: 'hamburg', zip: String(20000 + i), country: 'Germany' },
        at + i,
      );
    }
  });
  expect(await parties()).toHaveLength(bedParties + IN_TRYTON);
  expect(companies()).toHaveLength(IN_HUBSPOT);
});

test('three runs with no outside change: equal counts and records on both sides, nothing written after the first run', async () => {
  const inTryton = bedParties + IN_TRYTON;
  const first = await syncPair();
  const hs = first.totals.sides.hubspot!;
  const tr = first.totals.sides.tryton!;
  expect([hs.quarantined, tr.quarantined]).toEqual([0, 0]);
  expect([hs.created, tr.created]).toEqual([inTryton, IN_HUBSPOT]);
  expect([hs.updated, tr.updated, hs.archived, tr.archived]).toEqual([0, 0, 0, 0]);

  for (let round = 2; round <= 3; round++) {
    const again = await syncPair();
    const t = again.totals.sides;
    expect([round, writesOn(t.hubspot!), writesOn(t.tryton!), t.hubspot!.quarantined, t.tryton!.quarantined]).toEqual([round, 0, 0, 0, 0]);
  }
  const total = inTryton + IN_HUBSPOT;
  expect(companies()).toHaveLength(total);
  expect(await parties()).toHaveLength(total);

  const sides = await canonicalSides();
  expect(sides.hubspot.size).toBe(total);
  expect([...sides.tryton.keys()].sort()).toEqual([...sides.hubspot.keys()].sort());
  for (const [key, value] of sides.hubspot) expect([key, sides.tryton.get(key)]).toEqual([key, value]);
  // Identities as documented: a company from Tryton carries "TRY-<party id>", a party from HubSpot the code "CRM-HS-<id>".
  expect(companyByErpKey(`TRY-${seeded.get(7)}`)?.props).toMatchObject({ name: 'Tryton Party 7 GmbH', erp_vat_number: germanVat(7) });
  expect(await partyByKey('HS-7')).toMatchObject({ code: 'CRM-HS-7', name: 'HubSpot Company 7 Ltd', city: 'Hamburg', country: 'DE', phone: '+4940901820' });
});

test('edits on both sides flow: a HubSpot-owned field edited in HubSpot reaches Tryton, a Tryton-owned field edited in Tryton reaches HubSpot', async () => {
  const renamed = 11; // a HubSpot-born company
  const party = seeded.get(12)!; // a Tryton-born party
  emulator.store.update('companies', renamed, { name: 'Renamed In HubSpot Ltd', city: 'bremen' });
  const [current] = await admin.model<{ id: number; 'identifiers.': { id: number }[] }[]>('party.party', 'read', [[party], ['identifiers.code']], {});
  await admin.model('party.party', 'write', [[party], { identifiers: [['write', [current!['identifiers.'][0]!.id], { code: germanVat(912) }]] }], {});

  const r = await syncPair();
  expect(await partyByKey(`HS-${renamed}`)).toMatchObject({ name: 'Renamed In HubSpot Ltd', city: 'Bremen' });
  expect(companyByErpKey(`TRY-${party}`)!.props.erp_vat_number).toBe(germanVat(912));
  expect([r.totals.sides.tryton!.updated, r.totals.sides.hubspot!.updated, r.totals.conflicts]).toEqual([1, 1, 0]);

  const quiet = await syncPair();
  expect([writesOn(quiet.totals.sides.hubspot!), writesOn(quiet.totals.sides.tryton!)]).toEqual([0, 0]);
});

test('a Tryton-owned field (VAT number) edited in HubSpot is not written to Tryton; the result says so and HubSpot gets the Tryton value back', async () => {
  const party = seeded.get(5)!;
  const company = companyByErpKey(`TRY-${party}`)!;
  const before = await conn.read('parties', [String(party)]);
  emulator.store.update('companies', company.id, { erp_vat_number: germanVat(555) });

  const r = await syncPair();
  const after = await conn.read('parties', [String(party)]);
  expect(after[0]!.data.vat).toBe(germanVat(5));
  expect(after[0]!.data.write_date).toBe(before[0]!.data.write_date);
  expect(companyByErpKey(`TRY-${party}`)!.props.erp_vat_number).toBe(germanVat(5));
  expect([r.totals.sides.hubspot!.rejected, r.totals.sides.tryton!.updated, r.totals.sides.hubspot!.updated]).toEqual([1, 0, 1]);
  expect(r.notices).toContainEqual(expect.objectContaining({ kind: 'rejected', field: 'vatNumber', values: { hubspot: germanVat(555) }, resolution: 'tryton' }));
});

test('a company archived in HubSpot archives its party (delete policy "archive"); later runs write nothing', async () => {
  const id = 31;
  expect((await partyByKey(`HS-${id}`)).active).toBe(true);
  expect(emulator.store.archive('companies', id)).toBe(true);
  const total = bedParties + IN_TRYTON + IN_HUBSPOT;

  const r = await syncPair();
  expect((await partyByKey(`HS-${id}`)).active).toBe(false);
  expect(r.totals.sides.tryton!.archived).toBe(1);
  expect(companies(true).map((c) => c.id)).toEqual([id]);

  const quiet = await syncPair();
  expect([writesOn(quiet.totals.sides.hubspot!), writesOn(quiet.totals.sides.tryton!)]).toEqual([0, 0]);
  // Nothing was created for the archived company on either side; the party is kept, archived.
  expect(await parties()).toHaveLength(total);
  expect(companies()).toHaveLength(total - 1);
});

test('a party archived in Tryton sets erp_active = false on its company (the company stays); later runs write nothing', async () => {
  const party = seeded.get(3)!;
  await admin.model('party.party', 'write', [[party], { active: false }], {});

  const r = await syncPair();
  const hs = sync.registry.mappings.get('hubspot-company-to-tryton-party-pair')!;
  const company = companyByErpKey(`TRY-${party}`)!;
  expect(hs.apply({ ...company.props, hs_object_id: String(company.id) }, { keyPrefix: 'HS-' })).toMatchObject({ ok: true, value: { active: false } });
  expect([r.totals.sides.hubspot!.archived, r.totals.sides.tryton!.updated]).toEqual([1, 0]);

  const quiet = await syncPair();
  expect([writesOn(quiet.totals.sides.hubspot!), writesOn(quiet.totals.sides.tryton!)]).toEqual([0, 0]);
});

test('a party the one-way pipeline made (code CRM-HS-<id>) is linked to its older company, never created twice', async () => {
  const old = Date.now() - 2 * 3600_000;
  // Older than the HubSpot checkpoint: found from the Tryton side, by the company id in the party's key.
  const company = emulator.store.create('companies', { name: 'Older Company AG', country: 'Germany', city: 'kiel' }, old);
  await admin.model('party.party', 'create', [[{ name: 'Older Company AG', code: `CRM-HS-${company.id}` }]], {});
  const [partiesBefore, companiesBefore] = [(await parties()).length, companies().length];

  const r = await syncPair();
  expect(r.totals.linked).toBe(1);
  expect([r.totals.sides.hubspot!.created, r.totals.sides.tryton!.created]).toEqual([0, 0]);
  expect([(await parties()).length, companies().length]).toEqual([partiesBefore, companiesBefore]);
  // HubSpot owns the address: the party gets the company's city and country.
  expect(await partyByKey(`HS-${company.id}`)).toMatchObject({ city: 'Kiel', country: 'DE' });
  const sides = await canonicalSides();
  expect(sides.tryton.get(`HS-${company.id}`)).toEqual(sides.hubspot.get(`HS-${company.id}`));
});

test('reconcilePair reads both sides whole: no drift; a party deleted in Tryton is reported missing there', async () => {
  const reconcile = async (k: number) =>
    (await (await env.client.workflow.start('reconcilePair', { taskQueue: TASK_QUEUES.hubspot, workflowId: `hubspot-tryton-recon-${k}`, args: [{ pair: PAIR }] })).result()) as ReconcilePairResult;
  const clean = await reconcile(1);
  expect([clean.status, clean.drift, clean.counts.fieldDiffs, clean.counts.orphans, clean.counts.missing]).toEqual(['completed', 0, 0, { hubspot: 0, tryton: 0 }, { hubspot: 0, tryton: 0 }]);

  // A hard delete (as the Tryton admin: the connector user may not delete parties) is found only by reconciliation.
  const party = seeded.get(20)!;
  await admin.model('party.party', 'delete', [[party]], {});
  const r = await reconcile(2);
  expect([r.drift, r.counts.missing]).toEqual([1, { hubspot: 0, tryton: 1 }]);
  expect(r.summary).toContain('missing (hard deletes): hubspot 0, tryton 1');
});
