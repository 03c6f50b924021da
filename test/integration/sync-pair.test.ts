import Database from 'better-sqlite3';
import path from 'node:path';
import type { PairSideTotals, SyncPairResult } from '../../contracts/pair-sync';
import { TASK_QUEUES } from '../../contracts/queues';
import { demoPaths, seedDemo } from '../../demo/seed';
import type { SyncWorkers } from '../../workers/worker';
import { queryDb, syncWorkersFor } from '../helpers/demo-env';
import { startDevEnv, type DevEnv } from '../helpers/env';

/**
 * The shipped demo pair (config/pairs/demo-customers.json) on the real dev server: demo CRM
 * accounts ⇄ demo ERP customers, the CRM owning names and contact data, the ERP owning credit
 * limit, VAT number and active.
 */

jest.setTimeout(300_000);

const ACCOUNTS = 300;
let env: DevEnv;
let sync: SyncWorkers;
let running: Promise<void>;
let dir: string;
let n = 0;

beforeAll(async () => {
  env = await startDevEnv();
  dir = path.join(env.tmp, 'demo');
  seedDemo(dir, { accounts: ACCOUNTS, contacts: 0, products: 0 });
  sync = await syncWorkersFor(env, dir, ['sql']);
  running = sync.run();
});

afterAll(async () => {
  sync?.shutdown();
  await running;
  await env?.teardown();
});

async function syncPair(): Promise<SyncPairResult> {
  const handle = await env.client.workflow.start('syncPair', {
    taskQueue: TASK_QUEUES.sql,
    workflowId: `pair-${++n}`,
    args: [{ pair: 'demo-customers', pageSize: 100 }],
  });
  const result = (await handle.result()) as SyncPairResult;
  expect(result.status).toBe('completed');
  return result;
}

const writesOn = (t: PairSideTotals) => t.created + t.updated + t.archived + t.deleted;
/** Edit the demo databases the way a person would: a field and the row's modified time. */
function edit(db: 'crm' | 'erp', sql: string, ...params: unknown[]): void {
  const file = demoPaths(dir)[db];
  const conn = new Database(file);
  try {
    const res = conn.prepare(sql).run(...params);
    expect(res.changes).toBe(1);
  } finally {
    conn.close();
  }
}
const later = () => new Date(Date.now() + 1000).toISOString();
type Erp = { external_key: string; name: string; vat_number: string | null; credit_limit_minor: number | null; active: number };
const erpOf = (accountId: number) =>
  queryDb<Erp>(demoPaths(dir).erp, 'SELECT external_key, name, vat_number, credit_limit_minor, active FROM customers WHERE external_key = ?', String(accountId))[0];
type Crm = { id: number; company_name: string; vat_id: string | null; credit_limit: string | null };
const crmOf = (id: number) => queryDb<Crm>(demoPaths(dir).crm, 'SELECT id, company_name, vat_id, credit_limit FROM accounts WHERE id = ?', id)[0]!;

/** A CRM account that mapped cleanly (so it has an ERP customer), by position. */
function linkedAccount(nth: number): number {
  const ids = queryDb<{ k: string }>(demoPaths(dir).erp, 'SELECT external_key k FROM customers ORDER BY id').map((r) => Number(r.k));
  return ids[nth]!;
}

test('the first run creates an ERP customer for every valid, active CRM account; four more runs write nothing on either side', async () => {
  // What the CRM holds, through the pair's own CRM mapping.
  const mapping = sync.registry.mappings.get('crm-account-to-customer')!;
  const mapped = queryDb<Record<string, unknown>>(demoPaths(dir).crm, 'SELECT * FROM accounts').map((r) => mapping.apply(r));
  const valid = mapped.filter((m) => m.ok);
  const archived = valid.filter((m) => m.ok && m.value.active === false).length;
  expect(ACCOUNTS - valid.length).toBeGreaterThan(0); // the seed's defects: a missing name, a bad phone, an unknown country
  expect(archived).toBeGreaterThan(0); // churned accounts: archived in the CRM, never created in the ERP

  const first = await syncPair();
  const crm = first.totals.sides.crm!;
  const erp = first.totals.sides.erp!;
  expect(crm.read).toBe(ACCOUNTS);
  expect(crm.quarantined).toBe(ACCOUNTS - valid.length);
  expect(erp.created).toBe(valid.length - archived);
  // Field by field, every ERP customer reads back (through the ERP side's mapping) as its CRM account.
  const erpMapping = sync.registry.mappings.get('erp-customer-to-customer')!;
  const erpRows = queryDb<Record<string, unknown>>(demoPaths(dir).erp, 'SELECT * FROM customers');
  const byKey = new Map(erpRows.map((r) => [String(r.external_key), erpMapping.apply(r)]));
  let compared = 0;
  for (const m of valid) {
    if (!m.ok || m.value.active === false) continue;
    expect(byKey.get(String(m.value.externalKey))).toEqual(m);
    compared++;
  }
  expect(compared).toBe(erpRows.length);
  expect(queryDb<{ c: number }>(demoPaths(dir).erp, 'SELECT count(*) c FROM customers')[0]!.c).toBe(erp.created);
  // our own writes into the ERP came back in the ERP's phase as echoes of the link, not as changes
  expect(writesOn(crm)).toBe(0);

  for (let round = 2; round <= 5; round++) {
    const again = await syncPair();
    expect([round, writesOn(again.totals.sides.crm!), writesOn(again.totals.sides.erp!)]).toEqual([round, 0, 0]);
  }
  expect(queryDb<{ c: number }>(demoPaths(dir).erp, 'SELECT count(*) c FROM customers')[0]!.c).toBe(erp.created);
});

