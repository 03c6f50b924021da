/**
 * Two-way against one-way, side by side in one run: N linked demo customers (CRM accounts ⇄ ERP
 * customers) with 1% of the CRM accounts changed. On two copies of the same state, the one-way
 * incremental `demo-accounts` sync and the two-way `syncPair` run take the same changes; then 1%
 * of the ERP customers change too and the pair runs again. Prints times, their ratio (goal ≤ 1.5×)
 * and the worker's peak RSS.
 *   npx tsx bench/pair-sync.bench.ts      (BENCH_ACCOUNTS=20000 for a quick look)
 */
import Database from 'better-sqlite3';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { SyncPairResult } from '../contracts/pair-sync';
import { TASK_QUEUES } from '../contracts/queues';
import type { SyncResult } from '../contracts/sync';
import { demoPaths, seedDemo } from '../demo/seed';
import { startDevServer } from '../scripts/dev-server';
import { createSyncWorkers } from '../workers/worker';

const N = Number(process.env.BENCH_ACCOUNTS ?? 100_000);
const SHARE = Number(process.env.BENCH_CHANGED_PERCENT ?? 1) / 100;

let peak = 0;
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 100);

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const base = mkdtempSync(path.join(os.tmpdir(), 'bench-pair-'));
  const server = await startDevServer({ dbFile: path.join(base, 'temporal.db') });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  const native = await NativeConnection.connect({ address: server.address });
  let n = 0;
  /** A worker over the demo data in `dir`, for the duration of `fn`. */
  const withWorker = async <T>(dir: string, fn: () => Promise<T>): Promise<T> => {
    const sync = await createSyncWorkers({ connection: native, namespace: 'default', families: ['sql'], stateDb: path.join(dir, 'state.db'), env: { DEMO_DATA_DIR: dir } });
    const running = sync.run();
    try {
      return await fn();
    } finally {
      sync.shutdown();
      await running;
    }
  };
  const timed = async <T>(fn: () => Promise<T>): Promise<{ ms: number; result: T }> => {
    const t0 = performance.now();
    const result = await fn();
    return { ms: performance.now() - t0, result };
  };
  const pipeline = (p: string) => client.workflow.execute('syncPipeline', { taskQueue: TASK_QUEUES.sql, workflowId: `bench-${p}-${++n}`, args: [{ pipeline: p }] }) as Promise<SyncResult>;
  const pair = () => client.workflow.execute('syncPair', { taskQueue: TASK_QUEUES.sql, workflowId: `bench-pair-${++n}`, args: [{ pair: 'demo-customers' }] }) as Promise<SyncPairResult>;

  console.log(`bench: ${N} accounts, ${SHARE * 100}% changed per side, node ${process.version}, ${os.cpus().length} cpus`);
  const setup = path.join(base, 'setup');
  seedDemo(setup, { accounts: N, contacts: 0, products: 0 });
  const linking = await withWorker(setup, async () => {
    await pipeline('demo-accounts');
    return timed(pair);
  });
  console.log(`setup: one-way fill, then the first pair run linked ${linking.result.totals.linked} in ${(linking.ms / 1000).toFixed(1)} s`);

  const copy = (name: string) => {
    const d = path.join(base, name);
    cpSync(setup, d, { recursive: true });
    return d;
  };
  const oneWayDir = copy('one-way');
  const twoWayDir = copy('two-way');
  const stamp = () => new Date(Date.now() + 1000).toISOString();
  const touchCrm = (dir: string) => {
    const db = new Database(demoPaths(dir).crm);
    const every = Math.round(1 / SHARE);
    const r = db.prepare(`UPDATE accounts SET company_name = company_name || ' (changed)', updated_at = ? WHERE id % ${every} = 0`).run(stamp());
    db.close();
    return r.changes;
  };
  const touchErp = (dir: string) => {
    const db = new Database(demoPaths(dir).erp);
    const every = Math.round(1 / SHARE);
    const r = db.prepare(`UPDATE customers SET credit_limit_minor = 4242400, credit_currency = 'EUR', updated_at = ? WHERE active = 1 AND id % ${every} = 7 % ${every}`).run(stamp());
    db.close();
    return r.changes;
  };

  const crmChanged = touchCrm(oneWayDir);
  touchCrm(twoWayDir);
  peak = 0;
  const oneWay = await withWorker(oneWayDir, () => timed(() => pipeline('demo-accounts')));
  const oneWayPeak = peak;
  peak = 0;
  const twoWay = await withWorker(twoWayDir, () => timed(pair));
  const twoWayPeak = peak;
  const erpChanged = touchErp(twoWayDir);
  peak = 0;
  const both = await withWorker(twoWayDir, () => timed(pair));
  const bothPeak = peak;

  const w = (r: SyncPairResult) => Object.entries(r.totals.sides).map(([s, t]) => `${s} ${t.updated} updated / ${t.read} read`).join(', ');
  console.log(`one-way  (${crmChanged} CRM changes): ${(oneWay.ms / 1000).toFixed(2)} s, ${oneWay.result.totals.updated} updated / ${oneWay.result.totals.read} read, peak RSS ${(oneWayPeak / 2 ** 20).toFixed(0)} MiB`);
  console.log(`two-way  (${crmChanged} CRM changes): ${(twoWay.ms / 1000).toFixed(2)} s, ${w(twoWay.result)}, peak RSS ${(twoWayPeak / 2 ** 20).toFixed(0)} MiB`);
  console.log(`two-way, next run (then ${erpChanged} ERP changes): ${(both.ms / 1000).toFixed(2)} s, ${w(both.result)}, peak RSS ${(bothPeak / 2 ** 20).toFixed(0)} MiB`);
  console.log(`ratio two-way/one-way on the same changes = ${(twoWay.ms / oneWay.ms).toFixed(2)} (goal <= 1.5)`);

  await native.close();
  await connection.close();
  await server.stop();
  clearInterval(sampler);
  rmSync(base, { recursive: true, force: true });
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
