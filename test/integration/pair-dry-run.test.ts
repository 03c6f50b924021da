/**
 * Dry run → apply for a two-way pair (issue 11, item 2) on the real dev server, with the shipped
 * demo pair (config/pairs/demo-customers.json: demo CRM accounts ⇄ demo ERP customers, the CRM
 * owning names, the ERP owning credit limits): edits on both sides of linked records are listed by
 * the dry run with their direction and before/after, and nothing is written (both databases, both
 * checkpoints, links, write ledger and quarantine compared); apply writes exactly them; a record
 * changed on its target between plan and apply is reported, not overwritten; the next syncPair
 * after apply writes nothing (no echo).
 */
import Database from 'better-sqlite3';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import type { ApplyPlanResult } from '../../contracts/plan';
import { pairCheckpoint, type PairSideTotals, type SyncPairResult } from '../../contracts/pair-sync';
import { TASK_QUEUES } from '../../contracts/queues';
import { demoPaths } from '../../demo/seed';
import type { SyncWorkers } from '../../workers/worker';
import { runCli, type CliDeps } from '../../cli/program';
import { parseWorkerEnv } from '../../workers/config';
import { queryDb, startDemoWorkers, type RunningDemo } from '../helpers/demo-env';
import { ROOT, type DevEnv } from '../helpers/env';

jest.setTimeout(300_000);

const PAIR = 'demo-customers';
let demo: RunningDemo;
let env: DevEnv;
let sync: SyncWorkers;
let dir: string;
let n = 0;

beforeAll(async () => {
  demo = await startDemoWorkers({ accounts: 200, contacts: 0, products: 0 });
  ({ env, sync, dir } = demo);
});

afterAll(() => demo?.stop());

const syncPair = (extra: Record<string, unknown> = {}): Promise<SyncPairResult> =>
  env.client.workflow.execute('syncPair', { taskQueue: TASK_QUEUES.sql, workflowId: `pair-dry-${++n}`, args: [{ pair: PAIR, pageSize: 50, ...extra }] });
const applyPairPlan = (input: Record<string, unknown>): Promise<ApplyPlanResult> =>
  env.client.workflow.execute('applyPairPlan', { taskQueue: TASK_QUEUES.sql, workflowId: `pair-apply-${++n}`, args: [input] });
const writesOn = (t: PairSideTotals) => t.created + t.updated + t.archived + t.deleted;

function edit(db: 'crm' | 'erp', sql: string, ...params: unknown[]): void {
  const conn = new Database(demoPaths(dir)[db]);
  try {
    expect(conn.prepare(sql).run(...params).changes).toBe(1);
  } finally {
    conn.close();
  }
}
const later = () => new Date(Date.now() + 1000).toISOString();
const crmRows = () => queryDb<Record<string, unknown>>(demoPaths(dir).crm, 'SELECT * FROM accounts ORDER BY id');
const erpRows = () => queryDb<Record<string, unknown>>(demoPaths(dir).erp, 'SELECT * FROM customers ORDER BY id');
const erpOf = (accountId: number) => erpRows().find((r) => r.external_key === String(accountId))!;
const crmOf = (accountId: number) => crmRows().find((r) => r.id === accountId)!;
/** A CRM account linked to an ERP customer, by position. */
const linkedAccount = (nth: number): number => Number(erpRows()[nth]!.external_key);

/** Everything a sync could move: both databases, both checkpoints, links, write ledger, quarantine. */
async function everything() {
  const links = await sync.store.listLinks(PAIR, { limit: 100_000 });
  const ledger = await sync.store.getLedger(links.map((l) => l.linkId));
  return {
    crm: crmRows(),
    erp: erpRows(),
    checkpoints: [await sync.store.getCheckpoint(pairCheckpoint(PAIR, 'crm')), await sync.store.getCheckpoint(pairCheckpoint(PAIR, 'erp'))],
    links,
    ledger: [...ledger.entries()].sort(([a], [b]) => a.localeCompare(b)),
    quarantine: await sync.store.listQuarantine(PAIR, 10_000),
  };
}

