import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PagePrefetch, PREFETCH_TTL_MS } from '../../activities/prefetch';
import { createSyncActivities } from '../../activities/sync';
import type { PreparePageResult } from '../../activities/sync-types';
import type { Cursor } from '../../contracts/cursor';
import { seedDemo } from '../../demo/seed';
import { ConnectorPool, loadRegistry } from '../../pipelines/load';
import { openSqliteStateStore } from '../../state/sqlite-store';
import type { StateStore } from '../../state/types';
import { runActivity as run } from '../helpers/activity-run';
import { demoDbs, queryDb } from '../helpers/demo-env';

let dir: string;
let store: StateStore;
let fetches: number;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'write-ahead-'));
  seedDemo(dir, { accounts: 0, contacts: 0, products: 60 });
  store = openSqliteStateStore(path.join(dir, 'state.db'));
  fetches = 0;
});
afterEach(async () => {
  await store.close();
});

/** One worker's activities over the demo, counting the source's fetches. */
const worker = () => {
  const vars = { DEMO_DATA_DIR: dir };
  const registry = loadRegistry({ env: vars });
  const pool = new ConnectorPool(registry, vars);
  const get = pool.get.bind(pool);
  pool.get = (name: string) => {
    const c = get(name);
    if (name !== 'demo-crm') return c;
    return Object.assign(Object.create(c) as typeof c, {
      fetchChanges: (...a: Parameters<typeof c.fetchChanges>) => {
        fetches++;
        return c.fetchChanges(...a);
      },
    });
  };
  return createSyncActivities({ registry, connectors: pool, store, workerId: 'w' });
};
const erpProducts = () => queryDb<{ n: number }>(demoDbs(dir).erp, 'SELECT COUNT(*) n FROM products')[0]!.n;
const ref = (seq: number) => ({ pipeline: 'demo-products', syncId: 'sync-1', seq });
const prepare = (a: ReturnType<typeof worker>, seq: number, after: Cursor | null) =>
  run(new MockActivityEnvironment(), a.preparePage, { ...ref(seq), after, limit: 20, seen: true });
const write = (a: ReturnType<typeof worker>, seq: number, page: PreparePageResult, extra: { after?: number; env?: MockActivityEnvironment; planHash?: string } = {}) =>
  run(extra.env ?? new MockActivityEnvironment(), a.writePage, {
    ...ref(seq),
    planPageId: page.plan!.planPageId,
    planHash: extra.planHash ?? page.plan!.planHash,
    check: true,
    commit: { cursor: page.nextCursor },
    writeNo: 1, // the first write the workflow starts for the page
    ...(extra.after !== undefined ? { after: { seq: extra.after, writeNo: 1 } } : {}),
  });
const settledSoon = async (p: Promise<unknown>): Promise<boolean> => {
  let settled = false;
  void p.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((r) => setTimeout(r, 300));
  return settled;
};

test('a page written ahead waits on the worker until the page before it has committed, then writes and commits after it', async () => {
  const a = worker();
  const p0 = await prepare(a, 0, null);
  const p1 = await prepare(a, 1, p0.nextCursor);
  const ahead = write(a, 1, p1, { after: 0 });
  expect(await settledSoon(ahead)).toBe(false);
  expect(erpProducts()).toBe(0); // nothing of page 1 written before page 0
  expect(await store.getCheckpoint('demo-products')).toBeNull();

  const w0 = await write(a, 0, p0);
  expect(w0.created).toBeGreaterThan(15);
  const w1 = await ahead;
  expect(w1.created).toBeGreaterThan(15);
  expect(erpProducts()).toBe(w0.created + w1.created);
  expect(await store.getCheckpoint('demo-products')).toEqual(p1.nextCursor);

  // A late retry of page 0 (its completion was lost) does not move the checkpoint back.
  await write(a, 0, p0);
  expect(await store.getCheckpoint('demo-products')).toEqual(p1.nextCursor);
});

test('when the page before ends without committing, the page written ahead writes nothing and answers stale', async () => {
  const a = worker();
  const p0 = await prepare(a, 0, null);
  const p1 = await prepare(a, 1, p0.nextCursor);
  const ahead = write(a, 1, p1, { after: 0 });
  // Page 0's write fails (its plan is not the one approved): nothing of it is written.
  await expect(write(a, 0, p0, { planHash: 'not-the-plan' })).rejects.toThrow(/no longer matches the approved plan/);
  expect(await ahead).toEqual({ created: 0, updated: 0, quarantined: 0, stale: true });
  expect(erpProducts()).toBe(0);
  expect(await store.getCheckpoint('demo-products')).toBeNull();
});

test('a page written ahead that is cancelled while it waits writes nothing', async () => {
  const a = worker();
  const p0 = await prepare(a, 0, null);
  const p1 = await prepare(a, 1, p0.nextCursor);
  const env = new MockActivityEnvironment();
  const ahead = write(a, 1, p1, { after: 0, env });
  expect(await settledSoon(ahead)).toBe(false);
  env.cancel();
  await expect(ahead).rejects.toBeInstanceOf(CancelledFailure);
  const w0 = await write(a, 0, p0);
  expect(erpProducts()).toBe(w0.created); // page 0 only
  expect(await store.getCheckpoint('demo-products')).toEqual(p0.nextCursor);
});

