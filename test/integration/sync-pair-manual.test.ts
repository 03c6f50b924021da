import type { WorkflowHandle, WorkflowUpdateFailedError } from '@temporalio/client';
import Database from 'better-sqlite3';
import { approveUpdate, pendingApprovalQuery, rejectUpdate, type PendingApproval } from '../../contracts/approval';
import { pairProgressQuery, type SyncPairResult } from '../../contracts/pair-sync';
import { TASK_QUEUES } from '../../contracts/queues';
import { demoPaths } from '../../demo/seed';
import type { SyncWorkers } from '../../workers/worker';
import { historyPayloads } from '../helpers/history-payloads';
import { queryDb } from '../helpers/demo-env';
import { startDemoPairEnv, type DemoPairEnv } from '../helpers/demo-pair-env';
import type { DevEnv } from '../helpers/env';

/**
 * `manual` conflicts on the real dev server: the shipped demo pair with `email` owned by both
 * sides under `manual` and approvers named. The same email edited on both sides → the run waits
 * at the approval gate, shows the conflict by keys, field and hash labels (never the values), and
 * applies the person's decision through the normal write path; a rejection leaves it pending.
 */

jest.setTimeout(300_000);

const ACCOUNTS = 120;
const PAIR = 'demo-customers';
let setup: DemoPairEnv;
let env: DevEnv;
let sync: SyncWorkers;
let dir: string;
let n = 0;

beforeAll(async () => {
  setup = await startDemoPairEnv({
    accounts: ACCOUNTS,
    pair: PAIR,
    edit: (pair) => {
      pair.fields.email = { owner: 'both', conflict: 'manual' };
      pair.limits.approval = { approvers: ['ops-lead'], timeout: '2 days', onTimeout: { action: 'reject' } };
    },
  });
  ({ env, sync, dir } = setup);
  const first = (await env.client.workflow.execute('syncPair', { taskQueue: TASK_QUEUES.sql, workflowId: 'initial', args: [{ pair: PAIR, pageSize: 50 }] })) as SyncPairResult;
  expect(first.totals.sides.erp!.created).toBeGreaterThan(50);
  expect(first.conflictGates).toEqual([]);
});

afterAll(() => setup?.stop());

