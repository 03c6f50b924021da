import path from 'node:path';
import { TASK_QUEUES } from '../../contracts/queues';
import { progressQuery, type SyncResult } from '../../contracts/sync';
import { seedDemo } from '../../demo/seed';
import { openSqliteStateStore } from '../../state/sqlite-store';
import { demoDbs, queryDb } from '../helpers/demo-env';
import { startDevEnv, type DevEnv } from '../helpers/env';
import { spawnWorker, waitExit } from '../helpers/worker-process';

jest.setTimeout(300_000);

let env: DevEnv;
beforeAll(async () => {
  env = await startDevEnv();
});
afterAll(async () => {
  await env?.teardown();
});

test('a worker killed with SIGKILL mid-sync is replaced and the sync completes with exactly one row per valid record', async () => {
  const dir = path.join(env.tmp, 'demo');
  seedDemo(dir, { accounts: 0, contacts: 30_000, products: 0 });
  const workerEnv = {
    TEMPORAL_ADDRESS: env.server.address,
    DEMO_DATA_DIR: dir,
    SYNC_STATE_DB: path.join(dir, 'state.db'),
    WORKER_FAMILIES: 'sql',
  };

  const first = spawnWorker(workerEnv);
  await first.ready;
  const handle = await env.client.workflow.start('syncPipeline', {
    taskQueue: TASK_QUEUES.sql,
    workflowId: 'crash-test',
    args: [{ pipeline: 'demo-contacts', pageSize: 250 }],
  });
  // Let it get well into the sync, then kill the worker without any chance to clean up.
  for (;;) {
    const p = await handle.query(progressQuery);
    if (p.totals.pages >= 10) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  first.child.kill('SIGKILL');
  await waitExit(first.child);
  const { erp } = demoDbs(dir);
  const atKill = queryDb<{ c: number }>(erp, 'SELECT count(*) c FROM contacts')[0]!.c;
  expect(atKill).toBeGreaterThan(0);
  expect(atKill).toBeLessThan(30_000);

  const second = spawnWorker(workerEnv);
  try {
    await second.ready;
    const result = (await handle.result()) as SyncResult;
    expect(result.status).toBe('completed');

    const store = openSqliteStateStore(path.join(dir, 'state.db'));
    const quarantined = new Set((await store.listQuarantine('demo-contacts', 100_000)).map((q) => q.sourceKey));
    await store.close();
    const rows = queryDb<{ k: string; n: number }>(erp, 'SELECT external_key k, count(*) n FROM contacts GROUP BY external_key');
    expect(rows.every((r) => r.n === 1)).toBe(true);
    const written = new Set(rows.map((r) => r.k));
    // every source record is either in the target exactly once or in quarantine, never both
    for (let id = 1; id <= 30_000; id++) {
      const k = String(id);
      expect(written.has(k) !== quarantined.has(k)).toBe(true);
    }
    expect(quarantined.size).toBeGreaterThan(0);
  } finally {
    second.child.kill('SIGTERM');
    await waitExit(second.child);
  }
});
