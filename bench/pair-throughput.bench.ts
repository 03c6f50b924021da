/**
 * Two-way throughput on linked pairs: N demo customers linked (CRM accounts ⇄ ERP customers),
 * then every CRM account changes, and the `demo-customers` pair syncs them (the CRM phase patches
 * every ERP customer, the ERP phase reads those writes back as echoes). In the same run, on
 * copies of the same state, the same pair activities (preparePairPage, writePairPage with its
 * commit) run in a plain loop in this process (MockActivityEnvironment, no server), and through
 * Temporal (dev server + worker) as `syncPair`, at page sizes 1,000 and 5,000: BENCH_ROUNDS (2)
 * rounds of plain → workflow and one more plain run, each on its own copy. Prints the medians of
 * records/s (records read on both sides per second), the ratio (goal ≥ 0.9 at the default page
 * size), CPU seconds of the worker and the dev server, and peak RSS. Run by `npm run bench` after
 * the one-way bench.
 *   npx tsx bench/pair-throughput.bench.ts      (BENCH_ACCOUNTS=20000 for a quick look)
 */
import Database from 'better-sqlite3';
import { Client, Connection } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createPairActivities } from '../activities/pair';
import { pairCheckpoint, type SyncPairResult } from '../contracts/pair-sync';
import { TASK_QUEUES } from '../contracts/queues';
import { demoPaths, seedDemo } from '../demo/seed';
import { ConnectorPool, loadRegistry } from '../pipelines/load';
import { LATENCY_MS, withLatency } from './latency';
import { cpuProfiler } from './profiler';
import { bracketed, median, procCpuSeconds, rssSampler, TABLE_HEADER } from './side-by-side';
import { startDevServer } from '../scripts/dev-server';
import { openSqliteStateStore } from '../state/sqlite-store';
import { createSyncWorkers } from '../workers/worker';

const N = Number(process.env.BENCH_ACCOUNTS ?? 100_000);
const PAGE_SIZES = (process.env.BENCH_PAGE_SIZES ?? '1000,5000').split(',').map(Number);
/** Rounds of plain → workflow per page size, then one more plain run (bench/side-by-side.ts); medians reported. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const PAIR = 'demo-customers';
/** `BENCH_CPU_PROFILE=<dir>`: a CPU profile of this process over each timed run (bench/profiler.ts). */
const profiler = cpuProfiler();

interface Measured {
  ms: number;
  read: number;
  written: number;
  /** Activity retries the workflow needed (0 for the plain loop). */
  retries: number;
  cpu: number;
  serverCpu: number;
  peakRssMb: number;
}

/** Every CRM account changes (its name), one second ahead so the incremental read sees it. */
function touchAllCrm(dir: string): number {
  const db = new Database(demoPaths(dir).crm);
  const r = db.prepare(`UPDATE accounts SET company_name = company_name || ' (changed)', updated_at = ?`).run(new Date(Date.now() + 1000).toISOString());
  db.close();
  return r.changes;
}

