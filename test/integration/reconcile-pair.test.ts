import type { WorkflowHandle } from '@temporalio/client';
import Database from 'better-sqlite3';
import { approveUpdate, pendingApprovalQuery } from '../../contracts/approval';
import { TASK_QUEUES } from '../../contracts/queues';
import { reconcileProgressQuery, type DriftItem, type ReconcilePairResult, type ReconcileReport } from '../../contracts/reconcile';
import { SA_STATUS } from '../../contracts/search-attributes';
import type { SyncPairResult } from '../../contracts/pair-sync';
import { demoPaths } from '../../demo/seed';
import type { SyncWorkers } from '../../workers/worker';
import { queryDb } from '../helpers/demo-env';
import { startDemoPairEnv, type DemoPairEnv } from '../helpers/demo-pair-env';
import type { DevEnv } from '../helpers/env';

/**
 * reconcilePair on the real dev server over the shipped demo pair (config/pairs/demo-customers.json,
 * here with approvers added to its limits): ~1,100 linked CRM accounts ⇄ ERP customers, drift
 * injected behind the sync's back (no updated_at change), reported exactly, repaired, then a
 * mass hard delete that waits for approval.
 */

jest.setTimeout(300_000);

const ACCOUNTS = 1500;
const PAIR = 'demo-customers';
let setup: DemoPairEnv;
let env: DevEnv;
let sync: SyncWorkers;
let dir: string;
let n = 0;

beforeAll(async () => {
  // The shipped config, with approvers for the pair's gated plans.
  setup = await startDemoPairEnv({
    accounts: ACCOUNTS,
    pair: PAIR,
    edit: (pair) => (pair.limits.approval = { approvers: ['ops-lead'], timeout: '2 days', onTimeout: { action: 'reject' } }),
  });
  ({ env, sync, dir } = setup);
  const first = await env.client.workflow.execute('syncPair', { taskQueue: TASK_QUEUES.sql, workflowId: 'initial-sync', args: [{ pair: PAIR, pageSize: 500 }] });
  expect((first as SyncPairResult).totals.sides.erp!.created).toBeGreaterThan(1000);
});

afterAll(() => setup?.stop());

function start(input: Record<string, unknown>): Promise<WorkflowHandle> {
  return env.client.workflow.start('reconcilePair', { taskQueue: TASK_QUEUES.sql, workflowId: `reconcile-${++n}`, args: [{ pair: PAIR, pageSize: 250, ...input }] });
}
async function reconcile(input: Record<string, unknown> = {}): Promise<ReconcilePairResult> {
  return (await (await start(input)).result()) as ReconcilePairResult;
}
const report = (r: ReconcilePairResult) => sync.store.loadPage<ReconcileReport>(r.reportId);

/** Change the demo databases behind the sync's back: updated_at is left alone. */
function run(db: 'crm' | 'erp', sql: string, ...params: unknown[]): void {
  const conn = new Database(demoPaths(dir)[db]);
  try {
    expect(conn.prepare(sql).run(...params).changes).toBe(1);
  } finally {
    conn.close();
  }
}
/** Linked, active pairs that a sync created from the CRM, by position: [CRM account id, ERP customer id]. */
function linkedPairs(): [number, number][] {
  return queryDb<{ k: string; id: number }>(demoPaths(dir).erp, "SELECT external_key k, id FROM customers WHERE active = 1 AND external_key NOT GLOB '*[^0-9]*' ORDER BY id").map((r) => [Number(r.k), r.id]);
}
async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

let pairs: [number, number][];
const edited: { crmName: [number, number][]; erpCredit: [number, number][]; erpGone: [number, number][]; crmGone: [number, number][] } = { crmName: [], erpCredit: [], erpGone: [], crmGone: [] };
let erpOrphans: number[] = [];
let crmOrphan = 0;
let drifted: ReconcilePairResult;

test('a clean pair after a sync reports no drift, over several runs (continue-as-new)', async () => {
  const r = await reconcile({ pagesPerRun: 3 });
  expect(r.status).toBe('completed');
  expect(r.runs).toBeGreaterThan(1);
  expect(r.counts.read.crm).toBe(ACCOUNTS);
  expect(r.counts.compared).toBe(linkedPairs().length);
  expect(r.drift).toBe(0);
  expect(r.summary).toContain('missing (hard deletes): crm 0, erp 0');
});

