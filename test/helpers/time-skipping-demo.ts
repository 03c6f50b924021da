import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createActivities, type Activities } from '../../activities';
import { workerQueue } from '../../contracts/queues';
import { seedDemo, type SeedSize } from '../../demo/seed';
import { ConnectorPool, loadRegistry } from '../../pipelines/load';
import { ensureTestServer } from '../../scripts/toolchain';
import { openSqliteStateStore } from '../../state/sqlite-store';
import { copyShippedConfig } from './config-copy';
import { installTestRuntime, testWorkflowBundle } from './env';

export interface TimeSkippingDemo {
  env: TestWorkflowEnvironment;
  /** The demo CRM/ERP databases, the state store (`state.db`) and the config copy (`config/`). */
  dir: string;
  /** Stops the worker and the server and removes `dir` (for afterAll; safe after a failed start). */
  stop(): Promise<void>;
}

/**
 * The time-skipping test server with the project's search attributes, a demo seeded with `seed`
 * in a new temp folder, a copy of the shipped config there changed by `config`, and one running
 * worker on `taskQueue` over them (SQLite state store).
 */
export async function startTimeSkippingDemo(opts: {
  name: string;
  taskQueue: string;
  seed: SeedSize;
  config: (configDir: string) => void;
  /** Wraps the worker's activities (to watch or steer them); the real ones by default. */
  activities?: (real: Activities) => Activities;
  /**
   * The worker's id: pages it prepares are written on its own queue (contracts/queues.ts
   * `workerQueue`), served by a second Worker. Default: none (writes on `taskQueue`).
   */
  workerId?: string;
}): Promise<TimeSkippingDemo> {
  installTestRuntime();
  const dir = mkdtempSync(path.join(os.tmpdir(), `wf-${opts.name}-`));
  let env: TestWorkflowEnvironment | undefined;
  let worker: Worker | undefined;
  let held: Worker | undefined;
  let running: Promise<void> | undefined;
  const stop = async () => {
    worker?.shutdown();
    held?.shutdown();
    await running;
    await env?.teardown();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: ensureTestServer() } } });
    await env.connection.operatorService.addSearchAttributes({
      namespace: 'default',
      searchAttributes: { SyncPipeline: 2, SyncEntity: 2, SyncStatus: 2, SyncRecordsRead: 3 },
    });
    seedDemo(dir, opts.seed);
    const configDir = copyShippedConfig(dir);
    opts.config(configDir);
    const vars = { DEMO_DATA_DIR: dir };
    const registry = loadRegistry({ configDir, env: vars });
    const activities = (opts.activities ?? ((a: Activities) => a))(
      createActivities({
        registry,
        connectors: new ConnectorPool(registry, vars),
        store: openSqliteStateStore(path.join(dir, 'state.db')),
        ...(opts.workerId ? { workerId: opts.workerId } : {}),
      }),
    );
    worker = await Worker.create({ connection: env.nativeConnection, taskQueue: opts.taskQueue, workflowBundle: await testWorkflowBundle(), activities });
    if (opts.workerId) held = await Worker.create({ connection: env.nativeConnection, taskQueue: workerQueue('sql', opts.workerId), activities });
    running = Promise.all([worker.run(), held?.run()]).then(() => undefined);
    return { env, dir, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
