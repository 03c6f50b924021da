/**
 * 100,000 accounts SQLite → SQLite, through Temporal (dev server + worker) and, in the same
 * run, through the same connectors, mapping and state store in a plain loop without Temporal,
 * at page sizes 1,000 (the pipelines' default) and 5,000. Prints per page size records/s for
 * both, their ratio (goal ≥ 0.9 at the default page size), CPU seconds of the worker and the
 * dev server, and peak RSS. `npm run bench` then runs the two-way bench in its throughput mode.
 *   npx tsx bench/sql-sync.bench.ts      (BENCH_ACCOUNTS=20000 for a quick look;
 *                                         BENCH_PAGE_SIZES=1000 for one page size; BENCH_PROFILE=1)
 */
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { recordHash } from '../activities/hash';
import { TASK_QUEUES } from '../contracts/queues';
import { oneWayPolicy, planOneWay } from '../mappings/two-way/one-way';
import { linkSpaceOf } from '../pipelines/link-space';
import type { SyncResult } from '../contracts/sync';
import { seedDemo } from '../demo/seed';
import { ConnectorPool, loadRegistry } from '../pipelines/load';
import { startDevServer } from '../scripts/dev-server';
import { openSqliteStateStore } from '../state/sqlite-store';
import { createSyncWorkers } from '../workers/worker';
import { cpuProfiler } from './profiler';
import { LATENCY_MS, withLatency } from './latency';
import { bracketed, median, procCpuSeconds, rssSampler, TABLE_HEADER } from './side-by-side';

const N = Number(process.env.BENCH_ACCOUNTS ?? 100_000);
const PAGE_SIZES = (process.env.BENCH_PAGE_SIZES ?? process.env.BENCH_PAGE_SIZE ?? '1000,5000').split(',').map(Number);
let PAGE = PAGE_SIZES[0]!;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);

function registryFor(dir: string) {
  const env = { DEMO_DATA_DIR: dir };
  return { env, registry: loadRegistry({ env }) };
}

/** The baseline: the same connector calls, mapping, planner and links, in one loop. */
async function plainLoop(dir: string): Promise<{ ms: number; written: number; cpu: number; peakRssMb: number }> {
  const { env, registry } = registryFor(dir);
  const pool = new ConnectorPool(registry, env, withLatency);
  const store = openSqliteStateStore(path.join(dir, 'plain-state.db'));
  const p = registry.pipelines.get('demo-accounts')!;
  const mapping = registry.mappings.get(p.mapping)!;
  const space = linkSpaceOf(p, registry);
  const policy = oneWayPolicy(space);
  const source = pool.get(p.source.system);
  const target = pool.get(p.target.system);
  await profiler.start();
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const rss = rssSampler();
  let cursor = null as Awaited<ReturnType<typeof store.getCheckpoint>>;
  let written = 0;
  for (;;) {
    const page = await source.fetchChanges(p.source.entity, { after: cursor, limit: PAGE });
    const valid = [];
    const bad = [];
    for (const r of page.records) {
      const m = mapping.apply(r.data);
      if (m.ok) valid.push({ sourceKey: r.key, fields: m.value, hash: recordHash(m.value) });
      else bad.push({ pipeline: p.name, syncId: 'plain', sourceKey: r.key, stage: 'map' as const, field: m.issues[0]!.field, rule: m.issues[0]!.rule, reason: m.issues[0]!.message, record: r.data });
    }
    await store.quarantine(bad);
    const links = await store.findLinks(space.space, space.sourceSide, valid.map((v) => v.sourceKey));
    const plan = valid.flatMap((v) => {
      const link = links.get(v.sourceKey) ?? null;
      const planned = planOneWay(space, policy, { source: { key: v.sourceKey, fields: v.fields }, sourceHash: v.hash, link });
      return planned.outcome === 'create' || planned.outcome === 'update' ? [{ ...v, link, planned }] : [];
    });
    const outcomes = await target.upsert(
      p.target.entity,
      plan.map((v) => ({ externalKey: v.sourceKey, ...(v.link ? { targetKey: v.link.keys[space.targetSide]! } : {}), fields: v.fields, ...(v.planned.outcome === 'update' ? { changed: v.planned.changed } : {}) })),
    );
    const byKey = new Map(plan.map((v) => [v.sourceKey, v]));
    const ok = outcomes.flatMap((o) => {
      const v = o.ok ? byKey.get(o.externalKey)! : null;
      if (!o.ok || !v) return [];
      return [{
        ...(v.link ? { linkId: v.link.linkId } : {}),
        keys: [
          { side: space.sourceSide, system: p.source.system, entity: p.source.entity, key: v.sourceKey },
          { side: space.targetSide, system: p.target.system, entity: p.target.entity, key: o.targetKey },
        ],
        fields: v.planned.fields,
      }];
    });
    await store.upsertLinks(space.space, ok);
    written += ok.length;
    cursor = page.nextCursor;
    await store.setCheckpoint(p.name, cursor, 'plain');
    if (!page.hasMore) break;
  }
  const ms = performance.now() - t0;
  await profiler.stop(`plain-${PAGE}`);
  const cpu = process.cpuUsage(cpu0);
  const peakRssMb = rss.stop();
  await pool.closeAll();
  await store.close();
  return { ms, written, cpu: (cpu.user + cpu.system) / 1e6, peakRssMb };
}