/** The baseline: the pair's own activities, in one loop, in this process. */
async function plainLoop(dir: string, pageSize: number): Promise<Measured> {
  const env = { DEMO_DATA_DIR: dir };
  const registry = loadRegistry({ env });
  const connectors = new ConnectorPool(registry, env, withLatency);
  const store = openSqliteStateStore(path.join(dir, 'state.db'));
  const acts = createPairActivities({ registry, connectors, store });
  const ctx = new MockActivityEnvironment();
  const run = <A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> => ctx.run(fn, ...args) as Promise<R>;
  await profiler.start();
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const rss = rssSampler();
  const begin = await acts.beginPair({ pair: PAIR, pageSize });
  let seq = 0;
  let read = 0;
  let written = 0;
  for (const side of begin.sides) {
    let after = begin.cursors[side] ?? null;
    for (;;) {
      const ref = { pair: PAIR, syncId: 'plain', seq, side };
      const page = await run(acts.preparePairPage, { ...ref, after, limit: begin.pageSize });
      read += page.count;
      if (page.plan && page.plan.ops > 0) {
        const w = await run(acts.writePairPage, { ...ref, planPageId: page.plan.planPageId, planHash: page.plan.planHash, commit: { cursor: page.nextCursor } });
        written += Object.values(w.created).reduce((a, b) => a + b, 0) + Object.values(w.updated).reduce((a, b) => a + b, 0);
      } else if (page.count > 0) await store.setCheckpoint(pairCheckpoint(PAIR, side), page.nextCursor, 'plain');
      after = page.nextCursor;
      seq++;
      if (!page.hasMore) break;
    }
  }
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const peakRssMb = rss.stop();
  await profiler.stop(`pair-plain-${pageSize}`);
  await store.dropPages('plain');
  await connectors.closeAll();
  await store.close();
  return { ms, read, written, retries: 0, cpu: (cpu.user + cpu.system) / 1e6, serverCpu: 0, peakRssMb };
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const base = mkdtempSync(path.join(os.tmpdir(), 'bench-pair-tp-'));
  const server = await startDevServer({ dbFile: path.join(base, 'temporal.db') });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  const native = await NativeConnection.connect({ address: server.address });
  let n = 0;
  const withWorker = async <T>(dir: string, fn: () => Promise<T>): Promise<T> => {
    const sync = await createSyncWorkers({
      connection: native, namespace: 'default', families: ['sql'], stateDb: path.join(dir, 'state.db'), env: { DEMO_DATA_DIR: dir },
      ...(withLatency ? { createConnector: withLatency } : {}),
    });
    const running = sync.run();
    try {
      return await fn();
    } finally {
      sync.shutdown();
      await running;
    }
  };
  const pair = (pageSize?: number) =>
    client.workflow.execute('syncPair', { taskQueue: TASK_QUEUES.sql, workflowId: `bench-pair-${++n}`, args: [{ pair: PAIR, ...(pageSize ? { pageSize } : {}) }] }) as Promise<SyncPairResult>;

  console.log(`bench (two-way): ${N} linked customers, all CRM accounts changed, page sizes ${PAGE_SIZES.join(', ')}, ${ROUNDS} rounds, ${LATENCY_MS} ms per connector call, node ${process.version}, ${os.cpus().length} cpus, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const setup = path.join(base, 'setup');
  seedDemo(setup, { accounts: N, contacts: 0, products: 0 });
  const linked = await withWorker(setup, async () => {
    await client.workflow.execute('syncPipeline', { taskQueue: TASK_QUEUES.sql, workflowId: `bench-fill-${++n}`, args: [{ pipeline: 'demo-accounts' }] });
    return pair();
  });
  console.log(`setup: one-way fill, then the first pair run linked ${linked.totals.linked}`);
  let k = 0;
  const copy = () => {
    const d = path.join(base, `copy-${k++}`);
    cpSync(setup, d, { recursive: true });
    return d;
  };
  const rows: string[] = [];
  let changed = 0;
  /** One run on its own copy of the linked state with every CRM account changed; the copy is removed after. */
  const onCopy = async (run: (dir: string) => Promise<Measured>): Promise<Measured> => {
    const d = copy();
    changed = touchAllCrm(d);
    try {
      return await run(d);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  };
  const workflowRun = (dir: string, pageSize: number) =>
    withWorker(dir, async (): Promise<Measured> => {
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      const server0 = procCpuSeconds(server.pid);
      const rss = rssSampler();
      await profiler.start();
      const r = await pair(pageSize);
      const ms = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      await profiler.stop(`pair-workflow-${pageSize}`);
      const sides = Object.values(r.totals.sides);
      return {
        ms,
        read: sides.reduce((a, t) => a + t.read, 0),
        written: sides.reduce((a, t) => a + t.created + t.updated, 0),
        retries: r.totals.retries,
        cpu: (cpu.user + cpu.system) / 1e6,
        serverCpu: procCpuSeconds(server.pid) - server0,
        peakRssMb: rss.stop(),
      };
    });
  const rate = (m: Measured) => m.read / (m.ms / 1000);
  const secs = (ms: Measured[]) => ms.map((m) => `${(m.ms / 1000).toFixed(2)} s`).join(', ');
  const cpu = (xs: number[]) => median(xs).toFixed(1);
  for (const pageSize of PAGE_SIZES) {
    const { plains, workflows } = await bracketed(ROUNDS, () => onCopy((d) => plainLoop(d, pageSize)), () => onCopy((d) => workflowRun(d, pageSize)));
    const plainRate = median(plains.map(rate));
    const wfRate = median(workflows.map(rate));
    const plainRss = Math.max(...plains.map((m) => m.peakRssMb));
    const workerRss = Math.max(...workflows.map((m) => m.peakRssMb));
    const [first] = plains as [Measured];
    console.log(`page ${pageSize} (${changed} CRM changes):`);
    console.log(`  plain loop : ${secs(plains)} → median ${plainRate.toFixed(0)} records/s (${first.read} read, ${first.written} written)`);
    console.log(`  workflow   : ${secs(workflows)} → median ${wfRate.toFixed(0)} records/s (activity retries ${workflows.map((m) => m.retries).join(', ')})`);
    console.log(`  cpu seconds (median): plain ${cpu(plains.map((m) => m.cpu))}; workflow: worker ${cpu(workflows.map((m) => m.cpu))} + dev server ${cpu(workflows.map((m) => m.serverCpu))}`);
    console.log(`  ratio workflow/plain = ${(wfRate / plainRate).toFixed(2)} (goal >= 0.9 at the default page size); peak RSS plain ${plainRss.toFixed(0)} MiB, worker ${workerRss.toFixed(0)} MiB`);
    if ([...plains, ...workflows].some((m) => m.read !== first.read || m.written !== first.written)) console.log('  WARNING: read or written counts differ between runs');
    rows.push(
      `| ${pageSize.toLocaleString('en')} | ${plainRate.toFixed(0)} | ${wfRate.toFixed(0)} | ${(wfRate / plainRate).toFixed(2)} | ${cpu(plains.map((m) => m.cpu))} | ${cpu(workflows.map((m) => m.cpu))} + ${cpu(workflows.map((m) => m.serverCpu))} | ${plainRss.toFixed(0)} / ${workerRss.toFixed(0)} |`,
    );
  }
  console.log(`\n${TABLE_HEADER}`);
  for (const r of rows) console.log(r);
  await native.close();
  await connection.close();
  await server.stop();
  rmSync(base, { recursive: true, force: true });
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
