/**
 * Records workflow histories for the replay tests (test/workflow/replay.test.ts): runs small
 * syncs on a throwaway dev server and saves each run's history as JSON. Re-record deliberately
 * (and review the diff) when a workflow change is meant to be incompatible.
 *   npx tsx scripts/record-histories.ts
 */
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TASK_QUEUES } from '../contracts/queues';
import { seedDemo } from '../demo/seed';
import { createSyncWorkers } from '../workers/worker';
import { startDevServer } from './dev-server';

const ROOT = path.resolve(__dirname, '..');

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'record-'));
  seedDemo(dir, { accounts: 0, contacts: 0, products: 120 });
  const server = await startDevServer({});
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  const native = await NativeConnection.connect({ address: server.address });
  const sync = await createSyncWorkers({
    connection: native,
    namespace: 'default',
    families: ['sql'],
    stateDb: path.join(dir, 'state.db'),
    env: { DEMO_DATA_DIR: dir },
  });
  const running = sync.run();
  // several pages, a continue-as-new, quarantined records, then an incremental no-op run
  const cases = [
    { id: 'sync-products-paged', input: { pipeline: 'demo-products', pageSize: 25, pagesPerRun: 3 } },
    { id: 'sync-products-incremental', input: { pipeline: 'demo-products' } },
  ];
  for (const c of cases) {
    const h = await client.workflow.start('syncPipeline', { taskQueue: TASK_QUEUES.sql, workflowId: c.id, args: [c.input] });
    await h.result();
    const history = await client.workflow.getHandle(c.id, h.firstExecutionRunId).fetchHistory();
    // binary protobuf: the SDK's JSON history codec fails with protobufjs 8 ("type must be a Type")
    writeFileSync(path.join(ROOT, 'test/fixtures/histories', `${c.id}.binpb`), temporal.api.history.v1.History.encode(history).finish());
    console.log(`recorded ${c.id} (${history.events?.length ?? 0} events)`);
  }
  sync.shutdown();
  await running;
  await native.close();
  await connection.close();
  await server.stop();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
