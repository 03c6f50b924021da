import { MockActivityEnvironment } from '@temporalio/testing';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createSyncActivities } from '../../activities/sync';
import type { MappedRecord } from '../../activities/sync-types';
import type { Connector, WriteRequest } from '../../connectors/types';
import { stableHash } from '../../contracts/stable-json';
import { demoPaths, seedDemo } from '../../demo/seed';
import { ConnectorPool, loadRegistry, type Registry } from '../../pipelines/load';
import { openSqliteStateStore } from '../../state/sqlite-store';
import type { StateStore } from '../../state/types';
import { migrateBindingsToLinks } from '../../workers/migrate-links';
import { linkedTargets } from '../helpers/links';
import { runActivity as run } from '../helpers/activity-run';

/** The real demo connectors, recording every upsert that reaches the demo ERP. */
class RecordingPool extends ConnectorPool {
  writes: WriteRequest[] = [];
  override get(system: string): Connector {
    const real = super.get(system);
    if (system !== 'demo-erp') return real;
    return {
      ...real,
      upsert: async (entity: string, batch: WriteRequest[]) => {
        this.writes.push(...batch);
        return real.upsert(entity, batch);
      },
    };
  }
}


let dir: string;
let registry: Registry;
let pool: RecordingPool;
const stores: StateStore[] = [];
let seq = 0;

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'one-way-links-'));
  seedDemo(dir, { accounts: 120, contacts: 0, products: 80 });
  const vars = { DEMO_DATA_DIR: dir };
  registry = loadRegistry({ env: vars });
  pool = new RecordingPool(registry, vars);
});
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  await pool.closeAll?.();
  rmSync(dir, { recursive: true, force: true });
});

function openStore(name: string): StateStore {
  const s = openSqliteStateStore(path.join(dir, name));
  stores.push(s);
  return s;
}

/** One full pass of a pipeline through the activities (every page, fetch → map → plan → write). */
async function syncOnce(store: StateStore, pipeline: string) {
  const acts = createSyncActivities({ registry, connectors: pool, store });
  const env = new MockActivityEnvironment();
  const totals = { creates: 0, updates: 0, unchanged: 0, created: 0, updated: 0, mapped: [] as MappedRecord[] };
  const syncId = `sync-${++seq}`;
  let after = null as Parameters<typeof acts.fetchPage>[0]['after'];
  for (let page = 0; ; page++) {
    const ref = { pipeline, syncId, seq: page };
    const fetched = await run(env, acts.fetchPage, { ...ref, after, limit: 50 });
    if (fetched.count > 0) {
      const mapped = await run(env, acts.mapPage, { ...ref, pageId: fetched.pageId });
      totals.mapped.push(...(await store.loadPage<MappedRecord[]>(mapped.mappedPageId)));
      const plan = await run(env, acts.planPage, { ...ref, mappedPageId: mapped.mappedPageId });
      totals.creates += plan.creates;
      totals.updates += plan.updates;
      totals.unchanged += plan.unchanged;
      if (plan.creates + plan.updates > 0) {
        const written = await run(env, acts.writePage, { ...ref, planPageId: plan.planPageId, planHash: plan.planHash });
        totals.created += written.created;
        totals.updated += written.updated;
      }
    }
    after = fetched.nextCursor;
    if (!fetched.hasMore) break;
  }
  return totals;
}

function queryErp<T>(sql: string, ...args: unknown[]): T {
  const db = new Database(demoPaths(dir).erp, { readonly: true });
  try {
    return db.prepare(sql).get(...args) as T;
  } finally {
    db.close();
  }
}

const erpCount = (table: string) => {
  const db = new Database(demoPaths(dir).erp, { readonly: true });
  try {
    return (db.prepare(`SELECT count(*) n FROM ${table}`).get() as { n: number }).n;
  } finally {
    db.close();
  }
};

