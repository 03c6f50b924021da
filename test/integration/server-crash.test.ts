import { Client, Connection } from '@temporalio/client';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TASK_QUEUES } from '../../contracts/queues';
import { progressQuery, type SyncResult } from '../../contracts/sync';
import { seedDemo } from '../../demo/seed';
import { startDevServer, type DevServer } from '../../scripts/dev-server';
import { installTestRuntime } from '../helpers/env';
import { isAlive, recordPid, waitFor } from '../helpers/processes';
import { compareSqlTarget } from '../helpers/sql-target';
import { spawnWorker, stopAllWorkers } from '../helpers/worker-process';

jest.setTimeout(300_000);

const CONTACTS = 20_000;
const servers: DevServer[] = [];
let connection: Connection | undefined;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'crm-erp-sync-server-crash-'));

beforeAll(() => installTestRuntime());
afterAll(async () => {
  await stopAllWorkers();
  await connection?.close().catch(() => undefined);
  for (const s of servers) await s.stop();
  rmSync(tmp, { recursive: true, force: true });
});

/** Without `port`, the server gets a free one (tried again on another if it was taken meanwhile). */
async function startServer(dbFile: string, port?: number): Promise<DevServer> {
  const s = await startDevServer({ dbFile, ...(port !== undefined ? { port } : {}), logFile: path.join(tmp, 'temporal.log') });
  recordPid(s.pid, 'temporal server start-dev');
  servers.push(s);
  return s;
}

test('the Temporal dev server SIGKILLed mid-sync and restarted on its SQLite file: the worker reconnects and the sync completes, nothing lost or duplicated', async () => {
  const dbFile = path.join(tmp, 'temporal.db');
  const first = await startServer(dbFile);
  const port = Number(first.address.split(':').pop());
  const dir = path.join(tmp, 'demo');
  seedDemo(dir, { accounts: 0, contacts: CONTACTS, products: 0 });
  const worker = spawnWorker({ TEMPORAL_ADDRESS: first.address, DEMO_DATA_DIR: dir, SYNC_STATE_DB: path.join(dir, 'state.db'), WORKER_FAMILIES: 'sql' });
  await worker.ready;

  connection = await Connection.connect({ address: first.address });
  const client = new Client({ connection });
  const handle = await client.workflow.start('syncPipeline', {
    taskQueue: TASK_QUEUES.sql,
    workflowId: 'server-crash',
    args: [{ pipeline: 'demo-contacts', pageSize: 1000, pagesPerRun: 200 }],
  });

  // Mid-sync: some pages committed, more to go.
  const before = await waitFor(async () => {
    const p = await handle.query(progressQuery);
    return p.totals.pages >= 3 ? p : null;
  }, 'three pages to be committed', 120_000, 50);
  expect(before.totals.read).toBeLessThan(CONTACTS);

  process.kill(first.pid, 'SIGKILL');
  await waitFor(() => !isAlive(first.pid), `dev server ${first.pid} to die`, 10_000, 20);
  const killedAt = Date.now();

  // Same SQLite file, same port: the worker and the client reconnect on their own.
  const second = await startServer(dbFile, port);
  expect(second.pid).not.toBe(first.pid);
  const restartedAt = Date.now();
  const after = await waitFor(async () => {
    const p = await handle.query(progressQuery).catch(() => null);
    return p && p.totals.pages > before.totals.pages ? p : null;
  }, 'the sync to make progress after the restart', 180_000, 250);
  const resumedAt = Date.now();
  expect(worker.child.exitCode).toBeNull(); // the same worker process: it reconnected
  expect(after.totals.read).toBeGreaterThan(before.totals.read);

  const result = (await waitFor(() => handle.result().catch(() => null), 'the sync to complete', 180_000, 500)) as SyncResult;
  expect(result.status).toBe('completed');
  expect(result.totals.read).toBe(CONTACTS); // every source row read once in total across the crash

  const cmp = await compareSqlTarget(dir, 'demo-contacts', 'contacts');
  expect(cmp.problems).toEqual([]);
  expect(cmp.valid + cmp.refused).toBe(CONTACTS);
  expect(cmp.targetRows).toBe(cmp.valid);
  console.log(
    `server-crash: killed at page ${before.totals.pages}; restarted in ${((restartedAt - killedAt) / 1000).toFixed(1)} s; progress again ${((resumedAt - restartedAt) / 1000).toFixed(1)} s after the restart; ${cmp.valid} valid rows equal, ${cmp.refused} refused`,
  );
});