test('(a) 1% injected drift (field edits without updated_at, rows deleted and inserted on one side) is reported exactly', async () => {
  pairs = linkedPairs();
  const total = pairs.length;
  edited.crmName = pairs.slice(0, 4);
  edited.erpCredit = pairs.slice(10, 13);
  edited.erpGone = pairs.slice(20, 22);
  edited.crmGone = pairs.slice(30, 31);
  for (const [crm] of edited.crmName) run('crm', "UPDATE accounts SET company_name = 'Drifted ' || id || ' KG' WHERE id = ?", crm);
  for (const [, erp] of edited.erpCredit) run('erp', "UPDATE customers SET credit_limit_minor = 4242, credit_currency = 'EUR' WHERE id = ?", erp);
  for (const [, erp] of edited.erpGone) run('erp', 'DELETE FROM customers WHERE id = ?', erp);
  for (const [crm] of edited.crmGone) run('crm', 'DELETE FROM accounts WHERE id = ?', crm);
  const now = '2026-01-01T00:00:00.000Z';
  for (const i of [1, 2]) {
    run('erp', "INSERT INTO customers (external_key, name, country_code, segment, active, updated_at) VALUES (?, ?, 'DE', 'smb', 1, ?)", `ERP-ONLY-${i}`, `Only In ERP ${i} GmbH`, now);
  }
  erpOrphans = queryDb<{ id: number }>(demoPaths(dir).erp, "SELECT id FROM customers WHERE external_key LIKE 'ERP-ONLY-%' ORDER BY id").map((r) => r.id);
  crmOrphan = 90_001;
  run('crm', "INSERT INTO accounts (id, company_name, country, tier, status, updated_at) VALUES (?, 'Only In CRM AG', 'Germany', 'SMB', 'active', ?)", crmOrphan, now);
  const injected = 4 + 3 + 2 + 1 + 2 + 1;
  expect(injected / total).toBeGreaterThan(0.009);
  expect(injected / total).toBeLessThan(0.013);

  const r = await reconcile();
  drifted = r;
  expect(r.status).toBe('completed');
  expect(r.counts).toMatchObject({
    missing: { crm: 1, erp: 2 },
    orphans: { crm: 1, erp: 2 },
    fieldDiffs: 7,
    recordsWithDiffs: 7,
    duplicates: { crm: 0, erp: 0 },
    linkedByMatch: 0,
    matchedWithDiffs: 0,
    ambiguous: 0,
  });
  expect(r.drift).toBe(injected);
  expect(r.counts.compared).toBe(total - 3); // pairs still present on both sides (one CRM deletion, two ERP deletions)

  const doc = await report(r);
  // Each field difference: the link's keys, the unit, the side that moved and its value there.
  const project = (i: DriftItem) => ({ keys: i.keys, field: i.field, changedOn: i.changedOn, value: i.values?.[i.changedOn![0]!] });
  const byKeys = (a: { keys: Record<string, string> }, b: { keys: Record<string, string> }) => JSON.stringify(a.keys).localeCompare(JSON.stringify(b.keys));
  expect(doc.items.field.map(project).sort(byKeys)).toEqual(
    [
      ...edited.crmName.map(([crm, erp]) => ({ keys: { crm: String(crm), erp: String(erp) }, field: 'name', changedOn: ['crm'], value: `Drifted ${crm} KG` })),
      ...edited.erpCredit.map(([crm, erp]) => ({ keys: { crm: String(crm), erp: String(erp) }, field: 'creditLimit', changedOn: ['erp'], value: { amountMinor: 4242, currency: 'EUR' } })),
    ].sort(byKeys),
  );
  const keysOf = (items: DriftItem[]) => items.map((i) => `${i.side}|${JSON.stringify(i.keys)}`).sort();
  expect(keysOf(doc.items.missing)).toEqual(
    [...edited.erpGone.map(([crm, erp]) => `erp|{"crm":"${crm}","erp":"${erp}"}`), ...edited.crmGone.map(([crm, erp]) => `crm|{"crm":"${crm}","erp":"${erp}"}`)].sort(),
  );
  expect(keysOf(doc.items.orphan)).toEqual([`crm|{"crm":"${crmOrphan}"}`, ...erpOrphans.map((e) => `erp|{"erp":"${e}"}`)].sort());
  expect(r.summary).toContain('missing (hard deletes): crm 1, erp 2');
  expect(r.summary).toContain(`crm:${crmOrphan}: only on crm, no link and no match`);
  expect(r.summary).toContain(`Drifted ${edited.crmName[0]![0]} KG`);
});