async function throughTemporal(dir: string): Promise<{ ms: number; written: number; retries: number; peakRssMb: number; workerCpu: number; serverCpu: number }> {
  const server = await startDevServer({ dbFile: path.join(dir, 'temporal.db') });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  const native = await NativeConnection.connect({ address: server.address });
  const { env } = registryFor(dir);
  const sync = await createSyncWorkers({
    connection: native,
    namespace: 'default',
    families: ['sql'],
    stateDb: path.join(dir, 'temporal-state.db'),
    env,
    ...(withLatency ? { createConnector: withLatency } : {}),
  });
  const running = sync.run();
  // warm the worker (bundle loaded, connections open) outside the measurement
  await client.workflow.execute('syncPipeline', { taskQueue: TASK_QUEUES.sql, workflowId: 'bench-warmup', args: [{ pipeline: 'demo-products' }] });
  await profiler.start();
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const rss = rssSampler();
  const server0 = procCpuSeconds(server.pid);
  const result = (await client.workflow.execute('syncPipeline', {
    taskQueue: TASK_QUEUES.sql,
    workflowId: `bench-accounts-${PAGE}`,
    args: [{ pipeline: 'demo-accounts', pageSize: PAGE }],
  })) as SyncResult;
  const ms = performance.now() - t0;
  await profiler.stop(`workflow-${PAGE}`);
  const cpu = process.cpuUsage(cpu0);
  const serverCpu = procCpuSeconds(server.pid) - server0;
  const peakRssMb = rss.stop();
  if (process.env.BENCH_PROFILE) await profile(client, `bench-accounts-${PAGE}`);
  sync.shutdown();
  await running;
  await native.close();
  await connection.close();
  await server.stop();
  return { ms, written: result.totals.created + result.totals.updated, retries: result.totals.retries, peakRssMb, workerCpu: (cpu.user + cpu.system) / 1e6, serverCpu };
}

/** Time spent per activity type (queue wait and execution), from the workflow's histories. */
async function profile(client: Client, workflowId: string): Promise<void> {
  const ms = (t: unknown): number => {
    const ts = t as { seconds?: { toNumber(): number } | number; nanos?: number } | null;
    const sec = typeof ts?.seconds === 'number' ? ts.seconds : (ts?.seconds?.toNumber() ?? 0);
    return sec * 1000 + (ts?.nanos ?? 0) / 1e6;
  };
  const stats = new Map<string, { n: number; wait: number; run: number }>();
  let runId: string | undefined = (await client.workflow.getHandle(workflowId).describe()).runId;
  const desc = await client.workflow.getHandle(workflowId).describe();
  runId = desc.raw.workflowExecutionInfo?.firstRunId ?? runId;
  let wft = 0;
  while (runId) {
    const h = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    const scheduled = new Map<string, { type: string; at: number; startedAt?: number }>();
    let next: string | undefined;
    for (const e of h.events ?? []) {
      const id = String(e.eventId);
      if (e.activityTaskScheduledEventAttributes) scheduled.set(id, { type: e.activityTaskScheduledEventAttributes.activityType?.name ?? '?', at: ms(e.eventTime) });
      if (e.activityTaskStartedEventAttributes) scheduled.get(String(e.activityTaskStartedEventAttributes.scheduledEventId))!.startedAt = ms(e.eventTime);
      if (e.activityTaskCompletedEventAttributes) {
        const s = scheduled.get(String(e.activityTaskCompletedEventAttributes.scheduledEventId))!;
        const st = stats.get(s.type) ?? { n: 0, wait: 0, run: 0 };
        st.n++;
        st.wait += (s.startedAt ?? s.at) - s.at;
        st.run += ms(e.eventTime) - (s.startedAt ?? s.at);
        stats.set(s.type, st);
      }
      if (e.workflowTaskCompletedEventAttributes) wft++;
      next = e.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? next;
    }
    runId = next;
  }
  for (const [type, s] of stats) console.log(`  ${type.padEnd(12)} n=${s.n} wait ${(s.wait / s.n).toFixed(1)} ms, run ${(s.run / s.n).toFixed(1)} ms (avg)`);
  console.log(`  workflow tasks: ${wft}`);
}

