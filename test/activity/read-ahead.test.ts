/**
 * `throughput-v2`: pages planned while earlier pages are still being written. A record that
 * changes twice during a sync sits on two pages in flight; the later page's plan compared with a
 * link the earlier write then replaced. Its write must notice (nothing written, nothing
 * committed), and the page prepared again must leave the target with the newest value.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import Database from 'better-sqlite3';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createSyncActivities } from '../../activities/sync';
import { demoPaths, seedDemo } from '../../demo/seed';
import { ConnectorPool, loadRegistry } from '../../pipelines/load';
import { openSqliteStateStore } from '../../state/sqlite-store';
import type { StateStore } from '../../state/types';
import { runActivity as run } from '../helpers/activity-run';
import { setCrmCity } from '../helpers/demo-env';


let dir: string;
let store: StateStore;
let acts: ReturnType<typeof createSyncActivities>;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'read-ahead-'));
  seedDemo(dir, { accounts: 30, contacts: 0, products: 0 });
  const vars = { DEMO_DATA_DIR: dir };
  const registry = loadRegistry({ env: vars });
  store = openSqliteStateStore(path.join(dir, 'state.db'));
  acts = createSyncActivities({ registry, connectors: new ConnectorPool(registry, vars), store });
});
afterEach(async () => {
  await store.close();
});

const setCity = (id: number, city: string, at: string): void => setCrmCity(dir, id, city, at);

function erpCity(externalKeySuffix: string): string | null {
  const db = new Database(demoPaths(dir).erp, { readonly: true });
  try {
    const rows = db.prepare('SELECT external_key, city FROM customers').all() as { external_key: string; city: string | null }[];
    const hit = rows.filter((r) => r.external_key.endsWith(`:${externalKeySuffix}`) || r.external_key === externalKeySuffix);
    expect(hit).toHaveLength(1); // never a duplicate
    return hit[0]!.city;
  } finally {
    db.close();
  }
}

const ref = (seq: number) => ({ pipeline: 'demo-accounts', syncId: 'sync-1', seq });
type Prepared = Awaited<ReturnType<typeof acts.preparePage>>;
const prepare = (seq: number, after: Prepared['nextCursor']) => run(new MockActivityEnvironment(), acts.preparePage, { ...ref(seq), after, limit: 100, seen: true });
const write = (seq: number, page: Prepared, check = true) =>
  run(new MockActivityEnvironment(), acts.writePage, { ...ref(seq), planPageId: page.plan!.planPageId, planHash: page.plan!.planHash, commit: { cursor: page.nextCursor }, ...(check ? { check } : {}) });

async function firstSync(): Promise<{ key: string; original: string; cursor: Prepared['nextCursor'] }> {
  const page = await prepare(0, null);
  expect(page.plan!.creates).toBeGreaterThan(0);
  expect((await write(0, page)).stale).toBeUndefined();
  // Account 3 (a valid one) and what the ERP holds for it now.
  const db = new Database(demoPaths(dir).crm, { readonly: true });
  const row = db.prepare('SELECT id FROM accounts WHERE id = 3').get() as { id: number };
  db.close();
  const key = String(row.id);
  return { key, original: erpCity(key)!, cursor: page.nextCursor };
}

test('a record changed again while two pages are in flight: the later page is found stale, prepared again, and the newest value is written once', async () => {
  const { key, original, cursor } = await firstSync();
  const base = Date.now();
  setCity(3, 'Zwischenstadt', new Date(base + 60_000).toISOString());
  const p1 = await prepare(1, cursor); // plans an update of account 3's city
  setCity(3, original, new Date(base + 120_000).toISOString()); // ...which the user takes back
  const p2 = await prepare(2, p1.nextCursor); // planned against the old link: nothing to write
  expect(p1.plan!.updates).toBe(1);
  expect(p2.plan!.updates + p2.plan!.creates).toBe(0);
  expect(p2.plan!.planPageId).not.toBe(''); // staged anyway, with what it saw of its links

  expect((await write(1, p1)).updated).toBe(1);
  expect(erpCity(key)).toBe('Zwischenstadt');
  const stale = await write(2, p2);
  expect(stale).toEqual({ created: 0, updated: 0, quarantined: 0, stale: true });
  expect(await store.getCheckpoint('demo-accounts')).toEqual(p1.nextCursor); // nothing committed

  const again = await prepare(2, p1.nextCursor);
  expect(again.plan!.updates).toBe(1);
  const written = await write(2, again);
  expect(written.stale).toBeUndefined();
  expect(written.updated).toBe(1);
  expect(erpCity(key)).toBe(original);
  expect(await store.getCheckpoint('demo-accounts')).toEqual(again.nextCursor);
});

test('without the check (throughput-v1 read-ahead) the same pages leave the intermediate value in the target', async () => {
  const { key, original, cursor } = await firstSync();
  const base = Date.now();
  setCity(3, 'Zwischenstadt', new Date(base + 60_000).toISOString());
  const p1 = await prepare(1, cursor);
  setCity(3, original, new Date(base + 120_000).toISOString());
  const p2 = await prepare(2, p1.nextCursor);
  await write(1, p1, false);
  await write(2, p2, false);
  expect(erpCity(key)).toBe('Zwischenstadt'); // the lost update the check prevents
});

test('pages in flight that do not share records are written as planned, and a page rewritten by a retry is not stale', async () => {
  const { cursor } = await firstSync();
  const base = Date.now();
  setCity(5, 'Erste Stadt', new Date(base + 60_000).toISOString());
  const p1 = await prepare(1, cursor);
  setCity(7, 'Zweite Stadt', new Date(base + 120_000).toISOString());
  const p2 = await prepare(2, p1.nextCursor);
  expect((await write(1, p1)).updated).toBe(1);
  const w2 = await write(2, p2);
  expect(w2.stale).toBeUndefined();
  expect(w2.updated).toBe(1);
  expect(erpCity('5')).toBe('Erste Stadt');
  expect(erpCity('7')).toBe('Zweite Stadt');
  // A retry of a write whose records it already wrote (its completion lost, or another worker
  // redoing a dead holder's page from the claim check) is not taken for stale: it writes again.
  const retried = await write(2, p2);
  expect(retried.stale).toBeUndefined();
  expect(retried.created + retried.updated).toBe(1);
  expect(erpCity('7')).toBe('Zweite Stadt');
});
