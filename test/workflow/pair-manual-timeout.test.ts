import type { TestWorkflowEnvironment } from '@temporalio/testing';
import Database from 'better-sqlite3';
import { approvalDecisionSignal, pendingApprovalQuery, type PendingApproval } from '../../contracts/approval';
import type { SyncPairResult } from '../../contracts/pair-sync';
import { demoPaths } from '../../demo/seed';
import { editPairFile } from '../helpers/config-copy';
import { startTimeSkippingDemo, type TimeSkippingDemo } from '../helpers/time-skipping-demo';

/**
 * `manual` conflicts of a pair on the time-skipping server: nobody decides within the gate's
 * two days → the conflict stays pending on both sides and the result says `timeout`; an
 * escalated gate decided by signal applies the decision.
 */

jest.setTimeout(180_000);

let setup: TimeSkippingDemo;
let env: TestWorkflowEnvironment;
let dir: string;
let n = 0;

beforeAll(async () => {
  setup = await startTimeSkippingDemo({
    name: 'pair-manual',
    taskQueue: 'ts-pair-manual',
    seed: { accounts: 40, contacts: 0, products: 0 },
    config: (configDir) =>
      editPairFile(configDir, 'demo-customers', (pair) => {
        pair.fields.email = { owner: 'both', conflict: 'manual' };
        pair.limits.approval = { approvers: ['ops-lead'], timeout: '2 days', onTimeout: { action: 'escalate', approvers: ['cfo'], timeout: '1 day' } };
      }),
  });
  ({ env, dir } = setup);
  const first = (await (await start()).result()) as SyncPairResult;
  expect(first.totals.sides.erp!.created).toBeGreaterThan(10);
});

afterAll(() => setup?.stop());

const start = () => env.client.workflow.start('syncPair', { taskQueue: 'ts-pair-manual', workflowId: `pair-manual-${++n}`, args: [{ pair: 'demo-customers' }] });

function edit(db: 'crm' | 'erp', sql: string, ...params: unknown[]): void {
  const conn = new Database(demoPaths(dir)[db]);
  try {
    expect(conn.prepare(sql).run(...params).changes).toBe(1);
  } finally {
    conn.close();
  }
}
const emails = (id: number): [string | null, string | null] => [
  (new Database(demoPaths(dir).crm, { readonly: true }).prepare('SELECT email FROM accounts WHERE id = ?').get(id) as { email: string | null }).email,
  (new Database(demoPaths(dir).erp, { readonly: true }).prepare('SELECT email FROM customers WHERE external_key = ?').get(String(id)) as { email: string | null }).email,
];
const linked = (nth: number): number =>
  Number((new Database(demoPaths(dir).erp, { readonly: true }).prepare("SELECT external_key k FROM customers WHERE active = 1 ORDER BY id LIMIT 1 OFFSET ?").get(nth) as { k: string }).k);
function conflictOn(id: number, tag: string): void {
  const at = new Date(Date.now() + ++n * 1000).toISOString();
  edit('crm', 'UPDATE accounts SET email = ?, updated_at = ? WHERE id = ?', `crm-${tag}@t.test`, at, id);
  edit('erp', 'UPDATE customers SET email = ?, updated_at = ? WHERE external_key = ?', `erp-${tag}@t.test`, at, String(id));
}
async function pendingOf(h: Awaited<ReturnType<typeof start>>, stage: number): Promise<PendingApproval> {
  for (let i = 0; i < 400; i++) {
    const p = (await h.query(pendingApprovalQuery)).pending;
    if (p && p.stage === stage) return p;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no approval became pending at stage ${stage}`);
}

test('nobody decides within the gate and its escalation: the conflict stays pending on both sides and the result says timeout', async () => {
  const a = linked(2);
  conflictOn(a, 'timeout');
  const r = (await (await start()).result()) as SyncPairResult; // time skips over 2 days + 1 day
  expect(r.status).toBe('completed');
  expect(emails(a)).toEqual(['crm-timeout@t.test', 'erp-timeout@t.test']);
  expect(r.conflictGates).toEqual([expect.objectContaining({ conflicts: 1, decided: 0, pending: 1, outcome: 'timeout', decidedBy: null, via: 'timer', winners: {} })]);
  expect(r.totals.pendingConflicts).toBeGreaterThanOrEqual(1);
  expect(r.approvals).toEqual([expect.objectContaining({ decision: 'escalate', via: 'timer' }), expect.objectContaining({ decision: 'timeout', via: 'timer' })]);
});

test('escalated, then decided by the escalation approver through the signal: the decision applies', async () => {
  const a = linked(4);
  conflictOn(a, 'signal');
  const h = await start();
  const first = await pendingOf(h, 1);
  await env.sleep('2 days'); // the first approvers let it lapse
  const p = await pendingOf(h, 2);
  expect(p.conflicts!.items.map((c) => c.id)).toEqual(first.conflicts!.items.map((c) => c.id));
  await h.signal(approvalDecisionSignal, { decision: 'approve', approver: 'cfo', planHash: p.planHash, winners: { all: 'crm' } });
  const r = (await h.result()) as SyncPairResult;
  expect(emails(a)).toEqual(['crm-signal@t.test', 'crm-signal@t.test']);
  expect(r.conflictGates).toEqual([expect.objectContaining({ decided: 1, pending: 0, outcome: 'approved', decidedBy: 'cfo', via: 'signal', winners: { all: 'crm' } })]);
});
