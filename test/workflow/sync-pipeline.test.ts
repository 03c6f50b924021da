import { WorkflowFailedError } from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Worker } from '@temporalio/worker';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createActivities } from '../../activities';
import { SyncError } from '../../contracts/errors';
import type { SyncResult } from '../../contracts/sync';
import type { Connector } from '../../connectors/types';
import { seedDemo } from '../../demo/seed';
import { ConnectorPool, loadRegistry } from '../../pipelines/load';
import { ensureTestServer } from '../../scripts/toolchain';
import { openSqliteStateStore } from '../../state/sqlite-store';
import { installTestRuntime } from '../helpers/env';

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
  bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), logger: new DefaultLogger('WARN') });
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

test('RateLimited waits the delay the target asked for (nextRetryDelay), not the backoff', async () => {
  const { result, pool, err } = await runWith(2, 'RateLimited', 90_000);
  if (err) throw err;
  expect(result?.status).toBe('completed');
  expect(pool.attempts).toBeGreaterThanOrEqual(2 + 3);
  // two 90 s delays; the backoff alone would wait 1 + 2 s
  expect(result!.durationMs).toBeGreaterThanOrEqual(180_000);
  expect(result!.durationMs).toBeLessThan(300_000);
});
