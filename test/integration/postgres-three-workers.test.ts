/**
 * Three worker hosts (issue 9, item 5): three worker processes that share nothing on disk (each
 * its own folder, no state.db anywhere) keep their state in one PostgreSQL database and share one
 * 100,000-account sync. All three run activities of it (their identities are in the history's
 * ActivityTaskStarted events); the first is SIGKILLed mid-sync while it writes a page, the other
 * two carry the sync to the end, and the target then equals the valid source row by row, with no
 * record lost and none written twice.
 *
 * So that each worker surely gets work, they start one after the other (the next once the last
 * one holds an activity) and each runs at most one activity at a time
 * (WORKER_MAX_CONCURRENT_ACTIVITIES=1). With free slots, the worker that completes the sync's
 * workflow task would get the activities it schedules itself (eager activity dispatch, on by
 * default in the server), and one sync would stay on one worker; with one slot it cannot reserve
 * one while it runs an activity, and a sync runs up to two at once (the next page is prepared
 * while the current one is written), so the second goes through the task queue to another worker. The demo CRM and ERP (the external systems) are SQLite files in a shared folder, as in
 * postgres-two-workers.test.ts: they stand for remote databases, not for anything a worker keeps.
 */
import { readdirSync } from 'node:fs';
import { TASK_QUEUES } from '../../contracts/queues';
import { type SyncResult } from '../../contracts/sync';
import { killWhileRunning, startedActivities } from '../helpers/crash';
import { demoDbs, queryDb } from '../helpers/demo-env';
import { sharedSystems, usePostgresWorkersBed, workerHost } from '../helpers/postgres-workers';
import { waitFor } from '../helpers/processes';
import { activityIdentities, startedBy } from '../helpers/run-chain';
import { compareSqlTarget } from '../helpers/sql-target';
import { spawnWorker, type WorkerProcess } from '../helpers/worker-process';

jest.setTimeout(900_000);

const bed = usePostgresWorkersBed();

const ACCOUNTS = Number(process.env.THREE_WORKERS_ACCOUNTS ?? 100_000);
const PAGE_SIZE = 2_000;
const WORKFLOW_ID = 'three-workers-postgres';

test('three workers with separate folders and state in PostgreSQL share one 100,000-record sync; one SIGKILLed mid-sync, nothing lost or duplicated', async () => {
  const t0 = performance.now();
  const { env, pg } = bed;
  const shared = sharedSystems(env.tmp, { accounts: ACCOUNTS, contacts: 0, products: 0 });
  const { systems } = shared;

  const stateUrl = await pg.createDatabase('three_workers');
  const envFor = (name: string) => workerHost(env, shared, stateUrl, name, { WORKER_MAX_CONCURRENT_ACTIVITIES: '1' });
  const hosts = { a: envFor('worker-a'), b: envFor('worker-b'), c: envFor('worker-c') };

  const a = spawnWorker(hosts.a.vars);
  await a.ready;
  const handle = await env.client.workflow.start('syncPipeline', {
    taskQueue: TASK_QUEUES.sql,
    workflowId: WORKFLOW_ID,
    args: [{ pipeline: 'demo-accounts', pageSize: PAGE_SIZE }],
  });
  const firstRunId = handle.firstExecutionRunId;

  // The next worker starts once the previous one holds an activity of this sync (or has run one).
  const worked = async (w: WorkerProcess) =>
    (await startedActivities(handle)).some((x) => x.worker.startsWith(`${w.pid}@`)) ||
    startedBy((await activityIdentities(env.client, WORKFLOW_ID, firstRunId)).byIdentity, w.pid) > 0;
  await waitFor(() => worked(a), 'worker A to run an activity', 120_000, 200);
  const b = spawnWorker(hosts.b.vars);
  await b.ready;
  await waitFor(() => worked(b), 'worker B to run an activity', 120_000, 200);
  const c = spawnWorker(hosts.c.vars);
  await c.ready;
  await waitFor(() => worked(c), 'worker C to run an activity', 120_000, 200);

  // Kill worker A (or a replacement in A's folder) while it writes a page, ten pages in or later.
  const { erp } = demoDbs(systems);
  const erpRows = () => queryDb<{ c: number }>(erp, 'SELECT count(*) c FROM customers')[0]!.c;
  const kill = await killWhileRunning(handle, a, hosts.a.vars, ['writePage'], { ready: () => erpRows() >= 10 * PAGE_SIZE, timeoutMs: 300_000 });
  expect(kill.inFlight.type).toBe('writePage');
  const rowsAtKill = erpRows();
  expect(rowsAtKill).toBeLessThan(ACCOUNTS);

  const result = (await handle.result()) as SyncResult;
  expect(result.status).toBe('completed');
  expect(result.totals.read).toBeGreaterThanOrEqual(ACCOUNTS);

  // All three ran activities of this sync, across every run of its continue-as-new chain.
  const { byIdentity, runs } = await activityIdentities(env.client, WORKFLOW_ID, firstRunId);
  const counts = { a: startedBy(byIdentity, a.pid), b: startedBy(byIdentity, b.pid), c: startedBy(byIdentity, c.pid) };
  expect(counts.a).toBeGreaterThan(0);
  expect(counts.b).toBeGreaterThan(0);
  expect(counts.c).toBeGreaterThan(0);

  // No loss, no duplicate: every valid source row has exactly its row in the target, equal field
  // by field; every refused one is quarantined (in PostgreSQL) and written nowhere.
  const cmp = await compareSqlTarget(systems, 'demo-accounts', 'accounts', stateUrl);
  expect(cmp.problems).toEqual([]);
  expect(cmp.valid + cmp.refused).toBe(ACCOUNTS);
  expect(cmp.refused).toBeGreaterThan(0);
  expect(cmp.targetRows).toBe(cmp.valid);

  // Nothing of the state went to a local file: no worker folder holds a state store.
  for (const f of [hosts.a.folder, hosts.b.folder, hosts.c.folder, systems]) expect(readdirSync(f).filter((n) => n.startsWith('state'))).toEqual([]);
  console.log(
    `postgres-three-workers: ${ACCOUNTS} accounts in ${runs} run(s); activities started by A ${counts.a}, B ${counts.b}, C ${counts.c} ` +
      `(${byIdentity.size} identities); A killed during ${kill.inFlight.type} with ${rowsAtKill} ERP rows ` +
      `(${kill.workers} worker(s) in A's folder); ${cmp.valid} valid rows equal, ${cmp.refused} quarantined; ${((performance.now() - t0) / 1000).toFixed(0)} s`,
  );
});
