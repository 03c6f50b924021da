import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Runtime, DefaultLogger } from '@temporalio/worker';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDevServer, type DevServer } from '../../scripts/dev-server';

export const ROOT = path.resolve(__dirname, '../..');

let runtimeInstalled = false;
/** Quiet worker logs in tests (warnings and errors still show). */
export function installTestRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({ logger: new DefaultLogger('WARN') });
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
  const server = await startDevServer({ dbFile: path.join(tmp, 'temporal.db'), logFile: path.join(tmp, 'temporal.log') });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  const nativeConnection = await NativeConnection.connect({ address: server.address });
  const workflowBundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), logger: new DefaultLogger('WARN') });
  return {
    server,
    client,
    connection,
    nativeConnection,
    workflowBundle,
    tmp,
    async teardown() {
      await nativeConnection.close();
      await connection.close();
      await server.stop();
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}