test('edits of different fields on both sides between two runs reach both sides; nothing else is written', async () => {
  const a = linkedAccount(3);
  const b = linkedAccount(4);
  edit('crm', 'UPDATE accounts SET company_name = ?, updated_at = ? WHERE id = ?', 'Renamed In CRM GmbH', later(), a);
  edit('erp', 'UPDATE customers SET credit_limit_minor = ?, credit_currency = ?, updated_at = ? WHERE external_key = ?', 777_700, 'EUR', later(), String(b));

  const erpNameBefore = erpOf(a)!.name;
  const crmLimitBefore = crmOf(b).credit_limit;
  const r = await syncPair();
  expect(erpOf(a)!.name).toBe('Renamed In CRM GmbH');
  expect(crmOf(b).credit_limit).toBe('7777.00');
  // Before/after samples of both patches in the run events, as one-way syncs have them.
  const changes = (await sync.store.listRunEvents(r.syncId)).filter((e) => e.kind === 'change').map((e) => e.data);
  const erpKeyOfA = (await sync.store.findLinks('demo-customers', 'crm', [String(a)])).get(String(a))!.keys.erp;
  expect(changes).toEqual(
    expect.arrayContaining([
      { sourceKey: erpKeyOfA, side: 'erp', op: 'update', fields: [{ field: 'name', before: erpNameBefore, after: 'Renamed In CRM GmbH' }] },
      { sourceKey: String(b), side: 'crm', op: 'update', fields: [{ field: 'creditLimit.amountMinor', before: Math.round(Number(crmLimitBefore) * 100), after: 777_700, currency: expect.any(String) }] },
    ]),
  );
  expect(changes).toHaveLength(2);
  expect(r.totals.sides.erp!.updated).toBe(1);
  expect(r.totals.sides.crm!.updated).toBe(1);
  expect(r.totals.conflicts).toBe(0);

  const quiet = await syncPair();
  expect([writesOn(quiet.totals.sides.crm!), writesOn(quiet.totals.sides.erp!)]).toEqual([0, 0]);
});

test('an ERP-owned field edited in the CRM is not written to the ERP; the ERP value is restored and the result says so', async () => {
  const a = linkedAccount(5);
  const erpVat = erpOf(a)!.vat_number;
  edit('crm', 'UPDATE accounts SET vat_id = ?, updated_at = ? WHERE id = ?', 'XX999', later(), a);

  const r = await syncPair();
  expect(erpOf(a)!.vat_number).toBe(erpVat);
  expect(crmOf(a).vat_id).toBe(erpVat);
  expect(r.totals.sides.crm!.rejected).toBe(1);
  expect(r.totals.sides.erp!.updated).toBe(0);
  expect(r.notices).toContainEqual(expect.objectContaining({ kind: 'rejected', field: 'vatNumber', resolution: 'erp', values: { crm: 'XX999' } }));
});

test('the same field changed on both sides is a conflict settled by its owner', async () => {
  const a = linkedAccount(6);
  edit('crm', 'UPDATE accounts SET company_name = ?, updated_at = ? WHERE id = ?', 'CRM Wins AG', later(), a);
  edit('erp', 'UPDATE customers SET name = ?, updated_at = ? WHERE external_key = ?', 'ERP Loses AG', later(), String(a));

  const r = await syncPair();
  expect(erpOf(a)!.name).toBe('CRM Wins AG');
  expect(crmOf(a).company_name).toBe('CRM Wins AG');
  expect(r.totals.conflicts).toBe(1);
  expect(r.notices).toContainEqual(
    expect.objectContaining({ kind: 'conflict', field: 'name', policy: 'owner-wins', resolution: 'crm', values: { crm: 'CRM Wins AG', erp: 'ERP Loses AG' } }),
  );
});

test('an account archived in the CRM is archived in the ERP, and un-archived again', async () => {
  const a = linkedAccount(8);
  expect(erpOf(a)!.active).toBe(1);
  edit('crm', "UPDATE accounts SET status = 'churned', updated_at = ? WHERE id = ?", later(), a);
  const archived = await syncPair();
  expect(erpOf(a)!.active).toBe(0);
  expect(archived.totals.sides.erp!.archived).toBe(1);

  edit('crm', "UPDATE accounts SET status = 'active', updated_at = ? WHERE id = ?", later(), a);
  await syncPair();
  expect(erpOf(a)!.active).toBe(1);
});
