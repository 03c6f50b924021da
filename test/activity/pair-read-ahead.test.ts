/**
 * `pair-read-ahead`: pages of a pair's side planned while earlier pages of that side are still
 * being written. A record that changes twice during a sync sits on two pages in flight; the later
 * page's plan compared with a link the earlier write then moved. Its write must notice (nothing
 * written, nothing committed), and the page planned again must leave the other side with the
 * newest value.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import Database from 'better-sqlite3';
import { type createPairActivities } from '../../activities/pair';
import { pairCheckpoint } from '../../contracts/pair-sync';
import { demoPaths } from '../../demo/seed';
import type { StateStore } from '../../state/types';
import { runActivity as run } from '../helpers/activity-run';
import { pairActivitiesOn } from '../helpers/pair-activities';
import { setCrmCity } from '../helpers/demo-env';


const PAIR = 'demo-customers';
let dir: string;
let store: StateStore;
let acts: ReturnType<typeof createPairActivities>;
beforeEach(() => {
  ({ dir, store, acts } = pairActivitiesOn('pair-read-ahead-', 30));
});
afterEach(async () => {
  await store.close();
});

const setCity = (id: number, city: string, at: string): void => setCrmCity(dir, id, city, at);

/** The ERP customer created for CRM account `id` (exactly one: never a duplicate). */
function erpCity(id: number): string | null {
  const db = new Database(demoPaths(dir).erp, { readonly: true });
  try {
    const rows = db.prepare('SELECT city FROM customers WHERE external_key = ?').all(String(id)) as { city: string | null }[];
    expect(rows).toHaveLength(1);
    return rows[0]!.city;
  } finally {
    db.close();
  }
}

type Prepared = Awaited<ReturnType<typeof acts.preparePairPage>>;
const ref = (seq: number, side: string) => ({ pair: PAIR, syncId: 'sync-1', seq, side });
const prepare = (seq: number, side: string, after: Prepared['nextCursor'], seen = true) =>
  run(new MockActivityEnvironment(), acts.preparePairPage, { ...ref(seq, side), after, limit: 100, ...(seen ? { seen } : {}) });
const write = (seq: number, side: string, page: Prepared, check = true) =>
  run(new MockActivityEnvironment(), acts.writePairPage, {
    ...ref(seq, side),
    planPageId: page.plan!.planPageId,
    planHash: page.plan!.planHash,
    commit: { cursor: page.nextCursor },
    ...(check ? { check } : {}),
  });

/** A first sync of both sides (every account created in the ERP and linked); the CRM side's cursor after it. */
async function firstSync(): Promise<{ original: string; crmCursor: Prepared['nextCursor'] }> {
  const crm = await prepare(0, 'crm', null);
  expect(crm.plan!.writes.erp!.creates).toBeGreaterThan(0);
  expect((await write(0, 'crm', crm)).stale).toBeUndefined();
  const erp = await prepare(1, 'erp', null);
  expect((await write(1, 'erp', erp)).stale).toBeUndefined();
  return { original: erpCity(3)!, crmCursor: crm.nextCursor };
}

test('a record changed again while two pages of its side are in flight: the later page is found stale, planned again, and the newest value is written', async () => {
  const { original, crmCursor } = await firstSync();
  const base = Date.now();
  setCity(3, 'Zwischenstadt', new Date(base + 60_000).toISOString());
  const p1 = await prepare(2, 'crm', crmCursor); // plans an update of the ERP customer's city
  setCity(3, original, new Date(base + 120_000).toISOString()); // ...which the user takes back
  const p2 = await prepare(3, 'crm', p1.nextCursor); // planned against the link before p1's write
  expect(p1.plan!.writes.erp!.updates).toBe(1);

  expect((await write(2, 'crm', p1)).updated.erp).toBe(1);
  expect(erpCity(3)).toBe('Zwischenstadt');
  const stale = await write(3, 'crm', p2);
  expect(stale.stale).toBe(true);
  expect(stale.updated).toEqual({ crm: 0, erp: 0 });
  expect(erpCity(3)).toBe('Zwischenstadt'); // nothing written
  expect(await store.getCheckpoint(pairCheckpoint(PAIR, 'crm'))).toEqual(p1.nextCursor); // nothing committed

  const again = await prepare(3, 'crm', p1.nextCursor);
  expect(again.plan!.writes.erp!.updates).toBe(1);
  const written = await write(3, 'crm', again);
  expect(written.stale).toBeUndefined();
  expect(written.updated.erp).toBe(1);
  expect(erpCity(3)).toBe(original);
  expect(await store.getCheckpoint(pairCheckpoint(PAIR, 'crm'))).toEqual(again.nextCursor);
});

test('without the check the same pages leave the intermediate value on the other side', async () => {
  const { original, crmCursor } = await firstSync();
  const base = Date.now();
  setCity(3, 'Zwischenstadt', new Date(base + 60_000).toISOString());
  const p1 = await prepare(2, 'crm', crmCursor);
  setCity(3, original, new Date(base + 120_000).toISOString());
  const p2 = await prepare(3, 'crm', p1.nextCursor);
  await write(2, 'crm', p1, false);
  await write(3, 'crm', p2, false);
  expect(erpCity(3)).toBe('Zwischenstadt'); // the lost update the check prevents
});

test('pages in flight that share no record are written as planned; a plan made without `seen` is never checked', async () => {
  const { crmCursor } = await firstSync();
  const base = Date.now();
  setCity(5, 'Erste Stadt', new Date(base + 60_000).toISOString());
  const p1 = await prepare(2, 'crm', crmCursor);
  setCity(7, 'Zweite Stadt', new Date(base + 120_000).toISOString());
  const p2 = await prepare(3, 'crm', p1.nextCursor);
  expect((await write(2, 'crm', p1)).updated.erp).toBe(1);
  const w2 = await write(3, 'crm', p2);
  expect(w2.stale).toBeUndefined();
  expect(w2.updated.erp).toBe(1);
  expect(erpCity(5)).toBe('Erste Stadt');
  expect(erpCity(7)).toBe('Zweite Stadt');

  // Planned without `seen` (histories before `pair-read-ahead`): `check` has nothing to compare.
  setCity(9, 'Dritte Stadt', new Date(base + 180_000).toISOString());
  const p3 = await prepare(4, 'crm', p2.nextCursor, false);
  setCity(9, 'Vierte Stadt', new Date(base + 240_000).toISOString());
  const p4 = await prepare(5, 'crm', p3.nextCursor, false);
  await write(4, 'crm', p3);
  expect((await write(5, 'crm', p4)).stale).toBeUndefined();
});
