/** `npx crm-erp-sync …`: the operator CLI's entry point (reads the environment, like workers/main.ts). */
import { Client, type Connection } from '@temporalio/client';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { openPostgresStateStore } from '../state/postgres-store';
import { openSqliteStateStore } from '../state/sqlite-store';
import type { StateStore } from '../state/types';
import { parseWorkerEnv } from '../workers/config';
import { loadEnvFile } from '../workers/env-file';
import { connectClient } from '../workers/temporal-connection';
import { flushTracing, tracingClientInterceptors } from '../workers/tracing';
import { CliError, EXIT, runCli } from './program';

async function main(): Promise<number> {
  loadEnvFile();
  let env;
  try {
    env = parseWorkerEnv(process.env);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return EXIT.usage;
  }
  let connection: Connection | undefined;
  let store: StateStore | undefined;
  let interceptors;
  try {
    interceptors = tracingClientInterceptors(process.env, 'cli'); // OTEL_EXPORTER_OTLP_ENDPOINT: off by default
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return EXIT.usage;
  }
  try {
    return await runCli(process.argv.slice(2), {
      env,
      stdout: (t) => process.stdout.write(t),
      stderr: (t) => process.stderr.write(t),
      user: process.env.USER ?? os.userInfo().username,
      store: () => {
        if (!store && env.SYNC_STATE_URL) return (store = openPostgresStateStore(env.SYNC_STATE_URL, { runEventsDays: env.SYNC_RUN_EVENTS_DAYS }));
        if (!store && !existsSync(env.SYNC_STATE_DB)) {
          throw new CliError(EXIT.notFound, `state store ${env.SYNC_STATE_DB} does not exist (SYNC_STATE_DB, default $DEMO_DATA_DIR/state.db); a worker creates it on its first sync`);
        }
        return (store ??= openSqliteStateStore(env.SYNC_STATE_DB, { runEventsDays: env.SYNC_RUN_EVENTS_DAYS }));
      },
      async client() {
        try {
          connection ??= await connectClient(env.temporal, { connectTimeout: '5s' });
        } catch (err) {
          throw new Error(`cannot reach Temporal at ${env.temporal.describe()} (TEMPORAL_ADDRESS): ${(err as Error).message}`);
        }
        return new Client({ connection, namespace: env.temporal.namespace, ...(interceptors ? { interceptors } : {}) });
      },
    });
  } finally {
    await store?.close();
    await connection?.close();
    await flushTracing().catch(() => undefined); // a collector that is down costs no exit code
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = EXIT.failure;
  },
);
