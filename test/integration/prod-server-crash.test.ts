import { Client, Connection } from '@temporalio/client';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TASK_QUEUES } from '../../contracts/queues';
import { progressQuery, type SyncResult } from '../../contracts/sync';
import { seedDemo } from '../../demo/seed';
import { startTemporalServer, type TemporalServer } from '../../scripts/temporal-server';
import { installTestRuntime } from '../helpers/env';
import { startPostgres, type TestPostgres } from '../helpers/postgres';
import { isAlive, recordPid, waitFor } from '../helpers/processes';
import { compareSqlTarget } from '../helpers/sql-target';
import { spawnWorker, stopAllWorkers } from '../helpers/worker-process';

/**
 * The production Temporal server (built from its Go module, v1.32.1 pinned in toolchain.json) on
 * PostgreSQL persistence and visibility, with the history service in a process of its own. The
 * history process is SIGKILLed in the middle of a sync and started again on the same ports and
 * databases: the same worker process and client carry on, the sync completes, every source row
 * was read once in total and the target equals the valid source by key and field values.
 */

jest.setTimeout(600_000);

const CONTACTS = 5_000;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'crm-erp-sync-prod-server-'));
chmodSync(tmp, 0o711);
let pg: TestPostgres | undefined;
let server: TemporalServer | undefined;
let connection: Connection | undefined;

beforeAll(() => installTestRuntime());
afterAll(async () => {
  await stopAllWorkers();
  await connection?.close().catch(() => undefined);
  await server?.stop();
  await pg?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

test('the history service SIGKILLed mid-sync and restarted: the sync completes, nothing lost or duplicated', async () => {
  pg = await startPostgres();
  server = await startTemporalServer({
    postgresUrl: pg.url,
    dir: path.join(tmp, 'temporal'),
    groups: [['frontend', 'matching', 'worker'], ['history']],
    onSpawn: (pid, what) => recordPid(pid, what),
  });
  const history = server.processOf('history');
  expect(history.services).toEqual(['history']);
  expect(server.processOf('frontend').pid).not.toBe(history.pid);

  const dir = path.join(tmp, 'demo');
  seedDemo(dir, { accounts: 0, contacts: CONTACTS, products: 0 });
  const worker = spawnWorker({ TEMPORAL_ADDRESS: server.address, DEMO_DATA_DIR: dir, SYNC_STATE_DB: path.join(dir, 'state.db'), WORKER_FAMILIES: 'sql' });
  await worker.ready;

  connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection, namespace: server.namespace });
  const handle = await client.workflow.start('syncPipeline', {
    taskQueue: TASK_QUEUES.sql,
    workflowId: 'prod-server-crash',
    args: [{ pipeline: 'demo-contacts', pageSize: 250, pagesPerRun: 100 }],
  });

  const before = await waitFor(async () => {
    const p = await handle.query(progressQuery);
    return p.totals.pages >= 3 ? p : null;
  }, 'three pages to be committed', 180_000, 50);
  expect(before.totals.read).toBeLessThan(CONTACTS);

  process.kill(history.pid, 'SIGKILL');
  await waitFor(() => !isAlive(history.pid), `history service ${history.pid} to die`, 10_000, 20);
  const killedAt = Date.now();

  const restarted = await server.restart('history');
  expect(history.child.signalCode).toBe('SIGKILL'); // reaped by now: restart waits for the exit
  expect(server.processOf('frontend').child.exitCode).toBeNull(); // only history died
  expect(restarted.pid).not.toBe(history.pid);
  const restartedAt = Date.now();
  const after = await waitFor(async () => {
    const p = await handle.query(progressQuery).catch(() => null);
    return p && p.totals.pages > before.totals.pages ? p : null;
  }, 'the sync to make progress after the restart', 240_000, 250);
  const resumedAt = Date.now();
  expect(worker.child.exitCode).toBeNull(); // the same worker process carried on
  expect(after.totals.read).toBeGreaterThan(before.totals.read);

  const result = (await waitFor(() => handle.result().catch(() => null), 'the sync to complete', 240_000, 500)) as SyncResult;
  expect(result.status).toBe('completed');
  expect(result.totals.read).toBe(CONTACTS); // every source row read once in total across the crash

  const cmp = await compareSqlTarget(dir, 'demo-contacts', 'contacts');
  expect(cmp.problems).toEqual([]);
  expect(cmp.valid + cmp.refused).toBe(CONTACTS);
  expect(cmp.targetRows).toBe(cmp.valid);
  console.log(
    `prod-server-crash: history killed at page ${before.totals.pages}; progress again ${((resumedAt - restartedAt) / 1000).toFixed(1)} s after the restart (${((resumedAt - killedAt) / 1000).toFixed(1)} s after the kill); ${cmp.valid} valid rows equal, ${cmp.refused} refused`,
  );
});
