import { WorkflowFailedError } from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createActivities } from '../../activities';
import { SyncError } from '../../contracts/errors';
import { pauseSignal, progressQuery, resumeSignal, type SyncResult } from '../../contracts/sync';
import type { Connector } from '../../connectors/types';
import { seedDemo } from '../../demo/seed';
import { ConnectorPool, loadRegistry } from '../../pipelines/load';
import { ensureTestServer } from '../../scripts/toolchain';
import { openSqliteStateStore } from '../../state/sqlite-store';
import { installTestRuntime, testWorkflowBundle } from '../helpers/env';

jest.setTimeout(60_000);

let env: TestWorkflowEnvironment;
let bundle: { code: string };

beforeAll(async () => {
  installTestRuntime();
  env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: ensureTestServer() } } });
  await env.connection.operatorService.addSearchAttributes({
    namespace: 'default',
    searchAttributes: { SyncPipeline: 2, SyncEntity: 2, SyncStatus: 2, SyncRecordsRead: 3 }, // KEYWORD, KEYWORD, KEYWORD, INT
  });
  bundle = await testWorkflowBundle();
});
afterAll(async () => {
  await env?.teardown();
});

/** A connector pool whose target fails its first `failures` upserts with `type`. */
class FlakyPool extends ConnectorPool {
  attempts = 0;
  constructor(
    registry: ConstructorParameters<typeof ConnectorPool>[0],
    envVars: NodeJS.ProcessEnv,
    private readonly failures: number,
    private readonly type: 'Transient' | 'AuthError' | 'RateLimited',
    private readonly retryAfterMs?: number,
  ) {
    super(registry, envVars);
  }
  override get(system: string): Connector {
    const real = super.get(system);
    if (system !== 'demo-erp') return real;
    return {
      ...real,
      upsert: async (entity, batch) => {
        this.attempts++;
        if (this.attempts <= this.failures) {
          throw new SyncError(this.type, `ERP said no (${this.type}) on attempt ${this.attempts}`, this.retryAfterMs ? { retryAfterMs: this.retryAfterMs } : {});
        }
        return real.upsert(entity, batch);
      },
    };
  }
}

async function runWith(failures: number, type: 'Transient' | 'AuthError' | 'RateLimited', retryAfterMs?: number) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wf-sync-'));
  seedDemo(dir, { accounts: 0, contacts: 0, products: 300 });
  const vars = { DEMO_DATA_DIR: dir };
  const registry = loadRegistry({ env: vars });
  const pool = new FlakyPool(registry, vars, failures, type, retryAfterMs);
  const store = openSqliteStateStore(path.join(dir, 'state.db'));
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: `ts-sync-${type}`,
    workflowBundle: bundle,
    activities: createActivities({ registry, connectors: pool, store }),
  });
  try {
    const result = await worker.runUntil(
      env.client.workflow.execute('syncPipeline', { taskQueue: `ts-sync-${type}`, workflowId: `ts-${type}-${failures}`, args: [{ pipeline: 'demo-products', pageSize: 100 }] }),
    );
    return { result: result as SyncResult, pool, store };
  } catch (err) {
    return { err, pool, store };
  }
}

test('transient write failures are retried with backoff until the page is written', async () => {
  const { result, pool, store, err } = await runWith(4, 'Transient');
  if (err) throw err;
  expect(result?.status).toBe('completed');
  expect(pool.attempts).toBeGreaterThanOrEqual(4 + 3);
  // backoff from 1 s doubling: 1 + 2 + 4 + 8 s waited before the fifth attempt (on the skipped clock)
  expect(result!.durationMs).toBeGreaterThanOrEqual(15_000);
  expect(result!.durationMs).toBeLessThan(60_000);
  expect(result!.totals.created + result!.totals.quarantined).toBe(300);
  expect(await store.listQuarantine('demo-products')).toHaveLength(result!.totals.quarantined);
});

