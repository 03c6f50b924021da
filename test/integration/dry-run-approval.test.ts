/**
 * Applying a plan that crosses its pipeline's approval limits goes through the approval gate
 * (workflows/approval.ts) like a sync: the dry run itself never waits (it writes nothing) and
 * names the reasons; `applyPlan` waits for a decision on exactly the plan's hash, writes it when
 * approved, and nothing when rejected. Real dev server, demo SQLite CRM/ERP, a copy of the shipped
 * config whose demo-accounts pipeline allows at most 5 updates without approval.
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { approveUpdate, pendingApprovalQuery, rejectUpdate } from '../../contracts/approval';
import type { ApplyPlanResult } from '../../contracts/plan';
import { TASK_QUEUES } from '../../contracts/queues';
import type { SyncResult } from '../../contracts/sync';
import { seedDemo, touchAccounts } from '../../demo/seed';
import { createSyncWorkers, type SyncWorkers } from '../../workers/worker';
import { demoDbs, queryDb } from '../helpers/demo-env';
import { ROOT, startDevEnv, type DevEnv } from '../helpers/env';

jest.setTimeout(240_000);

let env: DevEnv;
let dir: string;
let workers: SyncWorkers;
let running: Promise<void>;
let n = 0;

const sync = (extra: Record<string, unknown> = {}): Promise<SyncResult> =>
  env.client.workflow.execute('syncPipeline', { taskQueue: TASK_QUEUES.sql, workflowId: `dry-gate-${++n}`, args: [{ pipeline: 'demo-accounts', ...extra }] });
const cities = () => queryDb<{ external_key: string; city: string }>(demoDbs(dir).erp, 'SELECT external_key, city FROM customers ORDER BY id');

beforeAll(async () => {
  env = await startDevEnv();
  dir = path.join(env.tmp, 'demo');
  seedDemo(dir, { accounts: 300, contacts: 0, products: 0 });
  const configDir = path.join(env.tmp, 'config');
  cpSync(path.join(ROOT, 'config'), configDir, { recursive: true });
  const file = path.join(configDir, 'pipelines/demo-accounts.json');
  const p = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  p.approval = { maxUpdates: 5, policy: { approvers: ['ops-lead'], timeout: '1 day', onTimeout: { action: 'reject' } } };
  writeFileSync(file, JSON.stringify(p));
  workers = await createSyncWorkers({
    connection: env.nativeConnection,
    namespace: 'default',
    families: ['sql'],
    configDir,
    stateDb: path.join(dir, 'state.db'),
    env: { DEMO_DATA_DIR: dir },
    workflowBundle: env.workflowBundle,
  });
  running = workers.run();
  await sync(); // creates only: below the limits
});

afterAll(async () => {
  workers?.shutdown();
  await running;
  await env?.teardown();
});

/** Start applyPlan and wait until its gate is pending; returns the handle and the gate's plan hash. */
async function applyAtGate(planId: string, extra: Record<string, unknown> = {}) {
  const h = await env.client.workflow.start('applyPlan', { taskQueue: TASK_QUEUES.sql, workflowId: `apply-gate-${++n}`, args: [{ planId, ...extra }] });
  for (let i = 0; i < 200; i++) {
    const s = await h.query(pendingApprovalQuery);
    if (s.pending) return { h, pending: s.pending };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the apply never reached its approval gate');
}

test('a plan above the limits: the dry run names the reasons without waiting; a rejected apply writes nothing, an approved one writes the plan', async () => {
  const touched = touchAccounts(dir, 20).map(String);
  const before = cities();
  const dry = await sync({ mode: 'dry-run' });
  expect(dry.status).toBe('completed');
  const updates = dry.plan!.counts.updates;
  expect(updates).toBeGreaterThan(5);
  expect(dry.plan!.approvalReasons).toEqual([`${updates} updates, above the limit of 5`]);
  expect(dry.approvals).toEqual([]);
  expect(cities()).toEqual(before);

  // Rejected: nothing written, the plan can still be applied later.
  const first = await applyAtGate(dry.plan!.planId);
  expect(first.pending).toMatchObject({ planHash: dry.plan!.planHash, reasons: dry.plan!.approvalReasons, approvers: ['ops-lead'] });
  expect(first.pending.summary).toContain(`${updates} updates of demo-erp.customers (plan ${dry.plan!.planId})`);
  await first.h.executeUpdate(rejectUpdate, { args: [{ approver: 'ops-lead', planHash: dry.plan!.planHash, comment: 'not today' }] });
  const rejected = (await first.h.result()) as ApplyPlanResult;
  expect(rejected).toMatchObject({ status: 'rejected', totals: { written: 0 } });
  expect(cities()).toEqual(before);

  // Approved on the plan's hash: exactly the plan is written, over several runs (continue-as-new
  // every chunk): the later runs do not ask again, and the decision travels with the apply.
  const second = await applyAtGate(dry.plan!.planId, { chunkSize: 3, chunksPerRun: 1 });
  const stale = await second.h.executeUpdate(approveUpdate, { args: [{ approver: 'ops-lead', planHash: 'feedfacefeedface' }] }).catch((e: unknown) => e);
  expect((stale as { cause?: Error }).cause?.message).toContain('plan feedfacefeedface is not pending');
  await second.h.executeUpdate(approveUpdate, { args: [{ approver: 'ops-lead', planHash: dry.plan!.planHash, comment: 'reviewed the plan' }] });
  const applied = (await second.h.result()) as ApplyPlanResult;
  expect(applied).toMatchObject({ status: 'applied', totals: { written: updates, changedMeanwhile: 0 } });
  expect(applied.runs).toBeGreaterThan(2);
  expect(applied.approvals.filter((a) => a.accepted).map((a) => [a.decision, a.approver])).toEqual([['approve', 'ops-lead']]);
  const after = new Map(cities().map((r) => [r.external_key, r.city]));
  const changed = before.filter((r) => after.get(r.external_key) !== r.city).map((r) => r.external_key).sort();
  expect(changed).toHaveLength(updates);
  for (const k of changed) {
    expect(touched).toContain(k);
    expect(after.get(k)).toBe(`Changed City ${k}`);
  }
});
