/**
 * Tryton sync throughput: the same N demo CRM accounts synced into Tryton
 *   (a) through the syncPipeline workflow (dev server + worker in this process), and
 *   (b) by the same connectors and mapping in a plain loop (fetch page → map → upsert batches),
 * each into a fresh copy of the pristine Tryton database. Prints both rates and the ratio.
 *
 *   npx tsx bench/tryton-sync.bench.ts [N=1500] [pageSize=1000]     (BENCH_ROUNDS=2: rounds in alternating order)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TASK_QUEUES } from '../contracts/queues';
import type { Cursor } from '../contracts/cursor';
import type { SyncResult } from '../contracts/sync';
import { seedDemo } from '../demo/seed';
import { TrytonClient } from '../connectors/tryton/client';
import { ConnectorPool, loadRegistry } from '../pipelines/load';
import { startTryton, type TrytonInstance } from '../scripts/tryton';
import { startDevEnv } from '../test/helpers/env';
import { createSyncWorkers } from '../workers/worker';

const N = Number(process.argv[2] ?? 1500);
const PAGE = Number(process.argv[3] ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const PIPELINE = 'tryton-customers';

function envFor(dataDir: string, t: TrytonInstance): NodeJS.ProcessEnv {
  return { DEMO_DATA_DIR: dataDir, TRYTON_URL: t.url, TRYTON_DATABASE: t.database, TRYTON_USER: t.user, TRYTON_SYNC_PASSWORD: t.password };
}

interface Side { ms: number; read: number; written: number; refused: number }

/** (b) The same connectors and mapping, no Temporal: fetch a page, map it, upsert it in connector-sized batches. */
async function plainLoop(dataDir: string, t: TrytonInstance): Promise<Side> {
  const env = envFor(dataDir, t);
  const registry = loadRegistry({ env });
  const p = registry.pipelines.get(PIPELINE)!;
  const mapping = registry.mappings.get(p.mapping)!;
  const pool = new ConnectorPool(registry, env);
  const source = pool.get(p.source.system);
  const target = pool.get(p.target.system);
  const batchSize = target.describe().maxBatchSize;
  const t0 = performance.now();
  let cursor: Cursor | null = null;
  const out: Side = { ms: 0, read: 0, written: 0, refused: 0 };
  for (;;) {
    const page = await source.fetchChanges(p.source.entity, { after: cursor, limit: PAGE });
    out.read += page.records.length;
    const valid: { externalKey: string; fields: Record<string, unknown> }[] = [];
    for (const r of page.records) {
      const m = mapping.apply(r.data);
      if (m.ok) valid.push({ externalKey: r.key, fields: m.value });
      else out.refused++;
    }
    for (let i = 0; i < valid.length; i += batchSize) {
      for (const o of await target.upsert(p.target.entity, valid.slice(i, i + batchSize))) {
        if (o.ok) out.written++;
        else out.refused++;
      }
    }
    cursor = page.nextCursor;
    if (!page.hasMore) break;
  }
  out.ms = performance.now() - t0;
  await pool.closeAll();
  return out;
}

/** (a) Through Temporal: a dev server, a worker in this process, one syncPipeline execution. */
async function viaWorkflow(dataDir: string, t: TrytonInstance): Promise<Side> {
  const dev = await startDevEnv();
  try {
    const sync = await createSyncWorkers({
      connection: dev.nativeConnection, namespace: 'default', families: ['tryton'],
      stateDb: path.join(dataDir, 'state.db'), env: envFor(dataDir, t), workflowBundle: dev.workflowBundle,
    });
    const running = sync.run();
    try {
      // Warm the worker (workflow sandbox, first task) with a sync that fails at once: no data written.
      await dev.client.workflow
        .execute('syncPipeline', { taskQueue: TASK_QUEUES.tryton, workflowId: `warm-${Date.now()}`, args: [{ pipeline: 'no-such-pipeline' }] })
        .catch(() => undefined);
      const t0 = performance.now();
      const r: SyncResult = await dev.client.workflow.execute('syncPipeline', {
        taskQueue: TASK_QUEUES.tryton, workflowId: `bench-${Date.now()}`, args: [{ pipeline: PIPELINE, mode: 'full', pageSize: PAGE }],
      });
      return { ms: performance.now() - t0, read: r.totals.read, written: r.totals.created + r.totals.updated, refused: r.totals.quarantined };
    } finally {
      sync.shutdown();
      await running;
    }
  } finally {
    await dev.teardown();
  }
}

async function side(name: string, fn: (dir: string, t: TrytonInstance) => Promise<Side>, dir: string): Promise<Side> {
  const t = await startTryton(); // a fresh copy of the pristine database
  try {
    // Warm up outside the timing: trytond builds its model pool on the first call to a database.
    const warm = new TrytonClient({ url: t.url, database: t.database, user: t.user, password: t.password });
    await warm.model('party.party', 'search', [[], 0, 1, null]);
    await warm.logout();
    const s = await fn(dir, t);
    console.log(`${name.padEnd(22)} ${s.read} read, ${s.written} written, ${s.refused} refused in ${(s.ms / 1000).toFixed(2)} s → ${((s.read * 1000) / s.ms).toFixed(1)} records/s`);
    return s;
  } finally {
    await t.stop();
  }
}

async function main(): Promise<void> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'tryton-bench-'));
  try {
    console.log(`Tryton sync bench: ${N} CRM accounts → Tryton parties, page ${PAGE}, connector batch 100`);
    // The machine is shared and which side runs first matters (disk cache), so run ROUNDS rounds in
    // alternating order, each on fresh data and a fresh Tryton database, and compare the best runs.
    const loops: Side[] = [];
    const wfs: Side[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const d = (name: string) => path.join(tmp, `${name}-${round}`);
      for (const name of ['loop', 'wf']) seedDemo(d(name), { accounts: N, contacts: 0, products: 0 });
      if (round % 2 === 0) {
        loops.push(await side('plain loop', plainLoop, d('loop')));
        wfs.push(await side('syncPipeline workflow', viaWorkflow, d('wf')));
      } else {
        wfs.push(await side('syncPipeline workflow', viaWorkflow, d('wf')));
        loops.push(await side('plain loop', plainLoop, d('loop')));
      }
    }
    const best = (xs: Side[]): Side => xs.reduce((a, b) => (b.ms < a.ms ? b : a));
    const loop = best(loops);
    const wf = best(wfs);
    console.log(`best: plain loop ${((loop.read * 1000) / loop.ms).toFixed(1)} records/s, workflow ${((wf.read * 1000) / wf.ms).toFixed(1)} records/s`);
    if (loop.written !== wf.written) console.warn(`warning: sides wrote different counts (${loop.written} vs ${wf.written})`);
    const ratio = loop.ms / wf.ms;
    console.log(`ratio workflow / loop = ${ratio.toFixed(2)} (goal ≥ 0.80) ${ratio >= 0.8 ? 'OK' : 'BELOW GOAL'}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
