import { MockActivityEnvironment } from '@temporalio/testing';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createSyncActivities } from '../../activities/sync';
import type { PlanPage } from '../../activities/sync-types';
import type { Connector, WriteRequest } from '../../connectors/types';
import { seedDemo } from '../../demo/seed';
import { ConnectorPool, loadRegistry, type Registry } from '../../pipelines/load';
import { openSqliteStateStore } from '../../state/sqlite-store';
import type { StateStore } from '../../state/types';
import { linkedTargets } from '../helpers/links';
import { runActivity as run } from '../helpers/activity-run';

/** The demo ERP with batches of 10, recording every upsert batch's external keys. */
class RecordingPool extends ConnectorPool {
  batches: string[][] = [];
  override get(system: string): Connector {
    const real = super.get(system);
    if (system !== 'demo-erp') return real;
    return {
      ...real,
      describe: () => ({ ...real.describe(), maxBatchSize: 10 }),
      upsert: async (entity: string, batch: WriteRequest[]) => {
        this.batches.push(batch.map((b) => b.externalKey));
        return real.upsert(entity, batch);
      },
    };
  }
}

/** `env.run`, typed by the activity's own signature. */

let store: StateStore;
let registry: Registry;
let pool: RecordingPool;
let acts: ReturnType<typeof createSyncActivities>;
let seq = 0;

beforeEach(() => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'write-page-'));
  seedDemo(dir, { accounts: 0, contacts: 0, products: 60 });
  const vars = { DEMO_DATA_DIR: dir };
  registry = loadRegistry({ env: vars });
  pool = new RecordingPool(registry, vars);
  store = openSqliteStateStore(path.join(dir, 'state.db'));
  acts = createSyncActivities({ registry, connectors: pool, store });
});
afterEach(async () => {
  await store.close();
});

/** Fetch, map and plan one page of demo products; the plan's ops and hash. */
async function planned() {
  const ref = { pipeline: 'demo-products', syncId: `sync-${++seq}`, seq: 0 };
  const env = new MockActivityEnvironment();
  const fetched = await run(env, acts.fetchPage, { ...ref, after: null, limit: 100 });
  const mapped = await run(env, acts.mapPage, { ...ref, pageId: fetched.pageId });
  const plan = await run(env, acts.planPage, { ...ref, mappedPageId: mapped.mappedPageId });
  const { ops } = await store.loadPage<PlanPage>(plan.planPageId);
  return { ref, plan, ops };
}

test('writePage resumes at the batch its last heartbeat reached, keeping the counts so far', async () => {
  const { ref, plan, ops } = await planned();
  expect(ops.length).toBeGreaterThan(30);
  const env = new MockActivityEnvironment({ heartbeatDetails: { next: 20, created: 20, updated: 0, quarantined: 0 }, attempt: 2 });
  const beats: { next: number }[] = [];
  env.on('heartbeat', (d: { next: number }) => beats.push(d));
  const result = await run(env, acts.writePage, { ...ref, planPageId: plan.planPageId, planHash: plan.planHash });

  // only the ops from index 20 on reach the target, in batches of 10
  expect(pool.batches.flat()).toEqual(ops.slice(20).map((o) => o.sourceKey));
  expect(pool.batches[0]).toHaveLength(10);
  expect(result.created + result.quarantined).toBe(ops.length); // 20 from the earlier attempt
  expect(result.created).toBeGreaterThanOrEqual(20);
  // a heartbeat after every batch but the last (its completion follows at once)
  expect(beats.at(-1)!.next).toBeGreaterThanOrEqual(ops.length - 10);
  expect(beats.at(-1)!.next).toBeLessThan(ops.length);
  // the ops the earlier attempt wrote are not linked by this attempt
  const bound = await linkedTargets(store, registry, 'demo-products', ops.map((o) => o.sourceKey));
  expect(ops.slice(0, 20).filter((o) => bound.has(o.sourceKey))).toEqual([]);
});

test('writePage from the start writes every op (the control for the resume test)', async () => {
  const { ref, plan, ops } = await planned();
  const result = await run(new MockActivityEnvironment(), acts.writePage, { ...ref, planPageId: plan.planPageId, planHash: plan.planHash });
  expect(pool.batches.flat()).toEqual(ops.map((o) => o.sourceKey));
  expect(result.created + result.quarantined).toBe(ops.length);
});

test('writePage refuses a plan whose hash is not the approved one, and writes nothing', async () => {
  const { ref, plan } = await planned();
  const write = run(new MockActivityEnvironment(), acts.writePage, { ...ref, planPageId: plan.planPageId, planHash: `${plan.planHash}x` });
  await expect(write).rejects.toMatchObject({ type: 'Conflict', message: expect.stringContaining('no longer matches the approved plan') });
  expect(pool.batches).toEqual([]);
  const bound = await linkedTargets(store, registry, 'demo-products', ['1', '2', '3']);
  expect(bound.size).toBe(0);
});