/** The message of the activity failure that failed a workflow. */
async function rootCause(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(WorkflowFailedError);
    let root = err as Error;
    while (root.cause instanceof Error) root = root.cause;
    return root.message;
  }
  throw new Error('expected the workflow to fail');
}

type Change = { side: string; field: string; before: unknown; after: unknown };
const changesOf = (data: Record<string, unknown>) => data.changes as Change[];

test('a dry run lists exactly the edits of both sides with before/after and writes nothing; apply writes exactly them; the next sync writes nothing', async () => {
  const first = await syncPair();
  expect(first.totals.sides.erp!.created).toBeGreaterThan(100);
  const settle = await syncPair();
  expect([writesOn(settle.totals.sides.crm!), writesOn(settle.totals.sides.erp!)]).toEqual([0, 0]);

  const a = linkedAccount(3);
  const b = linkedAccount(4);
  const erpNameBefore = erpOf(a).name;
  const crmLimitBefore = crmOf(b).credit_limit;
  edit('crm', 'UPDATE accounts SET company_name = ?, updated_at = ? WHERE id = ?', 'Planned Rename GmbH', later(), a);
  edit('erp', 'UPDATE customers SET credit_limit_minor = ?, credit_currency = ?, updated_at = ? WHERE external_key = ?', 555_500, 'EUR', later(), String(b));
  const erpKeyOfB = String(erpOf(b).id);
  const before = await everything();

  // ── the dry run ──
  const dry = await syncPair({ mode: 'dry-run' });
  expect(dry).toMatchObject({ status: 'completed', mode: 'dry-run' });
  expect(dry.plan).toMatchObject({ kind: 'pair', name: PAIR, counts: { creates: 0, updates: 2, deletes: 0, conflicts: 0 }, approvalReasons: [] });
  expect([writesOn(dry.totals.sides.crm!), writesOn(dry.totals.sides.erp!)]).toEqual([0, 0]);
  const { planId, planHash } = dry.plan!;
  expect(planId).toMatch(/^plan-[0-9a-f]{16}$/);
  // Nothing moved: both systems row by row, both checkpoints, links, write ledger, quarantine.
  expect(await everything()).toEqual(before);

  const items = await sync.store.listPlanItems(planId, { limit: 1000 });
  expect(items.map((i) => [i.key, i.op, i.data.directions]).sort()).toEqual([
    [`crm:${a}`, 'update', ['crm->erp']],
    [`erp:${erpKeyOfB}`, 'update', ['erp->crm']],
  ]);
  expect(changesOf(items.find((i) => i.key === `crm:${a}`)!.data)).toEqual([{ side: 'crm->erp', field: 'name', before: erpNameBefore, after: 'Planned Rename GmbH' }]);
  const bChanges = changesOf(items.find((i) => i.key === `erp:${erpKeyOfB}`)!.data);
  expect(bChanges).toContainEqual({ side: 'erp->crm', field: 'creditLimit.amountMinor', before: Math.round(Number(crmLimitBefore) * 100), after: 555_500 });
  // The currency too, where the account's was not EUR.
  expect(bChanges.filter((x) => x.field !== 'creditLimit.amountMinor')).toEqual(
    crmOf(b).currency === 'EUR' ? [] : [{ side: 'erp->crm', field: 'creditLimit.currency', before: crmOf(b).currency ?? null, after: 'EUR' }],
  );
  expect(await sync.store.getPlan(planId)).toMatchObject({ kind: 'pair', status: 'ready', planHash });

  // ── apply: a wrong hash is refused; the plan is written exactly ──
  expect(await rootCause(applyPairPlan({ planId, planHash: '0000000000000000' }))).toContain('it is not the plan you reviewed');
  expect(await everything()).toEqual(before);
  const applied = await applyPairPlan({ planId, planHash });
  expect(applied).toMatchObject({ status: 'applied', planId, planHash, checkpoint: 'kept', changedMeanwhile: [] });
  expect(applied.totals).toEqual({ written: 2, created: 0, updated: 2, alreadyApplied: 0, changedMeanwhile: 0, quarantined: 0 });
  expect(erpOf(a).name).toBe('Planned Rename GmbH');
  expect(crmOf(b).credit_limit).toBe('5555.00');
  // Nothing else on either side.
  const strip = (rows: Record<string, unknown>[], key: string, id: unknown, ...cols: string[]) =>
    rows.map((r) => (r[key] === id ? { ...r, ...Object.fromEntries([...cols, 'updated_at'].map((c) => [c, null])) } : r));
  expect(strip(erpRows(), 'external_key', String(a), 'name')).toEqual(strip(before.erp, 'external_key', String(a), 'name'));
  expect(strip(crmRows(), 'id', b, 'credit_limit', 'currency')).toEqual(strip(before.crm, 'id', b, 'credit_limit', 'currency'));
  // The links and the write ledger hold the writes, as after a sync.
  const linkA = (await sync.store.findLinks(PAIR, 'crm', [String(a)])).get(String(a))!;
  expect(linkA.fields.name?.value).toBe('Planned Rename GmbH');
  expect((await sync.store.getLedger([linkA.linkId])).get(linkA.linkId)?.erp?.name).toBeDefined();
  const events = await sync.store.listRunEvents(applied.applyId);
  expect(events.filter((e) => e.kind === 'change').map((e) => e.data.sourceKey).sort()).toEqual([`crm:${a}`, `erp:${erpKeyOfB}`]);

  // A plan is applied once.
  expect(await rootCause(applyPairPlan({ planId }))).toContain('already applied');

  // ── the next sync reads the applied values back and writes nothing on either side ──
  const next = await syncPair();
  expect([writesOn(next.totals.sides.crm!), writesOn(next.totals.sides.erp!)]).toEqual([0, 0]);
  expect(next.totals.conflicts).toBe(0);
  expect(next.totals.sides.crm!.read + next.totals.sides.erp!.read).toBeGreaterThan(0);
});

