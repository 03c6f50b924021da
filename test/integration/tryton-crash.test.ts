import path from 'node:path';
import type { TrytonClient } from '../../connectors/tryton/client';
import { TASK_QUEUES } from '../../contracts/queues';
import { progressQuery, type SyncResult } from '../../contracts/sync';
import { seedDemo } from '../../demo/seed';
import { startTryton, type TrytonInstance } from '../../scripts/tryton';
import { adminClient } from '../../scripts/tryton/admin-helpers';
import { openSqliteStateStore } from '../../state/sqlite-store';
import { trytonVars } from '../helpers/demo-env';
import { startDevEnv, type DevEnv } from '../helpers/env';
import { spawnWorker, waitExit } from '../helpers/worker-process';

jest.setTimeout(300_000);

const ACCOUNTS = 1200;
let env: DevEnv;
let tryton: TrytonInstance;
let admin: TrytonClient;

beforeAll(async () => {
  [env, tryton] = await Promise.all([startDevEnv(), startTryton()]);
  admin = adminClient(tryton);
});
afterAll(async () => {
  await admin?.logout();
  await tryton?.stop();
  await env?.teardown();
});

async function partyCodes(): Promise<string[]> {
  const rows = await admin.model<{ code: string }[]>('party.party', 'search_read', [[['code', 'like', 'CRM-%']], 0, null, null, ['code']], { active_test: false });
  return rows.map((r) => r.code);
}

test('a worker SIGKILLed while writing into Tryton is replaced; the sync completes with exactly one party per valid customer', async () => {
  const dir = path.join(env.tmp, 'demo');
  seedDemo(dir, { accounts: ACCOUNTS, contacts: 0, products: 0 });
  const workerEnv = {
    TEMPORAL_ADDRESS: env.server.address,
    DEMO_DATA_DIR: dir,
    SYNC_STATE_DB: path.join(dir, 'state.db'),
    WORKER_FAMILIES: 'tryton',
    ...trytonVars(tryton),
  };

  const first = spawnWorker(workerEnv);
  await first.ready;
  const handle = await env.client.workflow.start('syncPipeline', {
    taskQueue: TASK_QUEUES.tryton,
    workflowId: 'tryton-crash-test',
    args: [{ pipeline: 'tryton-customers', pageSize: 100 }],
  });
  // Kill it in the middle of a page's write into Tryton (a batch may be committed, its bindings not yet).
  for (;;) {
    const p = await handle.query(progressQuery);
    if (p.totals.pages >= 3 && p.step === 'writing') break;
    await new Promise((r) => setTimeout(r, 20));
  }
  await new Promise((r) => setTimeout(r, 150));
  first.child.kill('SIGKILL');
  await waitExit(first.child);
  const atKill = (await partyCodes()).length;
  expect(atKill).toBeGreaterThan(0);
  expect(atKill).toBeLessThan(ACCOUNTS * 0.8);

  const second = spawnWorker(workerEnv);
  try {
    await second.ready;
    const result = (await handle.result()) as SyncResult;
    expect(result.status).toBe('completed');
    expect(result.totals.read).toBeGreaterThanOrEqual(ACCOUNTS);

    const store = openSqliteStateStore(path.join(dir, 'state.db'));
    const quarantine = await store.listQuarantine('tryton-customers', 100_000);
    await store.close();
    // nothing was refused as a duplicate: the record in flight was found by its code and updated
    expect(quarantine.filter((q) => q.rule === 'Conflict')).toEqual([]);
    const quarantined = new Set(quarantine.map((q) => q.sourceKey));

    const codes = await partyCodes();
    expect(new Set(codes).size).toBe(codes.length);
    const written = new Set(codes.map((c) => c.slice('CRM-'.length)));
    for (let id = 1; id <= ACCOUNTS; id++) {
      const k = String(id);
      expect([k, written.has(k) !== quarantined.has(k)]).toEqual([k, true]);
    }
    expect(written.size).toBeGreaterThan(ACCOUNTS * 0.8);
  } finally {
    second.child.kill('SIGTERM');
    await waitExit(second.child);
  }
});
