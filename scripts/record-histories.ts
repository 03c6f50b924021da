/**
 * Records workflow histories for the replay tests (test/workflow/replay.test.ts): runs small
 * syncs on a throwaway dev server and saves each run's history as JSON. Re-record deliberately
 * (and review the diff) when a workflow change is meant to be incompatible.
 *   npx tsx scripts/record-histories.ts [case id…]
 */
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TASK_QUEUES } from '../contracts/queues';
import Database from 'better-sqlite3';
import { demoPaths, seedDemo } from '../demo/seed';
import { createSyncWorkers } from '../workers/worker';
import { startDevServer } from './dev-server';

const ROOT = path.resolve(__dirname, '..');

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'record-'));
  seedDemo(dir, { accounts: 60, contacts: 0, products: 120 });
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
  // several pages, a continue-as-new, quarantined records, then an incremental no-op run; then a
  // dry run of a few changed products (two pages) and the apply of its plan
  let last: unknown = null;
  const touchProducts = () => {
    const db = new Database(demoPaths(dir).crm);
    db.prepare("UPDATE products SET name = name || ' v2', updated_at = ? WHERE id <= 30").run(new Date().toISOString());
    db.close();
  };
  // A pair: linked by a first sync, then a dry run of edits on both sides (two pages each) and its apply.
  const editPair = () => {
    const at = new Date(Date.now() + 1000).toISOString();
    const erp = new Database(demoPaths(dir).erp);
    const keys = (erp.prepare('SELECT external_key k FROM customers ORDER BY id LIMIT 3').all() as { k: string }[]).map((r) => Number(r.k));
    erp.prepare('UPDATE customers SET credit_limit_minor = 424200, updated_at = ? WHERE id IN (SELECT id FROM customers ORDER BY id DESC LIMIT 2)').run(at);
    erp.close();
    const crm = new Database(demoPaths(dir).crm);
    for (const k of keys) crm.prepare("UPDATE accounts SET company_name = company_name || ' v2', updated_at = ? WHERE id = ?").run(at, k);
    crm.close();
  };
  const cases: { id: string; type?: string; before?: () => void; input: () => unknown }[] = [
    { id: 'sync-products-paged', input: () => ({ pipeline: 'demo-products', pageSize: 25, pagesPerRun: 3 }) },
    { id: 'sync-products-incremental', input: () => ({ pipeline: 'demo-products' }) },
    { id: 'dry-run-products', before: touchProducts, input: () => ({ pipeline: 'demo-products', mode: 'dry-run', pageSize: 20 }) },
    { id: 'apply-plan-products', type: 'applyPlan', input: () => ({ planId: (last as { plan: { planId: string } }).plan.planId, chunkSize: 10 }) },
    { id: 'sync-pair-customers', type: 'syncPair', input: () => ({ pair: 'demo-customers', pageSize: 20 }) },
    { id: 'pair-dry-run-customers', type: 'syncPair', before: editPair, input: () => ({ pair: 'demo-customers', mode: 'dry-run', pageSize: 20 }) },
    { id: 'apply-pair-plan-customers', type: 'applyPairPlan', input: () => ({ planId: (last as { plan: { planId: string } }).plan.planId, chunkSize: 2 }) },
    // throughput-v2: a full re-read with changed products, pages prepared ahead of their writes
    { id: 'sync-products-read-ahead', before: touchProducts, input: () => ({ pipeline: 'demo-products', mode: 'full', pageSize: 20, pagesPerRun: 4 }) },
    // pair-read-ahead: edits on both sides, a full re-read of both sides in pages prepared ahead of their writes
    { id: 'sync-pair-read-ahead', type: 'syncPair', before: editPair, input: () => ({ pair: 'demo-customers', mode: 'full', pageSize: 20, pagesPerRun: 4 }) },
    // throughput-v3: a full re-read with changed products, each page's write started ahead of the previous one's end
    { id: 'sync-products-write-ahead', before: touchProducts, input: () => ({ pipeline: 'demo-products', mode: 'full', pageSize: 20, pagesPerRun: 4 }) },
    // pair-write-ahead: edits on both sides, a full re-read; each side's page written ahead of the previous one's end
    { id: 'sync-pair-write-ahead', type: 'syncPair', before: editPair, input: () => ({ pair: 'demo-customers', mode: 'full', pageSize: 20, pagesPerRun: 4 }) },
  ];
  // `npx tsx scripts/record-histories.ts <id>…` records only those (the cases before them still run)
  const only = process.argv.slice(2);
  for (const c of cases) {
    c.before?.();
    const h = await client.workflow.start(c.type ?? 'syncPipeline', { taskQueue: TASK_QUEUES.sql, workflowId: c.id, args: [c.input()] });
    last = await h.result();
    if (only.length && !only.includes(c.id)) continue;
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