test('a record changed on its target between plan and apply is reported, not overwritten; the rest is applied', async () => {
  const a = linkedAccount(10);
  const c = linkedAccount(11);
  edit('crm', 'UPDATE accounts SET company_name = ?, updated_at = ? WHERE id = ?', 'Applied Rename AG', later(), a);
  edit('crm', 'UPDATE accounts SET company_name = ?, updated_at = ? WHERE id = ?', 'Stale Rename AG', later(), c);
  const dry = await syncPair({ mode: 'dry-run' });
  expect(dry.plan!.counts).toEqual({ creates: 0, updates: 2, deletes: 0, conflicts: 0, quarantined: 0 });

  // Between plan and apply a person edits c's ERP customer (the target of c's planned write).
  edit('erp', 'UPDATE customers SET website = ?, updated_at = ? WHERE external_key = ?', 'https://edited-after-plan.example', later(), String(c));
  const erpBefore = erpRows();
  const applied = await applyPairPlan({ planId: dry.plan!.planId });
  expect(applied.totals).toMatchObject({ written: 1, updated: 1, changedMeanwhile: 1 });
  expect(applied.changedMeanwhile).toEqual([`crm:${c}`]);
  expect(erpOf(a).name).toBe('Applied Rename AG');
  expect(erpOf(c)).toEqual(erpBefore.find((r) => r.external_key === String(c))); // not overwritten
  const conflicts = (await sync.store.listRunEvents(applied.applyId)).filter((e) => e.kind === 'conflict');
  expect(conflicts).toHaveLength(1);
  expect(conflicts[0]!.data).toMatchObject({ keys: { crm: String(c) }, sides: ['erp'] });
  // c's link was not moved: the next sync plans it against both sides as they are now.
  expect((await sync.store.findLinks(PAIR, 'crm', [String(c)])).get(String(c))!.fields.name?.value).not.toBe('Stale Rename AG');
});

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const deps: CliDeps = {
    env: parseWorkerEnv({ DEMO_DATA_DIR: dir, TEMPORAL_ADDRESS: env.server.address, SYNC_CONFIG_DIR: path.join(ROOT, 'config') }),
    stdout: (t) => (out += t),
    stderr: (t) => (err += t),
    client: async () => env.client,
    store: () => sync.store,
    user: 'test-operator',
  };
  const code = await runCli(argv, deps);
  return { code, out, err };
}

