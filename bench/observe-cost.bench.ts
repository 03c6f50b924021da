/**
 * What observation adds to a page, measured alone, side by side in one run: a `demo-accounts`
 * sync (SQLite → SQLite) through the pipeline's own page activities (preparePage, writePage with
 * its commit) in a plain loop in this process (MockActivityEnvironment, no server), once bare and
 * once wrapped by activities/observe.ts (a `page` run event inserted per step, counters), then
 * checkAlerts (activities/alerts.ts) once at the end of the sync with every rule on and a
 * loopback webhook. Rounds alternate bare / observed on fresh copies of one seed, so load hits
 * both alike. Prints per page: the bare and observed time, the time spent inserting run events
 * (timed inside the store), and checkAlerts per sync spread over the sync's pages, each as a share
 * of the observed page's time.
 *   npx tsx bench/observe-cost.bench.ts   (BENCH_ACCOUNTS=20000, BENCH_PAGE_SIZE=1000, BENCH_ROUNDS=3)
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createAlertActivities, type AlertSettings } from '../activities/alerts';
import { withObservation } from '../activities/observe';
import { createSyncActivities } from '../activities/sync';
import { seedDemo } from '../demo/seed';
import { ConnectorPool, loadRegistry } from '../pipelines/load';
import { openSqliteStateStore } from '../state/sqlite-store';
import type { StateStore } from '../state/types';

const N = Number(process.env.BENCH_ACCOUNTS ?? 20_000);
const PAGE = Number(process.env.BENCH_PAGE_SIZE ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PIPELINE = 'demo-accounts';

interface Run {
  ms: number;
  pages: number;
  /** Time inside store.addRunEvents (the run-event inserts). */
  eventsMs: number;
  eventInserts: number;
  /** checkAlerts once, after the sync. */
  alertsMs: number;
}

/** The store, with the time spent in addRunEvents added up. */
function timedEvents(store: StateStore): { store: StateStore; ms: () => number; calls: () => number } {
  let ms = 0;
  let calls = 0;
  const wrapped = new Proxy(store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (prop !== 'addRunEvents' || typeof v !== 'function') return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      return async (...args: unknown[]) => {
        const t0 = performance.now();
        try {
          return await (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        } finally {
          ms += performance.now() - t0;
          calls++;
        }
      };
    },
  });
  return { store: wrapped, ms: () => ms, calls: () => calls };
}

async function runOnce(dir: string, observed: boolean, webhookUrl: string): Promise<Run> {
  const env = { DEMO_DATA_DIR: dir };
  const registry = loadRegistry({ env });
  const connectors = new ConnectorPool(registry, env);
  const timed = timedEvents(openSqliteStateStore(path.join(dir, 'state.db')));
  const store = timed.store;
  const deps = { registry, connectors, store };
  const bare = createSyncActivities(deps);
  const acts = observed ? withObservation(bare, deps) : bare;
  const alerts: AlertSettings = { webhookUrl, file: 'bench', rules: { failedSync: true, quarantineAbove: 50, zeroRead: { usualAtLeast: 1, lastRuns: 5 }, approvalWaitingMs: null } };
  const ctx = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('WARN') });
  const run = <A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> => ctx.run(fn, ...args) as Promise<R>;
  const syncId = `bench-${observed ? 'observed' : 'bare'}`;
  const t0 = performance.now();
  const begin = await acts.beginSync({ pipeline: PIPELINE, pageSize: PAGE });
  let after = begin.startCursor;
  let seq = 0;
  let read = 0;
  for (;;) {
    const ref = { pipeline: PIPELINE, syncId, seq };
    const page = await run(acts.preparePage, { ...ref, after, limit: begin.pageSize });
    read += page.count;
    if (page.plan?.planPageId) await run(acts.writePage, { ...ref, planPageId: page.plan.planPageId, commit: { cursor: page.nextCursor } });
    else if (page.count > 0) await store.setCheckpoint(PIPELINE, page.nextCursor, syncId);
    after = page.nextCursor;
    seq++;
    if (!page.hasMore) break;
  }
  await acts.finishSync({ pipeline: PIPELINE, syncId, status: 'completed', startedAtMs: Date.now() - (performance.now() - t0), totals: { read } });
  const ms = performance.now() - t0;
  // checkAlerts as the workflow calls it after the run report (activities/alerts.ts).
  const a0 = performance.now();
  if (observed) await run(createAlertActivities({ store, alerts }).checkAlerts, { pipeline: PIPELINE, syncId, status: 'completed', totals: { read } });
  const alertsMs = observed ? performance.now() - a0 : 0;
  await connectors.closeAll();
  await store.close();
  return { ms, pages: seq, eventsMs: timed.ms(), eventInserts: timed.calls(), alertsMs };
}

/**
 * The wrapper alone: ms per call of a step that does nothing, bare and observed (run events into
 * a store that does nothing), best of 3 batches of 2,000 calls each.
 */
