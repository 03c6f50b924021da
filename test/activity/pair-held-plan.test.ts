/**
 * writePairPage takes the plan a worker holds in memory (the one preparePairPage staged and
 * hashed) or else its claim check, and writes only the plan whose hash the workflow was given.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import Database from 'better-sqlite3';
import { type createPairActivities } from '../../activities/pair';
import { demoPaths } from '../../demo/seed';
import type { StateStore } from '../../state/types';
import { runActivity as run } from '../helpers/activity-run';
import { pairActivitiesOn } from '../helpers/pair-activities';

const PAIR = 'demo-customers';
const ACCOUNTS = 20;
let dir: string;
let store: StateStore;
let acts: ReturnType<typeof createPairActivities>;
beforeEach(() => {
  ({ dir, store, acts } = pairActivitiesOn('pair-held-plan-', ACCOUNTS));
});
afterEach(async () => {
  await store.close();
});

/** ERP customers per external key (the CRM account each was created for). */
function erpCustomers(): Map<string, number> {
  const db = new Database(demoPaths(dir).erp, { readonly: true });
  try {
    const rows = db.prepare('SELECT external_key AS k, COUNT(*) AS n FROM customers WHERE external_key IS NOT NULL GROUP BY external_key').all() as { k: string; n: number }[];
    return new Map(rows.map((r) => [r.k, r.n]));
  } finally {
    db.close();
  }
}

const ref = { pair: PAIR, syncId: 'sync-1', seq: 0, side: 'crm' };
const prepare = () => run(new MockActivityEnvironment(), acts.preparePairPage, { ...ref, after: null, limit: 100 });

test('a write asked for another plan than the one staged writes nothing and says so', async () => {
  const before = erpCustomers();
  const page = await prepare();
  expect(page.plan!.writes.erp!.creates).toBeGreaterThan(0);
  const write = run(new MockActivityEnvironment(), acts.writePairPage, { ...ref, planPageId: page.plan!.planPageId, planHash: 'not-the-plan' });
  await expect(write).rejects.toMatchObject({ type: 'Conflict', message: expect.stringContaining('no longer matches the approved plan') });
  expect(erpCustomers()).toEqual(before);
});

test('a retried write on the worker that planned the page resumes from its heartbeat: the plan it holds is still the one hashed, and nothing is created twice', async () => {
  const page = await prepare();
  const creates = page.plan!.writes.erp!.creates;
  expect(creates).toBeGreaterThan(0);
  const args = { ...ref, planPageId: page.plan!.planPageId, planHash: page.plan!.planHash };
  // The first attempt writes everything but is not heard of (no commit): its last heartbeat is what a retry gets.
  const first = new MockActivityEnvironment();
  let details: unknown;
  first.on('heartbeat', (d: unknown) => (details = d));
  expect((await run(first, acts.writePairPage, args)).created.erp).toBe(creates);
  expect(details).toMatchObject({ created: { erp: expect.any(Object) } });
  const retry = await run(new MockActivityEnvironment({ heartbeatDetails: details, attempt: 2 }), acts.writePairPage, args);
  expect(retry.created.erp).toBe(0);
  const erp = erpCustomers();
  expect(erp.size).toBeGreaterThanOrEqual(creates);
  expect([...erp.values()].every((n) => n === 1)).toBe(true);
});