test('CLI: plan <pair> prints the plan (key, side, operation, field, before -> after); apply <planId> writes it; exit codes', async () => {
  await syncPair(); // settle what the tests above left
  const a = linkedAccount(20);
  const b = linkedAccount(21);
  const erpNameBefore = String(erpOf(a).name);
  edit('crm', 'UPDATE accounts SET company_name = ?, updated_at = ? WHERE id = ?', 'Cli Rename KG', later(), a);
  edit('erp', 'UPDATE customers SET credit_limit_minor = ?, credit_currency = ?, updated_at = ? WHERE external_key = ?', 424_200, 'EUR', later(), String(b));
  const crmLimitBefore = String(crmOf(b).credit_limit);
  const erpKeyOfB = String(erpOf(b).id);

  const plan = await cli('plan', PAIR);
  expect(plan.err).toBe('');
  expect(plan.code).toBe(0);
  const m = /plan (plan-[0-9a-f]{16}) of pair demo-customers \(hash ([0-9a-f]{16})/.exec(plan.out);
  expect(m).not.toBeNull();
  expect(plan.out).toContain(': 0 creates, 2 updates, 0 deletes, 0 conflicts;');
  expect(plan.out).toMatch(/^key\s+side\s+operation\s+field\s+before -> after$/m);
  expect(plan.out).toMatch(new RegExp(`^crm:${a}\\s+crm->erp\\s+update\\s+name\\s+${erpNameBefore.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} -> Cli Rename KG$`, 'm'));
  expect(plan.out).toMatch(new RegExp(`^erp:${erpKeyOfB}\\s+erp->crm\\s+update\\s+creditLimit\\.amountMinor\\s+${Math.round(Number(crmLimitBefore) * 100)} -> 424200$`, 'm'));
  expect(plan.out).toContain(`apply it with: crm-erp-sync apply ${m![1]}`);
  expect(erpOf(a).name).toBe(erpNameBefore); // nothing written

  const json = JSON.parse((await cli('plan', PAIR, '--json', '--limit', '1')).out) as { planId: string; kind: string; counts: { updates: number }; items: { key: string; sides: string[] }[]; more: number };
  expect(json).toMatchObject({ kind: 'pair', counts: { updates: 2 }, more: 1 });
  expect(json.items).toHaveLength(1);

  const applied = await cli('apply', m![1]!, '--hash', m![2]!);
  expect(applied.err).toBe('');
  expect(applied.code).toBe(0);
  expect(applied.out).toContain(`applied plan ${m![1]} to demo-customers (apply:${m![1]}): written 2 (0 created, 2 updated), changed meanwhile 0`);
  expect(erpOf(a).name).toBe('Cli Rename KG');
  expect(crmOf(b).credit_limit).toBe('4242.00');

  // The --json plan planned the same writes: both are in place already.
  const again = JSON.parse((await cli('apply', json.planId, '--json')).out) as ApplyPlanResult;
  expect(again.totals).toMatchObject({ written: 0, alreadyApplied: 2, changedMeanwhile: 0 });
  const twice = await cli('apply', m![1]!);
  expect(twice.code).toBe(1);
  expect(twice.err).toContain('already applied');
  expect((await cli('plan', 'no-such-pair')).code).toBe(3);
});