const profiler = cpuProfiler();

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const base = mkdtempSync(path.join(os.tmpdir(), 'bench-sql-'));
  const size = { accounts: N, contacts: 0, products: 200 };
  console.log(`bench: ${N} accounts, page sizes ${PAGE_SIZES.join(', ')}, ${ROUNDS} rounds, ${LATENCY_MS} ms per connector call, node ${process.version}, ${os.cpus().length} cpus, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  let k = 0;
  const fresh = (): string => {
    const d = path.join(base, String(k++));
    seedDemo(d, size);
    return d;
  };
  const rate = (x: { written: number; ms: number }) => x.written / (x.ms / 1000);
  const rows: string[] = [];
  for (const pageSize of PAGE_SIZES) {
    PAGE = pageSize;
    // Fresh copies of the same data for every run.
    const { plains, workflows: temporals } = await bracketed(ROUNDS, () => plainLoop(fresh()), () => throughTemporal(fresh()));
    const plainRate = median(plains.map(rate));
    const temporalRate = median(temporals.map(rate));
    const cpu = (xs: number[]) => median(xs).toFixed(1);
    console.log(`page ${pageSize}:`);
    console.log(`  plain loop : ${plains.map((p) => `${(p.ms / 1000).toFixed(2)} s`).join(', ')} → median ${plainRate.toFixed(0)} records/s (${plains[0]!.written} written)`);
    console.log(`  workflow   : ${temporals.map((t) => `${(t.ms / 1000).toFixed(2)} s`).join(', ')} → median ${temporalRate.toFixed(0)} records/s (${temporals[0]!.written} written; activity retries ${temporals.map((t) => t.retries).join(', ')})`);
    console.log(
      `  cpu seconds (median): plain ${cpu(plains.map((p) => p.cpu))}; workflow: worker ${cpu(temporals.map((t) => t.workerCpu))} + dev server ${cpu(temporals.map((t) => t.serverCpu))}`,
    );
    const plainRss = Math.max(...plains.map((p) => p.peakRssMb));
    const workerRss = Math.max(...temporals.map((t) => t.peakRssMb));
    console.log(`  ratio workflow/plain = ${(temporalRate / plainRate).toFixed(2)} (goal >= 0.9 at the default page size); peak RSS plain ${plainRss.toFixed(0)} MiB, worker ${workerRss.toFixed(0)} MiB`);
    if (temporals.some((t) => t.written !== plains[0]!.written)) console.log('  WARNING: written counts differ between runs');
    rows.push(
      `| ${pageSize.toLocaleString('en')} | ${plainRate.toFixed(0)} | ${temporalRate.toFixed(0)} | ${(temporalRate / plainRate).toFixed(2)} | ${cpu(plains.map((p) => p.cpu))} | ${cpu(temporals.map((t) => t.workerCpu))} + ${cpu(temporals.map((t) => t.serverCpu))} | ${plainRss.toFixed(0)} / ${workerRss.toFixed(0)} |`,
    );
  }
  console.log(`\n${TABLE_HEADER}`);
  for (const r of rows) console.log(r);
  rmSync(base, { recursive: true, force: true });
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
