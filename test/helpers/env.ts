import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Runtime, DefaultLogger } from '@temporalio/worker';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDevServer, type DevServer } from '../../scripts/dev-server';
import { writeWorkflowBundle } from '../../workers/workflow-bundle';
import { RUN_ENV, workflowBundleFile } from './processes';

export const ROOT = path.resolve(__dirname, '../..');

let runtimeInstalled = false;
/** Quiet worker logs in tests (warnings and errors still show). */
export function installTestRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({ logger: new DefaultLogger('WARN') });
}

let bundle: Promise<{ code: string }> | undefined;
/**
 * The workflow bundle of `workflows/`, built once per test run and shared by every test file
 * (jest runs each file in a fresh module registry, so a module-level cache alone would rebuild it
 * per file, ~4 s each). The run id comes from the global setup and is new for every `jest`
 * invocation, so a bundle never outlives the sources it was built from. Outside jest's run (no
 * run id) it is built here as before.
 */
export function testWorkflowBundle(): Promise<{ code: string }> {
  bundle ??= (async () => {
    const file = sharedWorkflowBundleFile();
    if (!file) return { code: (await bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), logger: new DefaultLogger('WARN') })).code };
    if (!existsSync(file)) await writeWorkflowBundle(file);
    return { code: readFileSync(file, 'utf8') };
  })();
  return bundle;
}

/**
 * The run's shared bundle file (stamped, see workers/workflow-bundle.ts), or undefined outside a jest
 * run. Spawned workers load it through WORKFLOW_BUNDLE_PATH (test/helpers/worker-process.ts).
 */
export function sharedWorkflowBundleFile(): string | undefined {
  const runId = process.env[RUN_ENV];
  return runId ? workflowBundleFile(runId) : undefined;
}

export interface DevEnv {
  server: DevServer;
  client: Client;
  connection: Connection;
  nativeConnection: NativeConnection;
  workflowBundle: { code: string };
  tmp: string;
  teardown(): Promise<void>;
}

/** A real Temporal dev server for one test file, a client, and the workflow bundle built once. */
export async function startDevEnv(): Promise<DevEnv> {
  installTestRuntime();
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'crm-erp-sync-'));
  const workflowBundle = testWorkflowBundle(); // built (or read) while the server starts
  workflowBundle.catch(() => undefined); // a failure is thrown by the await below, not as an unhandled rejection
  const server = await startDevServer({ dbFile: path.join(tmp, 'temporal.db'), logFile: path.join(tmp, 'temporal.log') });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  const nativeConnection = await NativeConnection.connect({ address: server.address });
  return {
    server,
    client,
    connection,
    nativeConnection,
    workflowBundle: await workflowBundle,
    tmp,
    async teardown() {
      await nativeConnection.close();
      await connection.close();
      // Its database is deleted next: no graceful shutdown (~2 s a file) to wait for.
      try {
        process.kill(server.pid, 'SIGKILL');
      } catch {
        // already gone (a crash test killed it)
      }
      await server.stop();
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}
