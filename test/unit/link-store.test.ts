import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stableHash } from '../../contracts/stable-json';
import { loadRegistry } from '../../pipelines/load';
import { openSqliteStateStore } from '../../state/sqlite-store';
import type { LinkKey, StateStore } from '../../state/types';
import { migrateBindingsToLinks } from '../../workers/migrate-links';

const crmKey = (key: string): LinkKey => ({ side: 'crm', system: 'demo-crm', entity: 'accounts', key });
const erpKey = (key: string): LinkKey => ({ side: 'erp', system: 'demo-erp', entity: 'customers', key });
const field = (value: unknown, origin = 'crm') => ({ hash: stableHash(value), value, origin });

let store: StateStore;
beforeEach(() => {
  store = openSqliteStateStore(':memory:');
});
afterEach(async () => {
  await store.close();
});

describe('links', () => {
  test('upsert, then find by either side key in a batch; unknown keys are absent', async () => {
    const ids = await store.upsertLinks('p', [
      { keys: [crmKey('42'), erpKey('17')], fields: { name: field('Acme') } },
      { keys: [crmKey('43'), erpKey('18')], fields: { name: field('Globex') }, deletedSides: ['crm'] },
    ]);
    expect(ids).toEqual(['p:crm:42', 'p:crm:43']);
    const byCrm = await store.findLinks('p', 'crm', ['42', '43', '99']);
    expect([...byCrm.keys()]).toEqual(['42', '43']);
    expect(byCrm.get('42')).toMatchObject({ linkId: 'p:crm:42', pair: 'p', keys: { crm: '42', erp: '17' }, fields: { name: field('Acme') }, deletedSides: [], tombstone: null });
    expect(byCrm.get('43')!.deletedSides).toEqual(['crm']);
    const byErp = await store.findLinks('p', 'erp', ['18']);
    expect(byErp.get('18')!.linkId).toBe('p:crm:43');
    expect((await store.findLinks('other-pair', 'crm', ['42'])).size).toBe(0);
  });

  test('an upsert without an id updates the link found by any of its keys (a retried write makes no second link)', async () => {
    await store.upsertLinks('p', [{ keys: [crmKey('42'), erpKey('17')], fields: { name: field('Acme') } }]);
    const [id] = await store.upsertLinks('p', [{ keys: [erpKey('17'), crmKey('42')], fields: { name: field('Acme 2', 'erp') } }]);
    expect(id).toBe('p:crm:42');
    expect(await store.listLinks('p')).toHaveLength(1);
    expect((await store.findLinks('p', 'crm', ['42'])).get('42')!.fields).toEqual({ name: field('Acme 2', 'erp') });
  });

  test('a side whose record was re-created gets its new key; the old key no longer finds the link', async () => {
    await store.upsertLinks('p', [{ keys: [crmKey('42'), erpKey('17')], fields: {} }]);
    await store.upsertLinks('p', [{ linkId: 'p:crm:42', keys: [crmKey('42'), erpKey('99')], fields: {} }]);
    expect((await store.findLinks('p', 'erp', ['17'])).size).toBe(0);
    expect((await store.findLinks('p', 'erp', ['99'])).get('99')!.keys).toEqual({ crm: '42', erp: '99' });
  });

  test('tombstones keep the link (so the survivor is not re-created) and say which side went', async () => {
    const [id] = await store.upsertLinks('p', [{ keys: [crmKey('42'), erpKey('17')], fields: {} }]);
    expect(await store.tombstoneLinks('p', [{ linkId: id!, side: 'erp', at: '2026-02-01T00:00:00.000Z' }, { linkId: 'nope', side: 'erp', at: 'x' }])).toBe(1);
    expect((await store.findLinks('p', 'crm', ['42'])).get('42')!.tombstone).toEqual({ side: 'erp', at: '2026-02-01T00:00:00.000Z' });
  });

  test('listLinks pages in link id order', async () => {
    await store.upsertLinks('p', Array.from({ length: 5 }, (_, i) => ({ keys: [crmKey(String(i)), erpKey(String(100 + i))], fields: {} })));
    const first = await store.listLinks('p', { limit: 3 });
    const rest = await store.listLinks('p', { afterLinkId: first.at(-1)!.linkId, limit: 3 });
    expect([...first, ...rest].map((l) => l.keys.crm)).toEqual(['0', '1', '2', '3', '4']);
  });

  test('the write ledger keeps the latest hash per link, side and field', async () => {
    await store.recordWrites([
      { linkId: 'L1', side: 'erp', field: 'name', hash: 'h1' },
      { linkId: 'L1', side: 'erp', field: 'phone', hash: 'h2' },
      { linkId: 'L1', side: 'crm', field: 'vatNumber', hash: 'h3' },
      { linkId: 'L2', side: 'erp', field: 'name', hash: 'h4' },
    ]);
    await store.recordWrites([{ linkId: 'L1', side: 'erp', field: 'name', hash: 'h5' }]);
    const ledger = await store.getLedger(['L1', 'L3']);
    expect(ledger).toEqual(new Map([['L1', { erp: { name: 'h5', phone: 'h2' }, crm: { vatNumber: 'h3' } }]]));
  });

  test('batches above the IN-list chunk size', async () => {
    const n = 1200;
    await store.upsertLinks('p', Array.from({ length: n }, (_, i) => ({ keys: [crmKey(String(i)), erpKey(`e${i}`)], fields: {} })));
    const found = await store.findLinks('p', 'erp', Array.from({ length: n }, (_, i) => `e${i}`));
    expect(found.size).toBe(n);
    expect(found.get('e1199')!.keys.crm).toBe('1199');
  });
});

