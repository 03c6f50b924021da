import path from 'node:path';
import type { TrytonClient } from '../../connectors/tryton/client';
import { startSalesforceEmulator, type SalesforceEmulator } from '../../emulators/salesforce';
import { SOBJECTS } from '../../emulators/salesforce/schema';
import { untilSettled } from '../helpers/salesforce-settle';
import { useTrytonPairBed, writesOn } from '../helpers/tryton-pair-env';
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

let emulator: SalesforceEmulator;
let admin: TrytonClient;
let bedParties = 0;
const seeded = new Map<number, number>();
const sfIds: string[] = [];

const bed = useTrytonPairBed({
  family: 'salesforce',
  pair: PAIR,
  idPrefix: 'sf-tryton-pair',
  saas: async (devEnv) => {
    const salesforce = await startSalesforceEmulator({ token: TOKEN, dbPath: path.join(devEnv.tmp, 'salesforce.db') });
    return {
      emulator: salesforce,
      vars: {
        SALESFORCE_INSTANCE_URL: salesforce.baseUrl,
        SALESFORCE_ACCESS_TOKEN: TOKEN,
        SALESFORCE_GOVERNOR_DB: path.join(devEnv.tmp, 'salesforce-governor.db'),
        SALESFORCE_ACCOUNT: 'tryton-pair-org',
      },
    };
  },
  beforeRun: untilSettled, // the connector reads only SystemModstamp seconds that are over
});
beforeAll(() => {
  ({ emulator, admin } = bed);
});

const syncPair = () => bed.syncPair();
const accounts = () => emulator.store.all('Account');
const accountByErpKey = (key: string) => accounts().find((a) => a.data.ERP_Id__c === key);

const parties = () => bed.parties();
const partyByKey = (key: string) => bed.partyByKey(key);

/** Both sides through the pair's own mappings, by canonical external key. */
async function canonicalSides() {
  const records = accounts().map((a) => ({ label: `account ${a.id}`, data: { ...a.data, Id: a.id } }));
  const { saas, tryton } = await bed.canonicalSides('salesforce-account-to-tryton-party-pair', records, 'SF-');
  return { salesforce: saas, tryton };
}

test(`seeds ${IN_SF} Salesforce accounts and ${IN_TRYTON} Tryton parties, none in common`, async () => {
  bedParties = (await parties()).length;
  for (const [i, id] of await bed.seedParties(IN_TRYTON)) seeded.set(i, id);
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
