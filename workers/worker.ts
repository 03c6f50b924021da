import { type NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities';
import { TASK_QUEUES, type PipelineFamily } from '../contracts/queues';
import { ConnectorPool, loadRegistry, type Registry } from '../pipelines/load';
import { openSqliteStateStore } from '../state/sqlite-store';
import type { StateStore } from '../state/types';

export interface SyncWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  families: PipelineFamily[];
  configDir: string;
  mappingsDir: string;
  stateDb: string;
  env: NodeJS.ProcessEnv;
  maxConcurrentActivities?: number;
  shutdownGraceSeconds?: number;
  /** A prebuilt workflow bundle (tests bundle once per suite); default: bundle from source. */
  workflowBundle?: WorkerOptions['workflowBundle'];
}

export interface SyncWorkers {
  workers: Worker[];
  registry: Registry;
  store: StateStore;
  /** Run all workers until shutdown; closes connectors and the store afterwards. */
  run(): Promise<void>;
  shutdown(): void;
}

/**
 * The composition root: load and validate config (a broken pipeline or mapping file fails here,
 * naming the file and path), open the state store, build activities, one Worker per family.
 */
export async function createSyncWorkers(opts: SyncWorkerOptions): Promise<SyncWorkers> {
  const registry = loadRegistry({ configDir: opts.configDir, mappingsDir: opts.mappingsDir, env: opts.env });
  const store = openSqliteStateStore(opts.stateDb);
  const connectors = new ConnectorPool(registry, opts.env);
  const activities = createActivities({ registry, connectors, store });
  const workers = await Promise.all(
    opts.families.map((family) =>
      Worker.create({
        connection: opts.connection,
        namespace: opts.namespace,
        taskQueue: TASK_QUEUES[family],
        ...(opts.workflowBundle ? { workflowBundle: opts.workflowBundle } : { workflowsPath: require.resolve('../workflows') }),
        activities,
        maxConcurrentActivityTaskExecutions: opts.maxConcurrentActivities ?? 20,
        shutdownGraceTime: `${opts.shutdownGraceSeconds ?? 10}s`,
      }),
    ),
  );
  return {
    workers,
    registry,
    store,
    async run() {
      try {
        await Promise.all(workers.map((w) => w.run()));
      } finally {
        await connectors.closeAll();
        await store.close();
      }
    },
    shutdown() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    },
  };
}