describe('migrating one-way bindings into links', () => {
  const registry = loadRegistry({ env: { DEMO_DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'links-')) } });
  const canonical = { externalKey: '1', name: 'Acme', email: 'a@acme.test', address: { city: 'Berlin', countryCode: 'DE' }, segment: 'smb', active: true };

  test('bindings become links of the pipeline\'s own space, and of the pair that covers it; idempotent', async () => {
    await store.putBindings('demo-accounts', [
      { sourceKey: '1', targetKey: '101', hash: 'r1', fields: canonical },
      { sourceKey: '2', targetKey: '102', hash: 'r2' },
      { sourceKey: '3', targetKey: '103', hash: '', fields: canonical }, // invalidated: values no longer vouched for
    ]);
    await store.putBindings('demo-products', [{ sourceKey: '7', targetKey: '70', hash: 'p7' }]);

    const first = await migrateBindingsToLinks(store, registry);
    expect(first).toEqual([
      { pipeline: 'demo-accounts', scope: 'demo-accounts', links: 3, withFields: 1 },
      { pipeline: 'demo-accounts', scope: 'demo-customers', links: 3, withFields: 1 },
      { pipeline: 'demo-products', scope: 'demo-products', links: 1, withFields: 0 },
    ]);
    // the one-way pipeline's own space, where it plans
    expect((await store.findLinks('demo-accounts', 'source', ['1'])).get('1')!.keys).toEqual({ source: '1', target: '101' });
    const links = await store.findLinks('demo-customers', 'crm', ['1', '2', '3']);
    const l1 = links.get('1')!;
    expect(l1.keys).toEqual({ crm: '1', erp: '101' });
    expect(l1.fields.name).toEqual({ hash: stableHash('Acme'), value: 'Acme', origin: 'crm' });
    expect(l1.fields.address).toEqual({ hash: stableHash(canonical.address), value: canonical.address, origin: 'crm' });
    expect(l1.fields.creditLimit).toEqual({ hash: stableHash(null), value: null, origin: 'crm' });
    expect(l1.fields.externalKey).toBeUndefined();
    expect(links.get('2')).toMatchObject({ fields: {}, recordHash: 'r2' });
    expect(links.get('3')).toMatchObject({ fields: {}, keys: { crm: '3', erp: '103' } });
    expect(links.get('3')!.recordHash).toBeUndefined();
    expect((await store.findLinks('demo-customers', 'erp', ['102'])).get('102')!.keys.crm).toBe('2');
    expect((await store.findLinks('demo-products', 'target', ['70'])).get('70')!.keys).toEqual({ source: '7', target: '70' });

    // a second start: nothing to do, nothing duplicated; the bindings stay (no longer written by syncs)
    await store.putBindings('demo-accounts', [{ sourceKey: '4', targetKey: '104', hash: 'r4' }]);
    expect(await migrateBindingsToLinks(store, registry)).toEqual([]);
    expect(await store.listLinks('demo-customers')).toHaveLength(3);
    expect(await store.listBindings('demo-accounts')).toHaveLength(4);
  });

  test('a store the first version migrated gets its own-space links again from the newer bindings; the pair\'s links stay', async () => {
    await store.putBindings('demo-products', [{ sourceKey: '7', targetKey: '70', hash: 'old' }]);
    await store.putBindings('demo-accounts', [{ sourceKey: '1', targetKey: '101', hash: 'old' }]);
    // what the first version left: links from its start, meta keys per scope
    await store.upsertLinks('demo-products', [{ keys: [{ side: 'source', system: 'demo-crm', entity: 'products', key: '7' }, { side: 'target', system: 'demo-erp', entity: 'products', key: '70' }], fields: {}, recordHash: 'old' }]);
    await store.setMeta('links-migrated:demo-products->demo-products', '{"links":1}');
    await store.setMeta('links-migrated:demo-accounts->demo-customers', '{"links":1}');
    // one-way syncs went on writing bindings after that start
    await store.putBindings('demo-products', [{ sourceKey: '7', targetKey: '70', hash: 'new' }, { sourceKey: '8', targetKey: '80', hash: 'h8' }]);

    const report = await migrateBindingsToLinks(store, registry);
    expect(report).toEqual([
      { pipeline: 'demo-accounts', scope: 'demo-accounts', links: 1, withFields: 0 },
      { pipeline: 'demo-products', scope: 'demo-products', links: 2, withFields: 0 },
    ]);
    const links = await store.findLinks('demo-products', 'source', ['7', '8']);
    expect(links.get('7')!.recordHash).toBe('new');
    expect(links.get('8')!.keys).toEqual({ source: '8', target: '80' });
    expect(await store.listLinks('demo-customers')).toEqual([]);
  });
});