function start(): Promise<WorkflowHandle> {
  return env.client.workflow.start('syncPair', { taskQueue: TASK_QUEUES.sql, workflowId: `manual-${++n}`, args: [{ pair: PAIR, pageSize: 50 }] });
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
const pendingOf = (h: WorkflowHandle) => until<PendingApproval>('a pending approval', async () => (await h.query(pendingApprovalQuery)).pending ?? undefined);

function edit(db: 'crm' | 'erp', sql: string, ...params: unknown[]): void {
  const conn = new Database(demoPaths(dir)[db]);
  try {
    expect(conn.prepare(sql).run(...params).changes).toBe(1);
  } finally {
    conn.close();
  }
}
const later = () => new Date(Date.now() + 1000).toISOString();
const crmEmail = (id: number) => queryDb<{ email: string | null }>(demoPaths(dir).crm, 'SELECT email FROM accounts WHERE id = ?', id)[0]!.email;
const erpRow = (id: number) => queryDb<{ email: string | null; updated_at: string }>(demoPaths(dir).erp, 'SELECT email, updated_at FROM customers WHERE external_key = ?', String(id))[0]!;
/** Linked, active CRM account ids (the ERP customer carries the CRM id as its external key). */
const linked = () => queryDb<{ k: string }>(demoPaths(dir).erp, "SELECT external_key k FROM customers WHERE active = 1 AND external_key NOT GLOB '*[^0-9]*' ORDER BY id").map((r) => Number(r.k));

test('the same field edited on both sides under "manual": the run waits, the decision "erp" writes the ERP value to the CRM only', async () => {
  const a = linked()[3]!;
  edit('crm', 'UPDATE accounts SET email = ?, updated_at = ? WHERE id = ?', 'crm-side@manual.test', later(), a);
  edit('erp', 'UPDATE customers SET email = ?, updated_at = ? WHERE external_key = ?', 'erp-side@manual.test', later(), String(a));
  const erpBefore = erpRow(a);

  const h = await start();
  const pending = await pendingOf(h);
  expect((await h.query(pairProgressQuery)).status).toBe('awaiting-approval');
  expect(pending.conflicts).toEqual({
    sides: ['crm', 'erp'],
    total: 1,
    items: [{ id: `crm:${a}:email`, keys: expect.objectContaining({ crm: String(a) }), field: 'email', labels: { crm: expect.stringMatching(/^[0-9a-f]{8}$/), erp: expect.stringMatching(/^[0-9a-f]{8}$/) } }],
  });
  expect(pending.summary).toContain(`crm:${a}:email`);
  // Nothing of the conflict is written while it waits.
  expect(crmEmail(a)).toBe('crm-side@manual.test');

  // Refused before history: approving without winners, an unknown conflict, a side the pair does not have.
  const refusal = (winners: unknown) =>
    h.executeUpdate(approveUpdate, { args: [{ approver: 'ops-lead', planHash: pending.planHash, ...(winners === undefined ? {} : { winners }) } as never] }).then(
      () => 'accepted',
      (e: WorkflowUpdateFailedError) => String(e.cause?.message),
    );
  expect(await refusal(undefined)).toMatch(/decides 1 manual conflict\(s\): approve with "winners"/);
  expect(await refusal({ 'crm:0:email': 'erp' })).toMatch(/unknown conflict "crm:0:email"/);
  expect(await refusal({ all: 'hubspot' })).toMatch(/"hubspot" for "all" is not a side; expected "crm" or "erp"/);
  expect(await refusal('erp')).toMatch(/winners: expected "winners" as an object/);

  const outcome = await h.executeUpdate(approveUpdate, { args: [{ approver: 'ops-lead', planHash: pending.planHash, winners: { [`crm:${a}:email`]: 'erp' }, comment: 'the ERP address is current' }] });
  expect(outcome).toMatchObject({ approved: true, decidedBy: 'ops-lead', winners: { [`crm:${a}:email`]: 'erp' } });
  const r = (await h.result()) as SyncPairResult;

  expect(crmEmail(a)).toBe('erp-side@manual.test');
  expect(erpRow(a)).toEqual(erpBefore); // the ERP is untouched
  expect(r.status).toBe('completed');
  expect(r.totals.sides.crm!.updated).toBe(1);
  expect(r.totals.sides.erp!.updated).toBe(0);
  expect(r.totals.pendingConflicts).toBe(0);
  expect(r.conflictGates).toEqual([
    expect.objectContaining({ side: 'crm', conflicts: 1, decided: 1, pending: 0, outcome: 'approved', decidedBy: 'ops-lead', via: 'update', winners: { [`crm:${a}:email`]: 'erp' } }),
  ]);
  expect(r.notices).toContainEqual(expect.objectContaining({ kind: 'conflict', field: 'email', policy: 'manual', resolution: 'erp', decidedBy: 'ops-lead', values: {} }));
  expect(r.approvals).toContainEqual(expect.objectContaining({ decision: 'approve', approver: 'ops-lead', accepted: true, winners: { [`crm:${a}:email`]: 'erp' } }));
  // The run report has the conflict too.
  const report = (await sync.store.listRunReports(PAIR)).find((x) => x.syncId === r.syncId)!;
  expect(report.totals).toMatchObject({ conflicts: 1, pendingConflicts: 0 });

  // Neither email ever entered the workflow's history.
  const text = historyPayloads(await h.fetchHistory()).map((p) => Buffer.from(p.data ?? new Uint8Array()).toString('utf8')).join('\n');
  expect(text).toContain(`crm:${a}:email`);
  expect(text).not.toContain('erp-side@manual.test');
  expect(text).not.toContain('crm-side@manual.test');

  // The decision is the new baseline: the next run writes nothing and asks nothing.
  const quiet = (await (await start()).result()) as SyncPairResult;
  expect([quiet.totals.sides.crm!.updated, quiet.totals.sides.erp!.updated, quiet.totals.conflicts, quiet.conflictGates.length]).toEqual([0, 0, 0, 0]);
});

test('a bulk decision "all crm" settles every conflict of the page', async () => {
  const [a, b] = linked().slice(5, 7) as [number, number];
  for (const id of [a, b]) {
    edit('crm', 'UPDATE accounts SET email = ?, updated_at = ? WHERE id = ?', `crm-${id}@bulk.test`, later(), id);
    edit('erp', 'UPDATE customers SET email = ?, updated_at = ? WHERE external_key = ?', `erp-${id}@bulk.test`, later(), String(id));
  }
  const h = await start();
  const pending = await pendingOf(h);
  expect(pending.conflicts!.items.map((c) => c.id).sort()).toEqual([`crm:${a}:email`, `crm:${b}:email`].sort());
  await h.executeUpdate(approveUpdate, { args: [{ approver: 'ops-lead', planHash: pending.planHash, winners: { all: 'crm' } }] });
  const r = (await h.result()) as SyncPairResult;
  expect([erpRow(a).email, erpRow(b).email]).toEqual([`crm-${a}@bulk.test`, `crm-${b}@bulk.test`]);
  expect([crmEmail(a), crmEmail(b)]).toEqual([`crm-${a}@bulk.test`, `crm-${b}@bulk.test`]);
  expect(r.totals.sides.erp!.updated).toBe(2);
  expect(r.totals.sides.crm!.updated).toBe(0);
  expect(r.conflictGates).toEqual([expect.objectContaining({ conflicts: 2, decided: 2, pending: 0, outcome: 'approved', winners: { all: 'crm' } })]);
});

test('a rejected decision leaves the conflict pending on both sides, asked once per sync, the result says so; it is asked again when the record is read again', async () => {
  const a = linked()[8]!;
  edit('crm', 'UPDATE accounts SET email = ?, updated_at = ? WHERE id = ?', 'crm-keeps@manual.test', later(), a);
  edit('erp', 'UPDATE customers SET email = ?, updated_at = ? WHERE external_key = ?', 'erp-keeps@manual.test', later(), String(a));

  const h = await start();
  const pending = await pendingOf(h);
  await h.executeUpdate(rejectUpdate, { args: [{ approver: 'ops-lead', planHash: pending.planHash, comment: 'ask the account owner first' }] });
  const r = (await h.result()) as SyncPairResult;
  expect(r.status).toBe('completed');
  expect([crmEmail(a), erpRow(a).email]).toEqual(['crm-keeps@manual.test', 'erp-keeps@manual.test']);
  // The ERP phase met the same conflict again and did not ask a second time.
  expect(r.conflictGates).toEqual([expect.objectContaining({ conflicts: 1, decided: 0, pending: 1, outcome: 'rejected', decidedBy: 'ops-lead' })]);
  expect(r.totals.pendingConflicts).toBeGreaterThanOrEqual(1);
  expect(r.notices).toContainEqual(expect.objectContaining({ kind: 'conflict', field: 'email', resolution: 'pending', labels: expect.objectContaining({ crm: expect.any(String) }) }));

  // Nothing moved: the next incremental sync does not meet the record, and asks nothing.
  const idle = (await (await start()).result()) as SyncPairResult;
  expect([idle.conflictGates.length, idle.totals.sides.crm!.updated, idle.totals.sides.erp!.updated]).toEqual([0, 0, 0]);
  // Once the record is read again (here: touched in the CRM), the still pending conflict is asked
  // again, and this time the decision applies.
  edit('crm', 'UPDATE accounts SET updated_at = ? WHERE id = ?', later(), a);
  const again = await start();
  const p2 = await pendingOf(again);
  expect(p2.conflicts!.items.map((c) => c.id)).toEqual([`crm:${a}:email`]);
  await again.executeUpdate(approveUpdate, { args: [{ approver: 'ops-lead', planHash: p2.planHash, winners: { all: 'erp' } }] });
  await again.result();
  expect([crmEmail(a), erpRow(a).email]).toEqual(['erp-keeps@manual.test', 'erp-keeps@manual.test']);
});