async function wrapperPerCall(registry: ReturnType<typeof loadRegistry>): Promise<{ bare: number; observed: number }> {
  const noStore = { addRunEvents: async () => undefined } as unknown as StateStore;
  const steps = { preparePage: async (_ref: { pipeline: string; syncId: string; seq: number }) => ({ count: PAGE, quarantined: 0, plan: { unchanged: 0 } }) };
  const wrapped = withObservation(steps, { registry, store: noStore });
  const ctx = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('WARN') });
  const best = { bare: Infinity, observed: Infinity };
  for (let round = 0; round < 3; round++) {
    for (const [name, fn] of [['bare', steps.preparePage], ['observed', wrapped.preparePage]] as const) {
      const t0 = performance.now();
      for (let i = 0; i < 2000; i++) await ctx.run(fn, { pipeline: PIPELINE, syncId: 'wrapper', seq: i });
      best[name] = Math.min(best[name], (performance.now() - t0) / 2000);
    }
  }
  return best;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const base = mkdtempSync(path.join(os.tmpdir(), 'bench-observe-'));
  let posts = 0;
  const webhook = http.createServer((req, res) => {
    posts++;
    req.resume();
    req.on('end', () => res.writeHead(200).end('ok'));
  });
  await new Promise<void>((r) => webhook.listen(0, '127.0.0.1', r));
  const webhookUrl = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/hook`;
  try {
    console.log(`bench (observation): ${N} accounts, pages of ${PAGE}, ${ROUNDS} rounds, node ${process.version}, ${os.cpus().length} cpus, load ${os.loadavg()[0]!.toFixed(1)}`);
    const seed = path.join(base, 'seed');
    seedDemo(seed, { accounts: N, contacts: 0, products: 0 });
    const bare: Run[] = [];
    const observed: Run[] = [];
    // One run of each first, not counted: module loading and the JIT's warm-up.
    for (const obs of [false, true]) {
      const dir = path.join(base, `warm-${obs ? 'o' : 'b'}`);
      cpSync(seed, dir, { recursive: true });
      await runOnce(dir, obs, webhookUrl);
      rmSync(dir, { recursive: true, force: true });
    }
    for (let r = 0; r < ROUNDS; r++) {
      // alternate which goes first, so a load change hits both
      for (const obs of r % 2 ? [true, false] : [false, true]) {
        const dir = path.join(base, `run-${r}-${obs ? 'o' : 'b'}`);
        cpSync(seed, dir, { recursive: true });
        const res = await runOnce(dir, obs, webhookUrl);
        (obs ? observed : bare).push(res);
        rmSync(dir, { recursive: true, force: true });
        console.log(`  round ${r + 1} ${obs ? 'observed' : 'bare    '}: ${res.pages} pages, ${(res.ms / res.pages).toFixed(1)} ms/page` + (obs ? `, run events ${(res.eventsMs / res.pages).toFixed(2)} ms/page (${res.eventInserts} inserts), checkAlerts ${res.alertsMs.toFixed(1)} ms` : `, run events ${(res.eventsMs / res.pages).toFixed(2)} ms/page (${res.eventInserts} inserts)`));
      }
    }
    const pages = observed[0]!.pages;
    const barePage = median(bare.map((r) => r.ms / r.pages));
    const obsPage = median(observed.map((r) => r.ms / r.pages));
    // Both variants insert the run report's other events (change samples, approvals); the
    // difference is observe.ts's one insert per step.
    const eventsPage = median(observed.map((r) => r.eventsMs / r.pages)) - median(bare.map((r) => r.eventsMs / r.pages));
    const insertsPage = (observed[0]!.eventInserts - bare[0]!.eventInserts) / pages;
    const alertsSync = median(observed.map((r) => r.alertsMs));
    const pct = (x: number) => `${((x / obsPage) * 100).toFixed(2)}%`;
    console.log(`\nper page (median of ${ROUNDS}): bare ${barePage.toFixed(1)} ms, observed ${obsPage.toFixed(1)} ms (ratio ${(obsPage / barePage).toFixed(3)})`);
    console.log(`  run-event inserts (${insertsPage.toFixed(1)} per page): ${eventsPage.toFixed(2)} ms per page = ${pct(eventsPage)} of an observed page`);
    console.log(`  checkAlerts: ${alertsSync.toFixed(1)} ms per sync = ${(alertsSync / pages).toFixed(3)} ms per page over ${pages} pages = ${pct(alertsSync / pages)} (one sync of one page: ${pct(alertsSync)})`);
    const perCall = await wrapperPerCall(loadRegistry({ env: { DEMO_DATA_DIR: seed } }));
    console.log(`  the wrapper alone (a step that does nothing): ${perCall.bare.toFixed(3)} ms per call bare, ${perCall.observed.toFixed(3)} ms observed: ${((perCall.observed - perCall.bare) * 2).toFixed(3)} ms per page of 2 steps`);
    console.log(`  webhook posts: ${posts} (the quarantine rule fired once per observed sync)`);
  } finally {
    await new Promise((r) => webhook.close(r));
    rmSync(base, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
