import path from 'node:path';
import { TASK_QUEUES } from '../../contracts/queues';
import { type SyncResult } from '../../contracts/sync';
import { seedDemo } from '../../demo/seed';
import { killWhileRunning } from '../helpers/crash';
import { demoDbs, queryDb } from '../helpers/demo-env';
import { startDevEnv, type DevEnv } from '../helpers/env';
import { compareSqlTarget } from '../helpers/sql-target';
import { spawnWorker, stopAllWorkers } from '../helpers/worker-process';

jest.setTimeout(300_000);

let env: DevEnv;
beforeAll(async () => {
  env = await startDevEnv();
});
afterAll(async () => {
  await stopAllWorkers();
  await env?.teardown();
});

const CONTACTS = 30_000;

test('workers SIGKILLed while a page is written and while one is fetched or mapped are replaced; the target then equals the valid source', async () => {
  const dir = path.join(env.tmp, 'demo');
  seedDemo(dir, { accounts: 0, contacts: CONTACTS, products: 0 });
  const workerEnv = {
    TEMPORAL_ADDRESS: env.server.address,
    DEMO_DATA_DIR: dir,
    SYNC_STATE_DB: path.join(dir, 'state.db'),
    WORKER_FAMILIES: 'sql',
  };
  const { erp } = demoDbs(dir);
  const erpRows = () => queryDb<{ c: number }>(erp, 'SELECT count(*) c FROM contacts')[0]!.c;

  const first = spawnWorker(workerEnv);
  await first.ready;
  // Pages of 2,000 contacts: a map takes ~0.2 s, long enough to be caught in flight.
  const handle = await env.client.workflow.start('syncPipeline', {
    taskQueue: TASK_QUEUES.sql,
    workflowId: 'crash-test',
    args: [{ pipeline: 'demo-contacts', pageSize: 2000 }],
  });

  // Both kills are made early in the sync so that pages are left for each hunt: since
  // `throughput-v1` a page is two activities and a sync goes fast, and a hunt that starts near the
  // end finds no activity left to catch (a fresh-clone run timed out so).
  // 1. Kill a worker (verified gone) while it fetches, maps and plans a page (one activity since
  //    `throughput-v1`).
  const read = await killWhileRunning(handle, first, workerEnv, ['preparePage']);
  expect(read.inFlight.type).toBe('preparePage');
  const atFirstKill = erpRows();
  expect(atFirstKill).toBeLessThan(CONTACTS);

  // 2. Kill the next worker (verified gone) while writePage runs in it: a batch may be committed,
  //    its links not; the page it held in memory is written again from its claim check.
  //    Held back until the target has rows beyond those at the first kill: pages were written by
  //    the new worker, so the killed write is not the sync's first.
  const write = await killWhileRunning(handle, spawnWorker(workerEnv), workerEnv, ['writePage'], { ready: () => erpRows() > atFirstKill });
  expect(write.inFlight.type).toBe('writePage');
  const atSecondKill = erpRows();
  expect(atSecondKill).toBeGreaterThan(0);
  expect(atSecondKill).toBeLessThan(CONTACTS);

  // 3. A last worker finishes the sync.
  spawnWorker(workerEnv);
  const result = (await handle.result()) as SyncResult;
  expect(result.status).toBe('completed');

  const cmp = await compareSqlTarget(dir, 'demo-contacts', 'contacts');
  expect(cmp.problems).toEqual([]);
  expect(cmp.valid + cmp.refused).toBe(CONTACTS);
  expect(cmp.refused).toBeGreaterThan(0); // the seed's defects are quarantined, not written
  expect(cmp.targetRows).toBe(cmp.valid);
  expect(result.totals.quarantined).toBeGreaterThanOrEqual(cmp.refused);
  console.log(
    `crash-resume: killed during ${write.inFlight.type} (${write.workers} worker(s), ${atSecondKill} rows at the kill) and ${read.inFlight.type} (${read.workers} worker(s), ${atFirstKill} rows); ${cmp.valid} valid rows equal`,
  );
});
