/** Worker entry point: `npm run worker`. Configuration from the environment (.env.example). */
import { Client } from '@temporalio/client';
import { Runtime } from '@temporalio/worker';
import { loadRegistry } from '../pipelines/load';
import { metricsAddress, parseWorkerEnv, stateStoreLocation } from './config';
import { loadEnvFile } from './env-file';
import { startHealthServer, type HealthServer } from './health';
import { createWorkerLogger } from './logger';
import { startApprovalsGauge } from './metrics';
import { missingSearchAttributes, registerCommands } from './search-attributes';
import { connectClient, connectNative } from './temporal-connection';
import { createSyncWorkers } from './worker';
import { loadWorkflowBundle } from './workflow-bundle';

async function main(): Promise<void> {
  loadEnvFile();
  const env = parseWorkerEnv(process.env);
  // Validate every pipeline, system and mapping file before anything else: a broken file stops
  // the worker here with its name and the path inside it.
  loadRegistry({ configDir: env.SYNC_CONFIG_DIR, mappingsDir: env.SYNC_MAPPINGS_DIR, env: process.env });
  // A prebuilt bundle is checked against the sources here too: a stale one stops the worker, naming the variable.
  const workflowBundle = env.WORKFLOW_BUNDLE_PATH ? loadWorkflowBundle(env.WORKFLOW_BUNDLE_PATH) : undefined;
  const metrics = metricsAddress(env);
  Runtime.install({
    logger: createWorkerLogger(env.WORKER_LOG_LEVEL, env.WORKER_LOG_FORMAT),
    ...(metrics ? { telemetryOptions: { metrics: { prometheus: { bindAddress: metrics } } } } : {}),
  });
  // Up before connecting: a process manager sees "starting" (503 on /readyz) rather than nothing.
  let health: HealthServer | undefined;
  if (env.WORKER_HEALTH_PORT) {
    health = await startHealthServer({ host: env.WORKER_HEALTH_HOST, port: env.WORKER_HEALTH_PORT });
    // Runtime's own handlers shut the workers down on these signals; from the first one on, not ready.
    for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => health?.markDraining());
    console.log(`health endpoint on ${health.url} (/healthz, /readyz)`);
  }
  const connection = await connectNative(env.temporal);
  try {
    const namespace = env.temporal.namespace;
    const missing = await missingSearchAttributes(connection, namespace).catch(() => null);
    if (missing && missing.length) {
      throw new Error(
        `namespace "${namespace}" lacks the search attributes ${missing.join(', ')}; syncs would stall on them. Register them once:\n${registerCommands(missing, namespace)}`,
      );
    }
    const sync = await createSyncWorkers({
      connection,
      namespace,
      families: env.WORKER_FAMILIES,
      configDir: env.SYNC_CONFIG_DIR,
      mappingsDir: env.SYNC_MAPPINGS_DIR,
      stateDb: stateStoreLocation(env),
      runEventsDays: env.SYNC_RUN_EVENTS_DAYS,
      env: process.env,
      maxConcurrentActivities: env.WORKER_MAX_CONCURRENT_ACTIVITIES,
      shutdownGraceSeconds: env.WORKER_SHUTDOWN_GRACE_SECONDS,
      ...(env.APPROVAL_ISSUERS_FILE ? { approvalIssuersFile: env.APPROVAL_ISSUERS_FILE } : {}),
      approvalsPollSeconds: env.WORKER_APPROVALS_POLL_SECONDS,
      ...(workflowBundle ? { workflowBundle } : {}),
    });
    for (const m of sync.keyMigrations) {
      console.log(
        m.skipped
          ? `key prefix "${m.prefix}" for ${m.pipeline}: ${m.skipped}`
          : `key prefix "${m.prefix}" for ${m.pipeline}: ${m.rekeyed} target records rekeyed, ${m.reclaimed} handed back to their owner; next run of ${m.rereads.join(', ')} re-reads its source`,
      );
    }
    health?.setWorkers(sync.workers);
    console.log(
      `worker ready: ${sync.registry.pipelines.size} pipelines, queues ${sync.workers.map((w) => w.options.taskQueue).join(', ')} on ${env.temporal.describe()}`,
    );
    // With metrics on, count the syncs waiting for approval (a client connection of its own).
    const clientConnection = metrics ? await connectClient(env.temporal) : null;
    const stopGauge = clientConnection
      ? startApprovalsGauge(new Client({ connection: clientConnection, namespace: env.temporal.namespace }), env.WORKER_APPROVALS_POLL_SECONDS * 1000, (err) =>
          Runtime.instance().logger.warn(`approvals gauge: ${err.message}`),
        )
      : null;
    if (metrics) console.log(`metrics: http://${metrics}/metrics`);
    try {
      await sync.run(); // SIGINT/SIGTERM → Runtime shuts the workers down gracefully
    } finally {
      stopGauge?.();
      await clientConnection?.close();
    }
  } finally {
    await connection.close();
    await health?.close();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
