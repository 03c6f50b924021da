/** Worker entry point: `npm run worker`. Configuration from the environment (.env.example). */
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime } from '@temporalio/worker';
import { loadRegistry } from '../pipelines/load';
import { metricsAddress, parseWorkerEnv } from './config';
import { loadEnvFile } from './env-file';
import { createWorkerLogger } from './logger';
import { startApprovalsGauge } from './metrics';
import { missingSearchAttributes, registerCommands } from './search-attributes';
import { createSyncWorkers } from './worker';

async function main(): Promise<void> {
  loadEnvFile();
  const env = parseWorkerEnv(process.env);
  // Validate every pipeline, system and mapping file before anything else: a broken file stops
  // the worker here with its name and the path inside it.
  loadRegistry({ configDir: env.SYNC_CONFIG_DIR, mappingsDir: env.SYNC_MAPPINGS_DIR, env: process.env });
  const metrics = metricsAddress(env);
  Runtime.install({
    logger: createWorkerLogger(env.WORKER_LOG_LEVEL, env.WORKER_LOG_FORMAT),
    ...(metrics ? { telemetryOptions: { metrics: { prometheus: { bindAddress: metrics } } } } : {}),
  });
  const connection = await NativeConnection.connect({ address: env.TEMPORAL_ADDRESS, ...(env.TEMPORAL_TLS ? { tls: true } : {}) });
  try {
    const missing = await missingSearchAttributes(connection, env.TEMPORAL_NAMESPACE).catch(() => null);
    if (missing && missing.length) {
      throw new Error(
        `namespace "${env.TEMPORAL_NAMESPACE}" lacks the search attributes ${missing.join(', ')}; syncs would stall on them. Register them once:\n${registerCommands(missing, env.TEMPORAL_NAMESPACE)}`,
      );
    }
    const sync = await createSyncWorkers({
      connection,
      namespace: env.TEMPORAL_NAMESPACE,
      families: env.WORKER_FAMILIES,
      configDir: env.SYNC_CONFIG_DIR,
      mappingsDir: env.SYNC_MAPPINGS_DIR,
      stateDb: env.SYNC_STATE_DB,
      env: process.env,
      maxConcurrentActivities: env.WORKER_MAX_CONCURRENT_ACTIVITIES,
      shutdownGraceSeconds: env.WORKER_SHUTDOWN_GRACE_SECONDS,
      ...(env.APPROVAL_ISSUERS_FILE ? { approvalIssuersFile: env.APPROVAL_ISSUERS_FILE } : {}),
      approvalsPollSeconds: env.WORKER_APPROVALS_POLL_SECONDS,
    });
    for (const m of sync.keyMigrations) {
      console.log(
        m.skipped
          ? `key prefix "${m.prefix}" for ${m.pipeline}: ${m.skipped}`
          : `key prefix "${m.prefix}" for ${m.pipeline}: ${m.rekeyed} target records rekeyed, ${m.reclaimed} handed back to their owner; next run of ${m.rereads.join(', ')} re-reads its source`,
      );
    }
    console.log(
      `worker ready: ${sync.registry.pipelines.size} pipelines, queues ${sync.workers.map((w) => w.options.taskQueue).join(', ')} on ${env.TEMPORAL_ADDRESS}`,
    );
    // With metrics on, count the syncs waiting for approval (a client connection of its own).
    const clientConnection = metrics ? await Connection.connect({ address: env.TEMPORAL_ADDRESS, ...(env.TEMPORAL_TLS ? { tls: true } : {}) }) : null;
    const stopGauge = clientConnection
      ? startApprovalsGauge(new Client({ connection: clientConnection, namespace: env.TEMPORAL_NAMESPACE }), env.WORKER_APPROVALS_POLL_SECONDS * 1000, (err) =>
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
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
