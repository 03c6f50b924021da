/**
 * Large runs (issue 10, item 7): BENCH_LARGE_ACCOUNTS (default 1,000,000) demo accounts
 * SQLite → SQLite through the `demo-accounts` pipeline, on a dev server with a worker in its own
 * process (workers/main.ts, as deployed). Prints the time of every 100,000 records read (from
 * the `progress` query, polled each second) and the worker's peak RSS (VmHWM of its
 * /proc/<pid>/status) next to that of a 10,000-account run by a fresh worker of the same build,
 * measured side by side in this one run. Goals: flat time per 100,000; peak RSS ≤ 1.5× the small run's.
 *   npx tsx bench/large-run.bench.ts           (BENCH_LARGE_ACCOUNTS=200000 for a quicker look)
 * BENCH_WORKER_NODE_OPTIONS is given to both workers as NODE_OPTIONS, e.g. "--max-old-space-size=256"
 * to see the steady state instead of V8's lazy heap growth.
 */
import { Client, Connection } from '@temporalio/client';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TASK_QUEUES } from '../contracts/queues';
import { progressQuery, type SyncResult } from '../contracts/sync';
import { seedDemo } from '../demo/seed';
import { startDevServer } from '../scripts/dev-server';

const LARGE = Number(process.env.BENCH_LARGE_ACCOUNTS ?? 1_000_000);
const SMALL = 10_000;
const STEP = 100_000;
const PAGE = Number(process.env.BENCH_PAGE_SIZE ?? 5000);
const ROOT = path.resolve(__dirname, '..');

function startWorker(address: string, dir: string): { child: ChildProcess; ready: Promise<void> } {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'workers/main.ts')], {
    cwd: ROOT,
    env: { ...process.env, ...(process.env.BENCH_WORKER_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_WORKER_NODE_OPTIONS } : {}), TEMPORAL_ADDRESS: address, WORKER_FAMILIES: 'sql', DEMO_DATA_DIR: dir, SYNC_STATE_DB: path.join(dir, 'state.db'), WORKER_LOG_LEVEL: 'WARN' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('worker ready')) resolve();
    });
    child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    child.once('exit', (code) => reject(new Error(`worker exited (${code}) before ready:\n${out}`)));
  });
  return { child, ready };
}

/** Peak resident set size of a process so far (kernel's high-water mark), in MiB. */
function peakRssMiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function stopWorker(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(t);
}

interface RunFigures {
  accounts: number;
  seconds: number;
  peakRssMiB: number;
  /** Seconds for each successive 100,000 records read. */
  perStep: number[];
  result: SyncResult;
}

async function run(client: Client, address: string, accounts: number, tmp: string): Promise<RunFigures> {
  const dir = path.join(tmp, `demo-${accounts}`);
  const s0 = performance.now();
  seedDemo(dir, { accounts, contacts: 0, products: 0 });
  console.log(`seeded ${accounts} accounts in ${((performance.now() - s0) / 1000).toFixed(1)} s`);
  const w = startWorker(address, dir);
  try {
    await w.ready;
    const baseline = peakRssMiB(w.child.pid!);
    const t0 = performance.now();
    const handle = await client.workflow.start('syncPipeline', {
      taskQueue: TASK_QUEUES.sql,
      workflowId: `large-${accounts}-${Date.now()}`,
      args: [{ pipeline: 'demo-accounts', pageSize: PAGE }],
    });
    const marks: number[] = [];
    let done = false;
    const result = handle.result().finally(() => (done = true)) as Promise<SyncResult>;
    while (!done) {
      await new Promise((r) => setTimeout(r, 1000));
      if (done) break;
      const p = await handle.query(progressQuery).catch(() => null); // a continue-as-new in between: ask again next second
      if (!p) continue;
      while (p.totals.read >= (marks.length + 1) * STEP) marks.push(performance.now());
    }
    const r = await result;
    const end = performance.now();
    while (r.totals.read >= (marks.length + 1) * STEP) marks.push(end);
    const perStep = marks.map((t, i) => (t - (i === 0 ? t0 : marks[i - 1]!)) / 1000);
    const peak = peakRssMiB(w.child.pid!);
    console.log(`${accounts}: ${((end - t0) / 1000).toFixed(1)} s, peak RSS ${peak.toFixed(0)} MiB (ready: ${baseline.toFixed(0)} MiB), totals ${JSON.stringify(r.totals)}`);
    return { accounts, seconds: (end - t0) / 1000, peakRssMiB: peak, perStep, result: r };
  } finally {
    await stopWorker(w.child);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'bench-large-'));
  const server = await startDevServer({ dbFile: path.join(tmp, 'temporal.db'), logFile: path.join(tmp, 'temporal.log') });
  const connection = await Connection.connect({ address: server.address });
  try {
    const client = new Client({ connection });
    const small = await run(client, server.address, SMALL, tmp);
    const large = await run(client, server.address, LARGE, tmp);
    if (large.result.totals.read !== LARGE || small.result.totals.read !== SMALL) throw new Error('a run did not read every account');
    const steps = large.perStep;
    const sorted = [...steps].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    console.log(`\nper ${STEP.toLocaleString('en')} records (s): ${steps.map((s) => s.toFixed(1)).join(', ')}`);
    console.log(`first ${steps[0]!.toFixed(1)} s, last ${steps.at(-1)!.toFixed(1)} s, median ${median.toFixed(1)} s, last/first ${(steps.at(-1)! / steps[0]!).toFixed(2)}, max/median ${(Math.max(...steps) / median).toFixed(2)}`);
    console.log(`records/s: ${(LARGE / large.seconds).toFixed(0)} (large), ${(SMALL / small.seconds).toFixed(0)} (small)`);
    console.log(`worker peak RSS: ${small.peakRssMiB.toFixed(0)} MiB for ${SMALL.toLocaleString('en')}, ${large.peakRssMiB.toFixed(0)} MiB for ${LARGE.toLocaleString('en')}: ratio ${(large.peakRssMiB / small.peakRssMiB).toFixed(2)} (goal ≤ 1.5)`);
  } finally {
    await connection.close();
    await server.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