test('a permanent failure (AuthError) is not retried and fails the sync naming the step and cause', async () => {
  const { err, pool } = await runWith(100, 'AuthError');
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
  expect(cause.type).toBe('AuthError');
  expect(cause.message).toBe('writing failed: ERP said no (AuthError) on attempt 1');
  expect(pool.attempts).toBe(1);
});

test('a pipeline of another family started on this worker\'s queue is refused, naming its family and queue', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wf-family-'));
  seedDemo(dir, { accounts: 0, contacts: 0, products: 0 });
  const vars = { DEMO_DATA_DIR: dir };
  const registry = loadRegistry({ env: vars });
  const pool = new FlakyPool(registry, vars, 0, 'Transient');
  const opened: string[] = [];
  const get = pool.get.bind(pool);
  pool.get = (system: string) => (opened.push(system), get(system));
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: 'crm-erp-sync.sql', // the sql family's queue, as `npm run worker` serves it
    workflowBundle: bundle,
    activities: createActivities({ registry, connectors: pool, store: openSqliteStateStore(path.join(dir, 'state.db')) }),
  });
  const err = await worker
    .runUntil(env.client.workflow.execute('syncPipeline', { taskQueue: 'crm-erp-sync.sql', workflowId: 'ts-wrong-family', args: [{ pipeline: 'tryton-customers' }] }))
    .then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
  expect(cause.type).toBe('ConfigError');
  expect(cause.nonRetryable).toBe(true);
  expect(cause.message).toMatch(
    /pipeline "tryton-customers" belongs to the tryton family: start it on task queue crm-erp-sync\.tryton \(served by a worker with WORKER_FAMILIES including tryton\), not crm-erp-sync\.sql/,
  );
  expect(opened).toEqual([]); // refused before any connector (and its secret) was touched
});

test('progress shows who paused the sync and why, until it is resumed', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wf-pause-'));
  seedDemo(dir, { accounts: 0, contacts: 0, products: 300 });
  const vars = { DEMO_DATA_DIR: dir };
  const registry = loadRegistry({ env: vars });
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: 'ts-pause',
    workflowBundle: bundle,
    activities: createActivities({ registry, connectors: new ConnectorPool(registry, vars), store: openSqliteStateStore(path.join(dir, 'state.db')) }),
  });
  await worker.runUntil(async () => {
    const h = await env.client.workflow.start('syncPipeline', { taskQueue: 'ts-pause', workflowId: 'ts-pause', args: [{ pipeline: 'demo-products', pageSize: 50 }] });
    await h.signal(pauseSignal, { by: 'alice', reason: 'ERP maintenance' });
    let p = await h.query(progressQuery);
    for (let i = 0; p.status !== 'paused' && i < 100; i++) {
      await new Promise((r) => setTimeout(r, 100));
      p = await h.query(progressQuery);
    }
    expect(p).toMatchObject({ status: 'paused', pausedBy: 'alice', pausedReason: 'ERP maintenance' });
    await h.signal(resumeSignal, { by: 'alice' });
    for (let i = 0; p.status === 'paused' && i < 100; i++) {
      await new Promise((r) => setTimeout(r, 100));
      p = await h.query(progressQuery);
    }
    expect(p).toMatchObject({ pausedBy: null, pausedReason: null });
    expect(((await h.result()) as SyncResult).status).toBe('completed');
  });
});

test('RateLimited waits the delay the target asked for (nextRetryDelay), not the backoff', async () => {
  const { result, pool, err } = await runWith(2, 'RateLimited', 90_000);
  if (err) throw err;
  expect(result?.status).toBe('completed');
  expect(pool.attempts).toBeGreaterThanOrEqual(2 + 3);
  // two 90 s delays; the backoff alone would wait 1 + 2 s
  expect(result!.durationMs).toBeGreaterThanOrEqual(180_000);
  expect(result!.durationMs).toBeLessThan(300_000);
});
