/**
 * Scaling out (issue 9): one 100,000-account `demo-accounts` sync (SQLite CRM → SQLite ERP, the
 * external systems) with the project's state in SQLite vs PostgreSQL, and with 1, 2 and 3 worker
 * processes on PostgreSQL state, side by side in one run on one dev server and one PostgreSQL 15
 * (Debian's, loopback, fsync on as in production, started here and stopped by PID).
 *   npx tsx bench/scale-out.bench.ts     (BENCH_ACCOUNTS, BENCH_PAGE_SIZE, BENCH_ROUNDS to vary)
 * Each worker runs `workers/main.ts` in its own process with its own empty folder, as on its own
 * host; the demo CRM/ERP are a fresh copy of one seed per run, in a shared folder named through a
 * copy of config/ (as test/integration/postgres-three-workers.test.ts does). Each round runs the
 * four set-ups, in reverse order every other round, so machine load hits them alike. Besides
 * records/s it prints the CPU seconds each process used during the sync (workers, Temporal dev
 * server, PostgreSQL with its backends) against the wall time, and how many activity tasks each
 * worker started: on a machine with C cores, C is the ceiling of (CPU seconds / wall seconds).
 * Verifies that every run read every account and left the same number of ERP rows.
 */
import { Client, Connection } from '@temporalio/client';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { TASK_QUEUES } from '../contracts/queues';
import type { SyncResult } from '../contracts/sync';
import { demoPaths, seedDemo } from '../demo/seed';
import { startDevServer } from '../scripts/dev-server';
import { startPostgresServer, type PostgresServer } from '../scripts/postgres';
import { activityIdentities, startedBy } from '../test/helpers/run-chain';

const N = Number(process.env.BENCH_ACCOUNTS ?? 100_000);
const PAGE = Number(process.env.BENCH_PAGE_SIZE ?? 5000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
/**
 * Eager activity dispatch (on by default in Temporal servers and the dev server): the worker that
 * completes a workflow task gets the activities it schedules directly, while it has free slots, so
 * one sync stays on the worker that holds its workflow and the others idle. The bench turns it
 * off on its dev server (`BENCH_EAGER=true` keeps it) to measure what spreading one sync's
 * activities over the workers gives.
 */
const EAGER = process.env.BENCH_EAGER === 'true';
const ROOT = path.resolve(__dirname, '..');
/** Clock ticks per second of /proc/<pid>/stat's times (USER_HZ, 100 on Linux). */
const TICK = 100;

interface Setup {
  name: string;
  state: 'sqlite' | 'postgres';
  workers: number;
}
const ALL_SETUPS: Setup[] = [
  { name: 'SQLite state, 1 worker', state: 'sqlite', workers: 1 },
  { name: 'PostgreSQL state, 1 worker', state: 'postgres', workers: 1 },
  { name: 'PostgreSQL state, 2 workers', state: 'postgres', workers: 2 },
  { name: 'PostgreSQL state, 3 workers', state: 'postgres', workers: 3 },
];
/** `BENCH_SETUPS=postgres-1,postgres-3` runs only those (`<state>-<workers>`); default all four. */
const SETUPS = process.env.BENCH_SETUPS ? ALL_SETUPS.filter((s) => process.env.BENCH_SETUPS!.split(',').includes(`${s.state}-${s.workers}`)) : ALL_SETUPS;
if (SETUPS.length === 0) throw new Error(`BENCH_SETUPS=${process.env.BENCH_SETUPS} names none of ${ALL_SETUPS.map((s) => `${s.state}-${s.workers}`).join(', ')}`);

/** CPU seconds of a process (user + system), with those of its reaped children when `children`. */
function cpuSeconds(pid: number, children = false): number {
  // the fields after "(comm)": state is field 3; utime 14, stime 15, cutime 16, cstime 17
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const n = (i: number) => Number(f[i - 3]);
  return (n(14) + n(15) + (children ? n(16) + n(17) : 0)) / TICK;
}

/** CPU seconds of every live process whose parent is `ppid` (PostgreSQL's backends). */
function childrenCpu(ppid: number): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[1]) === ppid) total += (Number(f[11]) + Number(f[12])) / TICK;
    } catch {
      // gone meanwhile
    }
  }
  return total;
}
/** PostgreSQL's CPU so far: the postmaster, its live backends and the reaped ones. */
const postgresCpu = (pg: PostgresServer) => cpuSeconds(pg.pid, true) + childrenCpu(pg.pid);

