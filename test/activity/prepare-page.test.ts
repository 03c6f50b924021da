import { MockActivityEnvironment } from '@temporalio/testing';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HeldPages } from '../../activities/held-pages';
import { createSyncActivities } from '../../activities/sync';
import { TASK_QUEUES, workerQueue } from '../../contracts/queues';
import { seedDemo } from '../../demo/seed';
import { ConnectorPool, loadRegistry } from '../../pipelines/load';
import { openSqliteStateStore } from '../../state/sqlite-store';
import type { StateStore } from '../../state/types';
import { runActivity as run } from '../helpers/activity-run';
import { demoDbs, queryDb } from '../helpers/demo-env';


let dir: string;
let store: StateStore;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'prepare-page-'));
  seedDemo(dir, { accounts: 0, contacts: 0, products: 60 });
  store = openSqliteStateStore(path.join(dir, 'state.db'));
});
afterEach(async () => {
  await store.close();
});

const workerOver = (s: StateStore, workerId: string) => {
  const vars = { DEMO_DATA_DIR: dir };
  const registry = loadRegistry({ env: vars });
  return createSyncActivities({ registry, connectors: new ConnectorPool(registry, vars), store: s, workerId });
};

test('preparePage plans a page and names its worker queue; another worker writes it from the claim check, and the cursor moves only with the write', async () => {
  const a = workerOver(store, 'worker-a');
  const ref = { pipeline: 'demo-products', syncId: 'sync-1', seq: 0 };
  const page = await run(new MockActivityEnvironment(), a.preparePage, { ...ref, after: null, limit: 100 });
  expect(page.count).toBe(60);
  expect(page.heldBy).toBe(workerQueue('sql', 'worker-a'));
  expect(page.heldBy).not.toBe(TASK_QUEUES.sql);
  expect(page.plan!.creates).toBeGreaterThan(0);
  expect(page.valid + page.quarantined).toBe(60);
  // Prepared, not written: the checkpoint has not moved.
  expect(await store.getCheckpoint('demo-products')).toBeNull();

  // Worker B: its own store instance over the same file (nothing in memory), as after A died.
  const otherStore = openSqliteStateStore(path.join(dir, 'state.db'));
  try {
    const b = workerOver(otherStore, 'worker-b');
    const written = await run(new MockActivityEnvironment(), b.writePage, { ...ref, planPageId: page.plan!.planPageId, planHash: page.plan!.planHash, commit: { cursor: page.nextCursor } });
    expect(written.created + written.quarantined).toBe(page.plan!.creates + page.plan!.updates);
    expect(await store.getCheckpoint('demo-products')).toEqual(page.nextCursor);
    // A retry of the same write (the commit done, the completion lost) writes nothing twice: it
    // answers what the write answered, and the ERP has one product per source product.
    const products = () => queryDb<{ n: number }>(demoDbs(dir).erp, 'SELECT COUNT(*) n FROM products')[0]!.n;
    const before = products();
    const again = await run(new MockActivityEnvironment(), b.writePage, { ...ref, planPageId: page.plan!.planPageId, planHash: page.plan!.planHash, commit: { cursor: page.nextCursor } });
    expect(again).toEqual(written);
    expect(products()).toBe(before);
    expect(before).toBe(written.created);
    // On a worker that did not commit it (a retry elsewhere), the upserts find every product: nothing created.
    const elsewhere = await run(new MockActivityEnvironment(), workerOver(otherStore, 'worker-c').writePage, { ...ref, planPageId: page.plan!.planPageId, planHash: page.plan!.planHash, commit: { cursor: page.nextCursor } });
    expect(elsewhere.created).toBe(0);
    expect(products()).toBe(before);
  } finally {
    await otherStore.close();
  }
});

test('held pages: bounded, oldest out first, dropped by prefix', () => {
  const held = new HeldPages<number>(2);
  held.put('s/0/plan', 0);
  held.put('s/1/plan', 1);
  held.put('s/2/plan', 2);
  expect(held.get('s/0/plan')).toBeUndefined();
  expect(held.get('s/2/plan')).toBe(2);
  held.put('t/0/plan', 9);
  held.dropPrefix('s/');
  expect(held.size).toBe(1);
  expect(held.get('t/0/plan')).toBe(9);
});