test('the pages after a prepared page are prepared in the background; a page prepared again is read afresh', async () => {
  const a = worker();
  const settle = () => new Promise((r) => setTimeout(r, 300));
  const p0 = await prepare(a, 0, null);
  expect(fetches).toBe(1);
  await settle(); // pages 1 and 2, in the background, one after the other
  expect(fetches).toBe(3);
  const p1 = await prepare(a, 1, p0.nextCursor);
  expect(p1.count).toBe(20);
  expect(fetches).toBe(3); // page 1 came from the background
  await settle();
  expect(fetches).toBe(4); // and page 3 (after the last product) is prepared now
  // Page 1 prepared again (its plan went stale): fetched afresh, and nothing more in the background.
  const again = await prepare(a, 1, p0.nextCursor);
  expect(again.count).toBe(20);
  await settle();
  expect(fetches).toBe(5);
  // Page 2 is read afresh too: the background copies were given up with the re-prepare.
  const p2 = await prepare(a, 2, again.nextCursor);
  expect(p2.count).toBe(20);
  expect(fetches).toBe(6);
});

test('pages prepared in the background: up to the depth after the last one asked for, one at a time, handed out once, only for the same request, not when old', async () => {
  let now = 0;
  const pf = new PagePrefetch<{ hasMore: boolean; nextCursor: Cursor | null; seq: number }>(2, () => now);
  const prepared: number[] = [];
  const prepare = async (seq: number) => {
    prepared.push(seq);
    return { hasMore: seq < 5, nextCursor: { modifiedAt: `t${seq}`, key: String(seq) }, seq };
  };
  const request = (seq: number) => `r${seq}`;
  const settle = () => new Promise((r) => setTimeout(r, 20));

  expect(pf.take('s', 0, 'r0')).toEqual({ page: null, ahead: true }); // the first page this worker sees
  pf.runAhead('s', 0, await prepare(0), prepare, request);
  await settle();
  expect(prepared).toEqual([0, 1, 2]); // two pages after page 0, one after the other
  const hit = pf.take('s', 1, 'r1');
  expect((await hit.page)?.seq).toBe(1);
  expect(hit.ahead).toBe(true);
  pf.runAhead('s', 1, (await hit.page)!, prepare, request);
  await settle();
  expect(prepared).toEqual([0, 1, 2, 3]); // page 2 was ready: only page 3 more
  expect(pf.take('s', 2, 'another request').page).toBeNull(); // not the page asked for
  expect(pf.take('s', 2, 'r2')).toEqual({ page: null, ahead: false }); // once; and a page asked again is read afresh

  // Too old.
  const old = new PagePrefetch<{ hasMore: boolean; nextCursor: Cursor | null; seq: number }>(2, () => now);
  old.take('s', 0, 'r0');
  old.runAhead('s', 0, await prepare(0), prepare, request);
  await settle();
  now += PREFETCH_TTL_MS + 1;
  expect(old.take('s', 1, 'r1').page).toBeNull();
  // Page 4 went to another worker: nothing prepared ahead here for page 5.
  expect(old.take('s', 5, 'r5')).toEqual({ page: null, ahead: false });
});

test("a page prepared in the background is fetched once the page before it is fetched, while that one is still mapped and planned", async () => {
  const pf = new PagePrefetch<{ hasMore: boolean; nextCursor: Cursor | null; seq: number }>(2);
  const events: string[] = [];
  const planned = new Map<number, () => void>();
  const prepare = async (seq: number, _after: Cursor | null, onFetched?: (f: { hasMore: boolean; nextCursor: Cursor | null }) => void) => {
    const page = { hasMore: seq < 5, nextCursor: { modifiedAt: `t${seq}`, key: String(seq) }, seq };
    events.push(`fetch ${seq}`);
    onFetched?.(page);
    await new Promise<void>((resolve) => planned.set(seq, resolve)); // mapping and planning, released by the test
    events.push(`planned ${seq}`);
    return page;
  };
  const settle = () => new Promise((r) => setTimeout(r, 20));
  pf.take('s', 0, 'r0');
  const first = prepare(0, null);
  planned.get(0)!();
  pf.runAhead('s', 0, await first, prepare, (seq) => `r${seq}`);
  await settle();
  // Page 2 is fetched while page 1 is still being planned; no further than the depth.
  expect(events).toEqual(['fetch 0', 'planned 0', 'fetch 1', 'fetch 2']);
  planned.get(2)!();
  planned.get(1)!();
  await settle();
  expect((await pf.take('s', 1, 'r1').page)?.seq).toBe(1);
  expect(events.slice(4).sort()).toEqual(['planned 1', 'planned 2']);
});
