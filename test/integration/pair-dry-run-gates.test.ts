/**
 * A pair's dry run with a `manual` field and approval limits, on the real dev server: the dry run
 * waits for nobody; the conflict a sync would put to a person is listed in the plan as a conflict
 * (both values); the plan crossing `maxUpdates` names the reason, and applying it waits at the
 * pair's approval gate: rejected, nothing is written; approved, exactly the updates are written
 * and the conflict stays as it is on both sides.
 */
import Database from 'better-sqlite3';
import type { WorkflowHandle } from '@temporalio/client';
import { approveUpdate, pendingApprovalQuery, rejectUpdate, type PendingApproval } from '../../contracts/approval';
import type { ApplyPlanResult } from '../../contracts/plan';
import type { SyncPairResult } from '../../contracts/pair-sync';
import { TASK_QUEUES } from '../../contracts/queues';
import { demoPaths } from '../../demo/seed';
import { queryDb } from '../helpers/demo-env';
import { startDemoPairEnv, type DemoPairEnv } from '../helpers/demo-pair-env';

jest.setTimeout(300_000);

const PAIR = 'demo-customers';
let setup: DemoPairEnv;
let n = 0;

beforeAll(async () => {
  setup = await startDemoPairEnv({
    accounts: 120,
    pair: PAIR,
    edit: (pair) => {
      pair.fields.email = { owner: 'both', conflict: 'manual' };
      pair.limits.maxUpdates = 1;
      pair.limits.approval = { approvers: ['ops-lead'], timeout: '2 days', onTimeout: { action: 'reject' } };
    },
  });
});

afterAll(() => setup?.stop());

const dir = () => setup.dir;
function edit(db: 'crm' | 'erp', sql: string, ...params: unknown[]): void {
  const conn = new Database(demoPaths(dir())[db]);
  try {
    expect(conn.prepare(sql).run(...params).changes).toBe(1);
  } finally {
    conn.close();
  }
}
const later = () => new Date(Date.now() + 1000).toISOString();
const rows = (db: 'crm' | 'erp') => queryDb<Record<string, unknown>>(demoPaths(dir())[db], db === 'crm' ? 'SELECT * FROM accounts ORDER BY id' : 'SELECT * FROM customers ORDER BY id');
const linked = () => queryDb<{ k: string }>(demoPaths(dir()).erp, "SELECT external_key k FROM customers WHERE active = 1 AND external_key NOT GLOB '*[^0-9]*' ORDER BY id").map((r) => Number(r.k));
const syncPair = (extra: Record<string, unknown> = {}): Promise<SyncPairResult> =>
  setup.env.client.workflow.execute('syncPair', { taskQueue: TASK_QUEUES.sql, workflowId: `gates-${++n}`, args: [{ pair: PAIR, pageSize: 50, ...extra }] });
const startApply = (planId: string): Promise<WorkflowHandle> =>
  setup.env.client.workflow.start('applyPairPlan', { taskQueue: TASK_QUEUES.sql, workflowId: `gates-apply-${++n}`, args: [{ planId }] });
async function pendingOf(h: WorkflowHandle): Promise<PendingApproval> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const p = (await h.query(pendingApprovalQuery)).pending;
    if (p) return p;
    if (Date.now() > deadline) throw new Error('no pending approval');
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('the dry run lists the manual conflict and the approval reason without waiting; apply waits at the gate: rejected writes nothing, approved writes exactly the updates', async () => {
  const first = await syncPair();
  expect(first.totals.sides.erp!.created).toBeGreaterThan(50);
  const [a, b, c] = linked().slice(2, 5) as [number, number, number];
  edit('crm', 'UPDATE accounts SET email = ?, updated_at = ? WHERE id = ?', 'crm-side@plan.test', later(), a);
  edit('erp', 'UPDATE customers SET email = ?, updated_at = ? WHERE external_key = ?', 'erp-side@plan.test', later(), String(a));
  edit('crm', 'UPDATE accounts SET company_name = ?, updated_at = ? WHERE id = ?', 'Gate One GmbH', later(), b);
  edit('crm', 'UPDATE accounts SET company_name = ?, updated_at = ? WHERE id = ?', 'Gate Two GmbH', later(), c);
  const before = { crm: rows('crm'), erp: rows('erp') };

  // The dry run asks nobody (no conflict gate, no approval gate) and writes nothing.
  const dry = await syncPair({ mode: 'dry-run' });
  expect(dry.status).toBe('completed');
  expect(dry.conflictGates).toEqual([]);
  expect(dry.approvals).toEqual([]);
  expect(dry.plan).toMatchObject({ counts: { creates: 0, updates: 2, deletes: 0, conflicts: 1 } });
  expect(dry.plan!.approvalReasons).toEqual(['2 updates on erp, above the limit of 1']);
  expect({ crm: rows('crm'), erp: rows('erp') }).toEqual(before);
  const items = await setup.sync.store.listPlanItems(dry.plan!.planId, { limit: 100 });
  const conflict = items.filter((i) => i.op === 'conflict');
  expect(conflict).toHaveLength(1);
  expect(conflict[0]!.data).toMatchObject({
    keys: { crm: String(a) },
    changes: [{ side: 'crm<>erp', field: 'email', before: 'crm-side@plan.test', after: 'erp-side@plan.test' }],
    conflict: { field: 'email', values: { crm: 'crm-side@plan.test', erp: 'erp-side@plan.test' } },
  });
  expect(items.filter((i) => i.op === 'update').map((i) => i.key).sort()).toEqual([`crm:${b}`, `crm:${c}`].sort());

  // Rejected at the gate: nothing written, the plan can still be applied.
  const rejectedRun = await startApply(dry.plan!.planId);
  const pending = await pendingOf(rejectedRun);
  expect(pending).toMatchObject({ planHash: dry.plan!.planHash, reasons: ['2 updates on erp, above the limit of 1'] });
  await rejectedRun.executeUpdate(rejectUpdate, { args: [{ approver: 'ops-lead', planHash: pending.planHash, comment: 'not now' }] });
  expect(((await rejectedRun.result()) as ApplyPlanResult)).toMatchObject({ status: 'rejected', totals: { written: 0 } });
  expect({ crm: rows('crm'), erp: rows('erp') }).toEqual(before);

  // Approved: exactly the two updates; the conflict stays for a sync and a person.
  const approvedRun = await startApply(dry.plan!.planId);
  await approvedRun.executeUpdate(approveUpdate, { args: [{ approver: 'ops-lead', planHash: (await pendingOf(approvedRun)).planHash }] });
  const applied = (await approvedRun.result()) as ApplyPlanResult;
  expect(applied).toMatchObject({ status: 'applied', totals: { written: 2, updated: 2, changedMeanwhile: 0 } });
  expect(applied.approvals.filter((x) => x.accepted).map((x) => [x.decision, x.approver])).toEqual([['approve', 'ops-lead']]);
  const erp = new Map(rows('erp').map((r) => [String(r.external_key), r]));
  expect([erp.get(String(b))!.name, erp.get(String(c))!.name]).toEqual(['Gate One GmbH', 'Gate Two GmbH']);
  expect(erp.get(String(a))!.email).toBe('erp-side@plan.test');
  expect(rows('crm')).toEqual(before.crm);
});
