/**
 * Reconciliation of the demo pair at scale: seed N CRM accounts, link them with one syncPair,
 * inject 1% drift behind the sync's back (field edits without updated_at, deletes and inserts
 * on one side), then time reconcilePair and check it reports exactly the injected drift.
 * Prints the time, records/s and the worker's peak RSS.
 *   npx tsx bench/reconcile-pair.bench.ts        (BENCH_ACCOUNTS=20000 for a quick look)
 */
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import Database from 'better-sqlite3';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { SyncPairResult } from '../contracts/pair-sync';
import { TASK_QUEUES } from '../contracts/queues';
import type { ReconcilePairResult } from '../contracts/reconcile';
import { demoPaths, seedDemo } from '../demo/seed';
import { startDevServer } from '../scripts/dev-server';
import { createSyncWorkers } from '../workers/worker';

const N = Number(process.env.BENCH_ACCOUNTS ?? 100_000);
const PAGE = Number(process.env.BENCH_PAGE_SIZE ?? 1000);
const PER_RUN = process.env.BENCH_PAGES_PER_RUN ? Number(process.env.BENCH_PAGES_PER_RUN) : undefined;

const rssMb = () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) / 1024;

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'reconcile-bench-'));
  const dir = path.join(tmp, 'demo');
  seedDemo(dir, { accounts: N, contacts: 0, products: 0 });
  const server = await startDevServer({ dbFile: path.join(tmp, 'temporal.db'), logFile: path.join(tmp, 'temporal.log') });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  const nativeConnection = await NativeConnection.connect({ address: server.address });
  const sync = await createSyncWorkers({ connection: nativeConnection, namespace: 'default', families: ['sql'], stateDb: path.join(dir, 'state.db'), env: { DEMO_DATA_DIR: dir } });
  const running = sync.run();
  try {
    let t = Date.now();
    const first = (await client.workflow.execute('syncPair', { taskQueue: TASK_QUEUES.sql, workflowId: 'bench-link', args: [{ pair: 'demo-customers', pageSize: PAGE }] })) as SyncPairResult;
    console.log(`linked by syncPair: ${first.totals.sides.erp!.created} ERP customers created in ${((Date.now() - t) / 1000).toFixed(1)} s`);

    // 1% drift: half field edits (both sides), a quarter deletes, a quarter inserts.
    const pairs = new Database(demoPaths(dir).erp, { readonly: true }).prepare('SELECT external_key k, id FROM customers ORDER BY id').all() as { k: string; id: number }[];
    const drift = Math.round(pairs.length / 100);
    const crm = new Database(demoPaths(dir).crm);
    const erp = new Database(demoPaths(dir).erp);
    const step = Math.floor(pairs.length / drift);
    let edits = 0;
    let deletes = 0;
    let inserts = 0;
    crm.transaction(() => erp.transaction(() => {
      for (let i = 0; i < drift; i++) {
        const p = pairs[i * step]!;
        if (i % 4 === 0) edits += crm.prepare("UPDATE accounts SET company_name = 'Drifted ' || id WHERE id = ?").run(Number(p.k)).changes;
        else if (i % 4 === 1) edits += erp.prepare("UPDATE customers SET credit_limit_minor = 4242, credit_currency = 'EUR' WHERE id = ?").run(p.id).changes;
        else if (i % 4 === 2) deletes += erp.prepare('DELETE FROM customers WHERE id = ?').run(p.id).changes;
        else {
          erp.prepare("INSERT INTO customers (external_key, name, country_code, segment, active, updated_at) VALUES (?, ?, 'DE', 'smb', 1, '2026-01-01T00:00:00.000Z')").run(`BENCH-${i}`, `Bench Only ${i} GmbH`);
          inserts++;
        }
      }
    })())();
    const inserted = (erp.prepare("SELECT id FROM customers WHERE external_key LIKE 'BENCH-%'").all() as { id: number }[]).map((r) => String(r.id));
    const maxLinked = (erp.prepare("SELECT max(id) m FROM customers WHERE external_key NOT LIKE 'BENCH-%'").get() as { m: number }).m;
    const stale = await sync.store.findLinks('demo-customers', 'erp', inserted);
    console.log(`inserted ERP ids ${inserted[0]}…${inserted.at(-1)} (largest synced id ${maxLinked}); links already naming them: ${stale.size}`);
    if (stale.size) console.log(JSON.stringify([...stale.entries()].slice(0, 3)));
    crm.close();
    erp.close();

    t = Date.now();
    const r = (await client.workflow.execute('reconcilePair', { taskQueue: TASK_QUEUES.sql, workflowId: 'bench-reconcile', args: [{ pair: 'demo-customers', pageSize: PAGE, ...(PER_RUN ? { pagesPerRun: PER_RUN } : {}) }] })) as ReconcilePairResult;
    const s = (Date.now() - t) / 1000;
    const read = Object.values(r.counts.read).reduce((a, b) => a + b, 0);
    console.log(`reconcilePair: ${r.counts.compared} linked pairs compared, ${read} records read in ${s.toFixed(1)} s (${Math.round(read / s)} records/s, ${r.runs} runs)`);
    console.log(`injected: ${edits} field edits, ${deletes} ERP deletes, ${inserts} ERP inserts; reported: ${r.counts.recordsWithDiffs} records with field differences, missing ${JSON.stringify(r.counts.missing)}, orphans ${JSON.stringify(r.counts.orphans)}; drift ${r.drift}`);
    console.log(JSON.stringify(r.counts));
    console.log(r.summary.split("\n").slice(0, 12).join("\n"));
    console.log(`exact: ${r.counts.recordsWithDiffs === edits && r.counts.missing.erp === deletes && r.counts.orphans.erp === inserts && r.drift === edits + deletes + inserts}`);
    console.log(`worker peak RSS ${rssMb().toFixed(0)} MB`);
  } finally {
    sync.shutdown();
    await running;
    await nativeConnection.close();
    await connection.close();
    await server.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