interface Worker {
  child: ChildProcess;
  pid: number;
  ready: Promise<void>;
}

function startWorker(vars: Record<string, string>): Worker {
  const env: NodeJS.ProcessEnv = { ...process.env, WORKER_LOG_LEVEL: 'WARN', ENV_FILE: '', ...vars };
  if (!vars.SYNC_STATE_URL) delete env.SYNC_STATE_URL;
  if (!vars.SYNC_STATE_DB) delete env.SYNC_STATE_DB;
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'workers/main.ts')], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('worker ready')) resolve();
    });
    child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    child.once('exit', (code) => reject(new Error(`worker exited (${code}) before ready:\n${out}`)));
  });
  ready.catch(() => undefined);
  return { child, pid: child.pid!, ready };
}

async function stopWorker(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(t);
}

interface Figures {
  setup: Setup;
  seconds: number;
  recordsPerSecond: number;
  cpu: { workers: number[]; devServer: number; postgres: number };
  /** Activity tasks started per worker, in start order. */
  activities: number[];
  targetRows: number;
}

async function run(ctx: { client: Client; address: string; devServerPid: number; pg: PostgresServer; seed: string; configDir: string; tmp: string }, setup: Setup, n: number): Promise<Figures> {
  const dir = path.join(ctx.tmp, `run-${n}`);
  const systems = path.join(dir, 'systems');
  cpSync(ctx.seed, systems, { recursive: true });
  const stateUrl = setup.state === 'postgres' ? await ctx.pg.createDatabase(`scale_${n}`) : '';
  const workers: Worker[] = [];
  try {
    for (let i = 0; i < setup.workers; i++) {
      const folder = path.join(dir, `worker-${i}`);
      mkdirSync(folder);
      workers.push(
        startWorker({
          TEMPORAL_ADDRESS: ctx.address,
          SYNC_CONFIG_DIR: ctx.configDir,
          SHARED_SYSTEMS_DIR: systems,
          DEMO_DATA_DIR: folder,
          HUBSPOT_GOVERNOR_DB: path.join(folder, 'hubspot-governor.db'),
          WORKER_FAMILIES: 'sql',
          ...(setup.state === 'postgres' ? { SYNC_STATE_URL: stateUrl } : { SYNC_STATE_DB: path.join(folder, 'state.db') }),
        }),
      );
    }
    await Promise.all(workers.map((w) => w.ready));
    const cpu0 = { workers: workers.map((w) => cpuSeconds(w.pid)), dev: cpuSeconds(ctx.devServerPid), pg: postgresCpu(ctx.pg) };
    const workflowId = `scale-${n}-${Date.now()}`;
    const t0 = performance.now();
    const handle = await ctx.client.workflow.start('syncPipeline', { taskQueue: TASK_QUEUES.sql, workflowId, args: [{ pipeline: 'demo-accounts', pageSize: PAGE }] });
    const result = (await handle.result()) as SyncResult;
    const seconds = (performance.now() - t0) / 1000;
    const cpu = { workers: workers.map((w, i) => cpuSeconds(w.pid) - cpu0.workers[i]!), devServer: cpuSeconds(ctx.devServerPid) - cpu0.dev, postgres: postgresCpu(ctx.pg) - cpu0.pg };
    if (result.status !== 'completed' || result.totals.read < N) throw new Error(`${setup.name}: the sync ended ${result.status} after ${result.totals.read} records`);
    const { byIdentity } = await activityIdentities(ctx.client, workflowId, handle.firstExecutionRunId);
    const erp = new Database(demoPaths(systems).erp, { readonly: true });
    const targetRows = (erp.prepare('SELECT count(*) c FROM customers').get() as { c: number }).c;
    erp.close();
    const f: Figures = { setup, seconds, recordsPerSecond: N / seconds, cpu, activities: workers.map((w) => startedBy(byIdentity, w.pid)), targetRows };
    console.log(
      `${setup.name}: ${seconds.toFixed(1)} s, ${f.recordsPerSecond.toFixed(0)} records/s; CPU s workers ${cpu.workers.map((c) => c.toFixed(1)).join('+')}, dev server ${cpu.devServer.toFixed(1)}, postgres ${cpu.postgres.toFixed(1)}; activities per worker ${f.activities.join('/')}; ${targetRows} ERP rows`,
    );
    return f;
  } finally {
    await Promise.all(workers.map((w) => stopWorker(w.child)));
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'bench-scale-'));
  const seed = path.join(tmp, 'seed');
  const s0 = performance.now();
  seedDemo(seed, { accounts: N, contacts: 0, products: 0 });
  console.log(`seeded ${N} accounts in ${((performance.now() - s0) / 1000).toFixed(1)} s; page size ${PAGE}, ${ROUNDS} round(s), eager activity dispatch ${EAGER ? 'on' : 'off'}, ${os.cpus().length} cores, load average ${os.loadavg()[0]!.toFixed(1)}`);
  const configDir = path.join(tmp, 'config');
  cpSync(path.join(ROOT, 'config'), configDir, { recursive: true });
  const systemsJson = path.join(configDir, 'systems.json');
  writeFileSync(systemsJson, readFileSync(systemsJson, 'utf8').replaceAll('${DEMO_DATA_DIR:-.data/demo}/', '${SHARED_SYSTEMS_DIR}/'));

  const server = await startDevServer({
    dbFile: path.join(tmp, 'temporal.db'),
    logFile: path.join(tmp, 'temporal.log'),
    dynamicConfig: { 'system.enableActivityEagerExecution': String(EAGER) },
  });
  let pg: PostgresServer | undefined;
  const connection = await Connection.connect({ address: server.address });
  try {
    pg = await startPostgresServer({ durable: true });
    const ctx = { client: new Client({ connection }), address: server.address, devServerPid: server.pid, pg, seed, configDir, tmp };
    const figures: Figures[] = [];
    let n = 0;
    for (let round = 0; round < ROUNDS; round++) {
      for (const setup of round % 2 ? [...SETUPS].reverse() : SETUPS) figures.push(await run(ctx, setup, n++));
    }
    const rows = new Set(figures.map((f) => f.targetRows));
    if (rows.size !== 1) throw new Error(`the runs left different ERP row counts: ${[...rows].join(', ')}`);

    const of = (s: Setup) => figures.filter((f) => f.setup === s);
    const rate = (s: Setup) => median(of(s).map((f) => f.recordsPerSecond));
    const [sqlite1, pg1] = [ALL_SETUPS[0]!, ALL_SETUPS[1]!];
    const has = (s: Setup) => SETUPS.includes(s);
    console.log(`\n${N.toLocaleString('en')} accounts, pages of ${PAGE}, median of ${ROUNDS} round(s), load average now ${os.loadavg()[0]!.toFixed(1)}`);
    console.log('set-up                        records/s   vs 1 worker (PostgreSQL)   CPU s/wall s   activities per worker');
    for (const s of SETUPS) {
      const runs = of(s);
      const busy = median(runs.map((f) => (f.cpu.workers.reduce((a, b) => a + b, 0) + f.cpu.devServer + f.cpu.postgres) / f.seconds));
      console.log(
        `${s.name.padEnd(29)} ${rate(s).toFixed(0).padStart(9)}   ${s.state === 'postgres' && has(pg1) ? (rate(s) / rate(pg1)).toFixed(2).padStart(5) : '    -'}                      ${busy.toFixed(2).padStart(5)}          ${runs.map((f) => f.activities.join('/')).join(', ')}`,
      );
    }
    if (has(pg1) && has(sqlite1)) console.log(`PostgreSQL / SQLite state, 1 worker: ${(rate(pg1) / rate(sqlite1)).toFixed(2)}`);
  } finally {
    await connection.close();
    await pg?.stop();
    await server.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
