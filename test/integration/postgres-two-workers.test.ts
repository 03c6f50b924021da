/**
 * Two worker processes that share nothing on disk (each its own folder, no state.db anywhere)
 * keep their state in one PostgreSQL database: checkpoints, staged pages (claim checks), bindings
 * and quarantine. One is SIGKILLed while an activity runs in it; the other carries the sync to the
 * end, and the target then equals the valid source, with no record lost and none written twice.
 *
 * The demo CRM and ERP (the external systems the pipeline reads and writes) are SQLite files in a
 * third folder, named by a copy of config/ whose systems.json points there instead of at
 * DEMO_DATA_DIR: they stand for remote databases, not for anything a worker keeps.
 */
import { readdirSync } from 'node:fs';
import { temporal } from '@temporalio/proto';
import { TASK_QUEUES } from '../../contracts/queues';
import { type SyncResult } from '../../contracts/sync';
import { killWhileRunning } from '../helpers/crash';
import { demoDbs, queryDb } from '../helpers/demo-env';
import { sharedSystems, usePostgresWorkersBed, workerHost } from '../helpers/postgres-workers';
import { compareSqlTarget } from '../helpers/sql-target';
import { spawnWorker } from '../helpers/worker-process';

jest.setTimeout(240_000);

const bed = usePostgresWorkersBed();

const CONTACTS = 4_000;

test('two workers with separate folders and state in PostgreSQL: one SIGKILLed mid-sync, the sync completes with no loss and no duplicate', async () => {
  const { env, pg } = bed;
  const shared = sharedSystems(env.tmp, { accounts: 0, contacts: CONTACTS, products: 0 });
  const { systems } = shared;

  const stateUrl = await pg.createDatabase('two_workers');
  const hostA = workerHost(env, shared, stateUrl, 'worker-a');
  const hostB = workerHost(env, shared, stateUrl, 'worker-b');
  const [folderA, folderB] = [hostA.folder, hostB.folder];
  const [envA, envB] = [hostA.vars, hostB.vars];

  // Worker A alone first, so it surely runs a page's write (with B polling too, B could take every
  // write and the sync end before A ever held one). Concurrent migrations are covered by the
  // state-store conformance suite.
  const a = spawnWorker(envA);
  await a.ready;

  const { erp } = demoDbs(systems);
  const erpRows = () => queryDb<{ c: number }>(erp, 'SELECT count(*) c FROM contacts')[0]!.c;
  const handle = await env.client.workflow.start('syncPipeline', {
    taskQueue: TASK_QUEUES.sql,
    workflowId: 'two-workers-postgres',
    args: [{ pipeline: 'demo-contacts', pageSize: 250 }],
  });

  // Kill worker A (or a replacement in A's folder) while it writes a page.
  const kill = await killWhileRunning(handle, a, envA, ['writePage']);
  expect(kill.inFlight.type).toBe('writePage');
  expect(erpRows()).toBeLessThan(CONTACTS);
  // B, sharing nothing on disk with A, finishes the sync from the claim checks in PostgreSQL.
  const b = spawnWorker(envB);
  await b.ready;

  const result = (await handle.result()) as SyncResult;
  expect(result.status).toBe('completed');

  // Both workers ran activities of this sync (so pages staged by one were planned or written by the other).
  const history = await handle.fetchHistory();
  const identities = new Set(
    (history.events ?? []).filter((e) => e.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED).map((e) => e.activityTaskStartedEventAttributes?.identity ?? ''),
  );
  expect([...identities].some((i) => i.startsWith(`${b.pid}@`))).toBe(true);
  expect([...identities].some((i) => i.startsWith(`${a.pid}@`))).toBe(true);

  const cmp = await compareSqlTarget(systems, 'demo-contacts', 'contacts', stateUrl);
  expect(cmp.problems).toEqual([]);
  expect(cmp.valid + cmp.refused).toBe(CONTACTS);
  expect(cmp.refused).toBeGreaterThan(0); // the seed's defects are quarantined (in PostgreSQL), not written
  expect(cmp.targetRows).toBe(cmp.valid);
  expect(result.totals.quarantined).toBeGreaterThanOrEqual(cmp.refused);

  // Nothing of the state went to a local file: the workers' folders hold no state store.
  for (const f of [folderA, folderB, systems]) expect(readdirSync(f).filter((n) => n.startsWith('state'))).toEqual([]);
  console.log(`postgres-two-workers: killed during ${kill.inFlight.type} (${kill.workers} worker(s) in A's folder); ${cmp.valid} valid rows equal, ${cmp.refused} quarantined`);
});