test('(a2) the same drift over many short runs (small pages, continue-as-new every 2 pages): the orphans and items of early runs are kept', async () => {
  // The orphans sit on the first page of each side (updated_at 2026-01-01), many runs before the
  // matching step: continuing as new must not drop what earlier runs found.
  const r = await reconcile({ pageSize: 50, pagesPerRun: 2 });
  expect(r.status).toBe('completed');
  expect(r.runs).toBeGreaterThan(10);
  expect(r.counts).toEqual(drifted.counts);
  expect(r.counts.orphans).toEqual({ crm: 1, erp: 2 });
  expect(r.drift).toBe(drifted.drift);
  const [one, many] = await Promise.all([report(drifted), report(r)]);
  const keysOf = (items: DriftItem[]) => items.map((i) => `${i.side ?? ''}|${JSON.stringify(i.keys)}|${i.field ?? ''}`).sort();
  for (const c of Object.keys(one.items) as (keyof ReconcileReport['items'])[]) expect([c, keysOf(many.items[c])]).toEqual([c, keysOf(one.items[c])]);
  expect(many.items.orphan).toHaveLength(3);
  expect(many.items.field).toHaveLength(7);
  // One run report for the whole reconciliation, completed (never a "failed" one per continue-as-new).
  expect((await sync.store.getRunReport(r.reconId))?.status).toBe('completed');
});

test('(b) repair: true fixes the drift through the planner under the pair policy; a second reconciliation reports none', async () => {
  const r = await reconcile({ repair: true });
  expect(r.status).toBe('completed');
  expect(r.gated).toEqual([]);
  expect(r.repaired).toMatchObject({
    created: { crm: 2, erp: 1 },
    updated: { crm: 3 + 2, erp: 4 + 1 }, // field repairs, plus the archives of the survivors of hard deletes
    archived: { crm: 2, erp: 1 },
  });
  const erp = (id: number) => queryDb<{ name: string; active: number }>(demoPaths(dir).erp, 'SELECT name, active FROM customers WHERE id = ?', id)[0]!;
  const crm = (id: number) => queryDb<{ company_name: string; credit_limit: string | null; status: string }>(demoPaths(dir).crm, 'SELECT * FROM accounts WHERE id = ?', id)[0]!;
  for (const [c, e] of edited.crmName) expect(erp(e).name).toBe(`Drifted ${c} KG`); // the CRM owns names
  for (const [c] of edited.erpCredit) expect(crm(c).credit_limit).toBe('42.42'); // the ERP owns credit limits
  for (const [c] of edited.erpGone) expect(crm(c).status).toBe('churned'); // delete policy: archive
  for (const [, e] of edited.crmGone) expect(erp(e).active).toBe(0);
  expect(queryDb(demoPaths(dir).erp, "SELECT id FROM customers WHERE name = 'Only In CRM AG'")).toHaveLength(1);
  expect(queryDb(demoPaths(dir).crm, "SELECT id FROM accounts WHERE company_name LIKE 'Only In ERP % GmbH'")).toHaveLength(2);

  const again = await reconcile();
  expect([again.drift, again.summary]).toEqual([0, expect.any(String)]);
});

test('(c) a hard delete of 30% of a side is propagated per delete policy only after approval', async () => {
  const victims = linkedPairs().filter((_, i) => i % 10 < 3);
  const conn = new Database(demoPaths(dir).erp);
  conn.transaction(() => {
    for (const [, e] of victims) conn.prepare('DELETE FROM customers WHERE id = ?').run(e);
  })();
  conn.close();

  const h = await start({ repair: true });
  await until('the repair to wait for approval', async () => ((await h.query(reconcileProgressQuery)).status === 'awaiting-approval' ? true : undefined));
  await until('SyncStatus=awaiting-approval', async () => ((await h.describe()).typedSearchAttributes.get(SA_STATUS) === 'awaiting-approval' ? true : undefined));
  // Nothing is archived while the plan waits.
  const archived = () => queryDb<{ c: number }>(demoPaths(dir).crm, `SELECT count(*) c FROM accounts WHERE status = 'churned' AND id IN (${victims.map(([c]) => c).join(',')})`)[0]!.c;
  expect(archived()).toBe(0);
  const pending = (await h.query(pendingApprovalQuery)).pending!;
  expect(pending.reasons.join('; ')).toMatch(new RegExp(`${victims.length} of \\d+ records deleted or archived on crm`));
  await h.executeUpdate(approveUpdate, { args: [{ approver: 'ops-lead', planHash: pending.planHash, comment: 'ERP cleanup' }] });
  const r = (await h.result()) as ReconcilePairResult;
  expect(r.status).toBe('completed');
  expect(r.counts.missing).toEqual({ crm: 0, erp: victims.length });
  expect(r.repaired!.archived.crm).toBe(victims.length);
  expect(r.approvals).toEqual([expect.objectContaining({ decision: 'approve', approver: 'ops-lead', accepted: true })]);
  expect(archived()).toBe(victims.length);
  expect((await reconcile()).drift).toBe(0);
});