describe('one-way pipelines on links', () => {
  test('a second run writes nothing; a changed field is the only one written (a partial update); links, not bindings, hold it', async () => {
    const store = openStore('state.db');
    const first = await syncOnce(store, 'demo-products');
    expect(first.created).toBeGreaterThan(50);
    expect(first.unchanged).toBe(0);
    expect(await store.listBindings('demo-products')).toEqual([]);
    const linked = await linkedTargets(store, registry, 'demo-products', first.mapped.map((m) => m.sourceKey));
    expect(linked.size).toBe(first.created);

    pool.writes = [];
    const again = await syncOnce(store, 'demo-products');
    expect(again).toMatchObject({ creates: 0, updates: 0, created: 0, updated: 0, unchanged: first.mapped.length });
    expect(pool.writes).toEqual([]);

    const crm = new Database(demoPaths(dir).crm);
    const id = Number(first.mapped[3]!.sourceKey);
    crm.prepare("UPDATE products SET name = name || ' v2', updated_at = ? WHERE id = ?").run(new Date(Date.now() + 1000).toISOString(), id);
    crm.close();
    // A person edits another field of that record in the ERP: a partial update leaves it alone.
    const targetKey = linked.get(String(id))!.targetKey;
    const erp = new Database(demoPaths(dir).erp);
    erp.prepare("UPDATE products SET description = 'edited in the ERP' WHERE id = ?").run(Number(targetKey));
    erp.close();
    const third = await syncOnce(store, 'demo-products');
    expect(third).toMatchObject({ creates: 0, updates: 1, updated: 1 });
    expect(pool.writes.map((w) => [w.externalKey, w.targetKey, w.changed])).toEqual([[String(id), targetKey, ['name']]]);
    const row = queryErp<{ name: string; description: string }>('SELECT name, description FROM products WHERE id = ?', Number(targetKey));
    expect(row).toEqual({ name: `${first.mapped[3]!.fields.name as string} v2`, description: 'edited in the ERP' });
  });

  test('bindings of an older version migrate into links, and the first run after the upgrade writes nothing', async () => {
    // An older install: the targets are written and its state store only has bindings.
    const old = openStore('old-state.db');
    const accounts = await syncOnce(old, 'demo-accounts');
    const products = await syncOnce(old, 'demo-products');
    expect(accounts.created).toBeGreaterThan(80);
    const customers = erpCount('customers');
    const erpProducts = erpCount('products');
    const accountTargets = await linkedTargets(old, registry, 'demo-accounts', accounts.mapped.map((m) => m.sourceKey));
    const productTargets = await linkedTargets(old, registry, 'demo-products', products.mapped.map((m) => m.sourceKey));

    const upgraded = openStore('state.db');
    // Accounts kept their canonical values in the binding (a pipeline watching fields); products only the hash.
    await upgraded.putBindings(
      'demo-accounts',
      accounts.mapped.filter((m) => accountTargets.has(m.sourceKey)).map((m) => ({ sourceKey: m.sourceKey, targetKey: accountTargets.get(m.sourceKey)!.targetKey, hash: m.hash, fields: m.fields })),
    );
    await upgraded.putBindings(
      'demo-products',
      products.mapped.filter((m) => productTargets.has(m.sourceKey)).map((m) => ({ sourceKey: m.sourceKey, targetKey: productTargets.get(m.sourceKey)!.targetKey, hash: m.hash })),
    );
    const migrated = await migrateBindingsToLinks(upgraded, registry);
    expect(migrated).toEqual([
      { pipeline: 'demo-accounts', scope: 'demo-accounts', links: accountTargets.size, withFields: accountTargets.size },
      { pipeline: 'demo-accounts', scope: 'demo-customers', links: accountTargets.size, withFields: accountTargets.size },
      { pipeline: 'demo-products', scope: 'demo-products', links: productTargets.size, withFields: 0 },
    ]);

    pool.writes = [];
    const a = await syncOnce(upgraded, 'demo-accounts');
    const p = await syncOnce(upgraded, 'demo-products');
    expect(pool.writes).toEqual([]);
    expect(a).toMatchObject({ creates: 0, updates: 0, unchanged: accountTargets.size });
    expect(p).toMatchObject({ creates: 0, updates: 0, unchanged: productTargets.size });
    expect(erpCount('customers')).toBe(customers);
    expect(erpCount('products')).toBe(erpProducts);
    // the links migrated with only the record hash learned their per-field hashes on that run
    const link = (await upgraded.findLinks('demo-products', 'source', [products.mapped[0]!.sourceKey])).get(products.mapped[0]!.sourceKey)!;
    expect(link.recordHash).toBe(products.mapped[0]!.hash);
    expect(link.fields.name!.hash).toBe(stableHash(products.mapped[0]!.fields.name));

    // a record changed after the upgrade is written once, by its link's target key
    const crm = new Database(demoPaths(dir).crm);
    const id = Number(products.mapped[5]!.sourceKey);
    crm.prepare("UPDATE products SET name = name || ' v2', updated_at = ? WHERE id = ?").run(new Date(Date.now() + 1000).toISOString(), id);
    crm.close();
    const changed = await syncOnce(upgraded, 'demo-products');
    expect(changed).toMatchObject({ creates: 0, updates: 1 });
    expect(pool.writes.map((w) => w.targetKey)).toEqual([productTargets.get(String(id))!.targetKey]);
    expect(erpCount('products')).toBe(erpProducts);
  });

  test('a pipeline keeps its links in its own space, even where a pair covers its systems', async () => {
    const store = openStore('state.db');
    const first = await syncOnce(store, 'demo-accounts');
    const key = first.mapped[0]!.sourceKey;
    const link = (await store.findLinks('demo-accounts', 'source', [key])).get(key)!;
    expect(link.keys.source).toBe(key);
    expect(link.keys.target).toMatch(/^\d+$/);
    // the pair over the same systems has links of its own only (it links these records by external key)
    expect(await store.listLinks('demo-customers')).toEqual([]);
  });
});
