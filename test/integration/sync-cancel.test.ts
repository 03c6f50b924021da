/**
 * Stopping a sync: the `cancel` signal and Temporal cancellation, on a real dev server (the
 * time-skipping test server fails to cancel a read-ahead activity that completes in the same
 * workflow task: ACTIVITY_UNKNOWN).
 */
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import { createActivities } from '../../activities';
import type { Connector } from '../../connectors/types';
import { cancelSignal, type SyncResult } from '../../contracts/sync';
import { demoPaths, seedDemo } from '../../demo/seed';
import { ConnectorPool, loadRegistry } from '../../pipelines/load';
import { openSqliteStateStore } from '../../state/sqlite-store';
import { queryDb } from '../helpers/demo-env';
import { startDevEnv, type DevEnv } from '../helpers/env';

jest.setTimeout(120_000);

let env: DevEnv;
beforeAll(async () => {
  env = await startDevEnv();
});
afterAll(async () => {
  await env?.teardown();
});

/** A pool whose target holds its first upsert until `openGate()`: a page write the test can act during. */
class GatedPool extends ConnectorPool {
  upserts = 0;
  readonly entered: Promise<void>;
  private enter!: () => void;
  private release!: () => void;
  private readonly gate = new Promise<void>((r) => (this.release = r));
  constructor(...args: ConstructorParameters<typeof ConnectorPool>) {
    super(...args);
    this.entered = new Promise((r) => (this.enter = r));
  }
  openGate(): void {
    this.release();
  }
  override get(system: string): Connector {
    const real = super.get(system);
    if (system !== 'demo-erp') return real;
    return {
      ...real,
      upsert: async (entity, batch) => {
        if (++this.upserts === 1) {
          this.enter();
          await this.gate;
        }
        return real.upsert(entity, batch);
      },
    };
  }
}

/** Sync 300 products in pages of `pageSize`; `during` runs while the first page's write is held. */
async function runGated(id: string, pageSize: number, during: (h: WorkflowHandle) => Promise<unknown>) {
  const dir = mkdtempSync(path.join(env.tmp, `${id}-`));
  seedDemo(dir, { accounts: 0, contacts: 0, products: 300 });
  const vars = { DEMO_DATA_DIR: dir };
  const registry = loadRegistry({ env: vars });
  const pool = new GatedPool(registry, vars);
  const store = openSqliteStateStore(path.join(dir, 'state.db'));
  const worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: 'default',
    taskQueue: `ts-${id}`,
    workflowBundle: env.workflowBundle,
    activities: createActivities({ registry, connectors: pool, store }),
  });
  const outcome = await worker.runUntil(async () => {
    const h = await env.client.workflow.start('syncPipeline', { taskQueue: `ts-${id}`, workflowId: `ts-${id}`, args: [{ pipeline: 'demo-products', pageSize }] });
    await pool.entered;
    try {
      await during(h);
    } finally {
      pool.openGate();
    }
    return h.result().then(
      (result) => ({ result: result as SyncResult, err: null }),
      (err: unknown) => ({ result: null, err }),
    );
  });
  const erpRows = queryDb<{ c: number }>(demoPaths(dir).erp, 'SELECT count(*) c FROM products')[0]!.c;
  return { ...outcome, store, erpRows };
}

test('the cancel signal stops the sync cleanly after the page in flight and records the run report', async () => {
  const { result, err, store, erpRows } = await runGated('cancel-signal', 50, (h) => h.signal(cancelSignal, { by: 'alice', reason: 'test' }));
  if (err) throw err;
  expect(result!.status).toBe('cancelled');
  expect(result!.totals.pages).toBe(1); // the held page is finished, no other page is written
  expect(result!.totals.read).toBe(50);
  expect(erpRows).toBe(result!.totals.created);
  expect(erpRows).toBeLessThanOrEqual(50);
  const reports = await store.listRunReports('demo-products');
  expect(reports.map((r) => [r.syncId, r.status, r.totals.pages])).toEqual([[result!.syncId, 'cancelled', 1]]);
  await store.close();
});

test('Temporal cancellation (Web UI "Cancel") ends the sync as cancelled and records the run report', async () => {
  const { result, err, store, erpRows } = await runGated('cancel-temporal', 50, (h) => h.cancel());
  expect(result).toBeNull();
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
  const reports = await store.listRunReports('demo-products');
  expect(reports.map((r) => [r.syncId.startsWith('ts-cancel-temporal@'), r.status])).toEqual([[true, 'cancelled']]);
  // Cancelled during the first page's write: the write learns of it at its next heartbeat, and
  // since throughput-v2 it does not heartbeat after its last batch, so a page whose batches were
  // all sent completes (and is counted) while one still sending stops. Either way no later page.
  expect(reports[0]!.totals.pages).toBeLessThanOrEqual(1);
  expect(erpRows).toBe(reports[0]!.totals.pages === 1 ? reports[0]!.totals.created : erpRows);
  expect(erpRows).toBeLessThanOrEqual(50); // no page after the cancelled one was written
  await store.close();
});
