/**
 * One conformance suite for every StateStore implementation: the same cases run against the
 * embedded SQLite store (a file) and the PostgreSQL store (a fresh database per test on a real
 * PostgreSQL 15 this file starts). This suite, not either implementation, defines the behaviour.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { SyncError } from '../../contracts/errors';
import { linkVersion } from '../../contracts/link';
import { stableHash } from '../../contracts/stable-json';
import { loadRegistry } from '../../pipelines/load';
import { openStateStore } from '../../state/open';
import { openPostgresStateStore } from '../../state/postgres-store';
import { MIGRATIONS } from '../../state/postgres-schema';
import type { LinkKey, QuarantineEntry, StateStore } from '../../state/types';
import { migrateBindingsToLinks } from '../../workers/migrate-links';
import { startPostgres, type TestPostgres } from '../helpers/postgres';

jest.setTimeout(120_000);

let pg: TestPostgres;
let tmp: string;
let dbSeq = 0;
beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'state-conformance-'));
  pg = await startPostgres();
});
afterAll(async () => {
  await pg?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

interface Kind {
  name: string;
  /** A new, empty location (SQLite file or PostgreSQL database URL). */
  fresh(): Promise<string>;
}
const kinds: Kind[] = [
  { name: 'sqlite', fresh: async () => path.join(tmp, `state-${++dbSeq}.db`) },
  { name: 'postgres', fresh: () => pg.createDatabase(`state_${++dbSeq}`) },
];

const crmKey = (key: string): LinkKey => ({ side: 'crm', system: 'demo-crm', entity: 'accounts', key });
const erpKey = (key: string): LinkKey => ({ side: 'erp', system: 'demo-erp', entity: 'customers', key });
const field = (value: unknown, origin = 'crm') => ({ hash: stableHash(value), value, origin });
const entry = (sourceKey: string, reason: string, syncId = 's1'): QuarantineEntry => ({
  pipeline: 'p',
  syncId,
  sourceKey,
  stage: 'map',
  field: 'phone',
  rule: 'phoneE164',
  reason,
  record: { id: sourceKey },
});

describe.each(kinds)('StateStore conformance: $name', (kind) => {
  let location: string;
  let store: StateStore;
  const opened: StateStore[] = [];
  const open = async (loc = location) => {
    const s = await openStateStore(loc);
    opened.push(s);
    return s;
  };
  beforeEach(async () => {
    location = await kind.fresh();
    store = await open();
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });

  describe('checkpoints and meta', () => {
    test('a checkpoint is null until set, per pipeline, can be cleared, and survives reopening', async () => {
      expect(await store.getCheckpoint('p')).toBeNull();
      await store.setCheckpoint('p', { modifiedAt: '2026-01-01T00:00:00.000Z', key: '42' }, 's1');
      await store.setCheckpoint('q', { modifiedAt: '2026-01-02T00:00:00.000Z', key: '' }, 's2');
      await store.setCheckpoint('p', { modifiedAt: '2026-01-03T00:00:00.123Z', key: 'ä/7' }, 's3');
      const again = await open();
      expect(await again.getCheckpoint('p')).toEqual({ modifiedAt: '2026-01-03T00:00:00.123Z', key: 'ä/7' });
      expect(await again.getCheckpoint('q')).toEqual({ modifiedAt: '2026-01-02T00:00:00.000Z', key: '' });
      await again.setCheckpoint('q', null, 's4');
      expect(await store.getCheckpoint('q')).toBeNull();
    });

    test('meta values are null until set and overwritten by the latest', async () => {
      expect(await store.getMeta('k')).toBeNull();
      await store.setMeta('k', 'one');
      await store.setMeta('k', 'two');
      await store.setMeta('other', '');
      expect(await store.getMeta('k')).toBe('two');
      expect(await store.getMeta('other')).toBe('');
    });
  });

  describe('staged pages (claim checks)', () => {
    test('a page round-trips exactly and is readable from another store on the same location (another worker)', async () => {
      const payload = { columns: ['id', 'name'], rows: [[1, 'Zoë "quoted" \\ backslash'], [2, null]], nested: { n: 1.5, big: 2 ** 53 - 1, t: true, emoji: '🙂' } };
      const id = await store.stagePage('sync-1', '0/raw', payload);
      expect(id).toBe('sync-1/0/raw');
      expect(await store.loadPage(id)).toEqual(payload);
      const other = await open();
      expect(await other.loadPage(id)).toEqual(payload);
      // Restaging the same name replaces the payload (a retried activity).
      await other.stagePage('sync-1', '0/raw', { v: 2 });
      const third = await open();
      expect(await third.loadPage(id)).toEqual({ v: 2 });
    });

    test('a missing page is NotFound; dropPages drops by prefix or the whole sync and counts', async () => {
      await expect(store.loadPage('nope/0/raw')).rejects.toMatchObject({ type: 'NotFound' });
      await expect(store.loadPage('nope/0/raw')).rejects.toBeInstanceOf(SyncError);
      for (const name of ['1/raw', '1/mapped', '12/raw', '2/raw']) await store.stagePage('s', name, { name });
      await store.stagePage('t', '1/raw', { other: true });
      expect(await store.dropPages('s', '1/')).toBe(2);
      await expect(store.loadPage('s/1/raw')).rejects.toMatchObject({ type: 'NotFound' });
      expect(await store.loadPage('s/12/raw')).toEqual({ name: '12/raw' });
      expect(await store.dropPages('s')).toBe(2);
      expect(await store.dropPages('s')).toBe(0);
      // A prefix with LIKE wildcards is taken literally.
      await store.stagePage('u', 'a_b/raw', 1);
      await store.stagePage('u', 'axb/raw', 2);
      expect(await store.dropPages('u', 'a_b/')).toBe(1);
      expect(await store.loadPage('t/1/raw')).toEqual({ other: true });
    });
  });

  describe('bindings', () => {
    test('put, get in a batch, list in key order, delete, invalidate by target key', async () => {
      await store.putBindings('p', [
        { sourceKey: 'b', targetKey: 't-b', hash: 'hb' },
        { sourceKey: 'a', targetKey: 't-a', hash: 'ha', fields: { price: 10, name: 'Ä' } },
        { sourceKey: 'B', targetKey: 't-B', hash: 'hB' },
        { sourceKey: '10', targetKey: 't-10', hash: 'h10' },
        { sourceKey: '9', targetKey: 't-9', hash: 'h9' },
      ]);
      await store.putBindings('q', [{ sourceKey: 'a', targetKey: 'q-a', hash: 'qa' }]);
      const got = await store.getBindings('p', ['a', 'b', 'zz']);
      expect(got).toEqual(new Map([['a', { targetKey: 't-a', hash: 'ha', fields: { price: 10, name: 'Ä' } }], ['b', { targetKey: 't-b', hash: 'hb' }]]));
      // Byte order, as JavaScript compares strings: digits < upper case < lower case.
      expect((await store.listBindings('p')).map((b) => b.sourceKey)).toEqual(['10', '9', 'B', 'a', 'b']);
      // The same key twice in one call: the last wins.
      await store.putBindings('p', [{ sourceKey: 'a', targetKey: 't-a', hash: 'x1' }, { sourceKey: 'a', targetKey: 't-a2', hash: 'x2' }]);
      expect((await store.getBindings('p', ['a'])).get('a')).toEqual({ targetKey: 't-a2', hash: 'x2' });

      expect(await store.invalidateBindings('p', ['t-b', 't-a2', 'nope'])).toBe(2);
      expect((await store.getBindings('p', ['b'])).get('b')).toEqual({ targetKey: 't-b', hash: '' });
      await store.deleteBindings('p', ['b', '9']);
      expect((await store.listBindings('p')).map((b) => b.sourceKey)).toEqual(['10', 'B', 'a']);
      expect((await store.getBindings('q', ['a'])).get('a')?.targetKey).toBe('q-a');
      expect(await store.getBindings('p', [])).toEqual(new Map());
    });

    test('batches above 500 keys (SQLite chunks its IN lists)', async () => {
      const n = 1200;
      await store.putBindings('p', Array.from({ length: n }, (_, i) => ({ sourceKey: String(i), targetKey: `t${i}`, hash: `h${i}` })));
      const got = await store.getBindings('p', Array.from({ length: n + 5 }, (_, i) => String(i)));
      expect(got.size).toBe(n);
      expect(got.get('1199')).toEqual({ targetKey: 't1199', hash: 'h1199' });
    });
  });

  describe('links and the write ledger', () => {
    test('upsert, then find by either side key in a batch; unknown keys are absent', async () => {
      const ids = await store.upsertLinks('p', [
        { keys: [crmKey('42'), erpKey('17')], fields: { name: field('Acme') } },
        { keys: [crmKey('43'), erpKey('18')], fields: { name: field('Globex') }, deletedSides: ['crm'] },
      ]);
      expect(ids).toEqual(['p:crm:42', 'p:crm:43']);
      const byCrm = await store.findLinks('p', 'crm', ['42', '43', '99']);
      expect([...byCrm.keys()].sort()).toEqual(['42', '43']);
      expect(byCrm.get('42')).toMatchObject({ linkId: 'p:crm:42', pair: 'p', keys: { crm: '42', erp: '17' }, fields: { name: field('Acme') }, deletedSides: [], tombstone: null });
      expect(typeof byCrm.get('42')!.updatedAt).toBe('string');
      expect(byCrm.get('43')!.deletedSides).toEqual(['crm']);
      expect((await store.findLinks('p', 'erp', ['18'])).get('18')!.linkId).toBe('p:crm:43');
      expect((await store.findLinks('other-pair', 'crm', ['42'])).size).toBe(0);
    });

    test('findLinkStamps finds what findLinks finds, as each link\'s record hash (\'\' without one), past 500 keys', async () => {
      await store.upsertLinks('p', [
        { keys: [crmKey('42'), erpKey('17')], fields: { name: field('Acme') }, recordHash: 'rh42' },
        { keys: [crmKey('43'), erpKey('18')], fields: { name: field('Globex') } },
      ]);
      expect(await store.findLinkStamps('p', 'crm', ['42', '43', '99'])).toEqual(new Map([['42', 'rh42'], ['43', '']]));
      expect(await store.findLinkStamps('p', 'erp', ['17'])).toEqual(new Map([['17', 'rh42']]));
      expect((await store.findLinkStamps('other-pair', 'crm', ['42'])).size).toBe(0);
      expect((await store.findLinkStamps('p', 'crm', [])).size).toBe(0);
      // A write moves the stamp; a key that moved to another link is found there.
      await store.upsertLinks('p', [{ keys: [crmKey('42'), erpKey('17')], fields: { name: field('Acme 2') }, recordHash: 'rh42b' }]);
      expect((await store.findLinkStamps('p', 'crm', ['42'])).get('42')).toBe('rh42b');
      const n = 1200;
      await store.upsertLinks('q', Array.from({ length: n }, (_, i) => ({ keys: [crmKey(String(i))], fields: {}, recordHash: `h${i}` })));
      const found = await store.findLinkStamps('q', 'crm', Array.from({ length: n }, (_, i) => String(i)));
      expect(found.size).toBe(n);
      expect(found.get('1199')).toBe('h1199');
    });

    test('findLinkVersions finds what findLinks finds, as each link\'s linkVersion, moved by an upsert and a tombstone, past 500 keys', async () => {
      await store.upsertLinks('p', [
        { keys: [crmKey('42'), erpKey('17')], fields: { name: field('Acme') } },
        { keys: [crmKey('43'), erpKey('18')], fields: { name: field('Globex') } },
      ]);
      const links = await store.findLinks('p', 'crm', ['42', '43', '99']);
      const versions = await store.findLinkVersions('p', 'crm', ['42', '43', '99']);
      expect(versions).toEqual(new Map([...links].map(([k, l]) => [k, linkVersion(l)])));
      expect(versions.get('42')).toMatch(/^p:crm:42@\d{4}-/);
      expect(await store.findLinkVersions('p', 'erp', ['17'])).toEqual(new Map([['17', versions.get('42')]]));
      expect((await store.findLinkVersions('other-pair', 'crm', ['42'])).size).toBe(0);
      expect((await store.findLinkVersions('p', 'crm', [])).size).toBe(0);
      // A write moves the version (the clock moves on first: versions are stamped to the millisecond).
      await new Promise((r) => setTimeout(r, 5));
      await store.upsertLinks('p', [{ keys: [crmKey('42'), erpKey('17')], fields: { name: field('Acme 2') } }]);
      const upserted = (await store.findLinkVersions('p', 'crm', ['42'])).get('42')!;
      expect(upserted).not.toBe(versions.get('42'));
      expect(upserted).toBe(linkVersion((await store.findLinks('p', 'crm', ['42'])).get('42')!));
      await new Promise((r) => setTimeout(r, 5));
      await store.tombstoneLinks('p', [{ linkId: links.get('43')!.linkId, side: 'erp', at: '2026-02-01T00:00:00.000Z' }]);
      expect((await store.findLinkVersions('p', 'crm', ['43'])).get('43')).not.toBe(versions.get('43'));
      const n = 1200;
      await store.upsertLinks('q', Array.from({ length: n }, (_, i) => ({ keys: [crmKey(String(i))], fields: {} })));
      const found = await store.findLinkVersions('q', 'crm', Array.from({ length: n }, (_, i) => String(i)));
      expect(found.size).toBe(n);
      expect(found.get('1199')).toMatch(/^q:crm:1199@/);
    });

    test('an upsert without an id updates the link found by any of its keys (a retried write makes no second link)', async () => {
      await store.upsertLinks('p', [{ keys: [crmKey('42'), erpKey('17')], fields: { name: field('Acme') } }]);
      const [id] = await store.upsertLinks('p', [{ keys: [erpKey('17'), crmKey('42')], fields: { name: field('Acme 2', 'erp') }, recordHash: 'rh' }]);
      expect(id).toBe('p:crm:42');
      const all = await store.listLinks('p');
      expect(all).toHaveLength(1);
      expect(all[0]).toMatchObject({ fields: { name: field('Acme 2', 'erp') }, recordHash: 'rh' });
    });

    test('within one batch a later item finds the link an earlier one created, and a key moves to the link that claims it', async () => {
      const ids = await store.upsertLinks('p', [
        { keys: [crmKey('1')], fields: { v: field(1) } },
        { keys: [crmKey('1'), erpKey('100')], fields: { v: field(2) } },
        { keys: [crmKey('2'), erpKey('200')], fields: {} },
        // An explicit link id takes erp 200 away from p:crm:2.
        { linkId: 'p:crm:1', keys: [crmKey('1'), erpKey('200')], fields: { v: field(3) } },
      ]);
      expect(ids).toEqual(['p:crm:1', 'p:crm:1', 'p:crm:2', 'p:crm:1']);
      const links = await store.listLinks('p');
      expect(links.map((l) => [l.linkId, l.keys, l.fields.v?.value])).toEqual([
        ['p:crm:1', { crm: '1', erp: '200' }, 3],
        ['p:crm:2', { crm: '2' }, undefined],
      ]);
      expect((await store.findLinks('p', 'erp', ['100', '200'])).get('200')!.linkId).toBe('p:crm:1');
      expect((await store.findLinks('p', 'erp', ['100'])).size).toBe(0);
    });

    test('a side whose record was re-created gets its new key; the old key no longer finds the link', async () => {
      await store.upsertLinks('p', [{ keys: [crmKey('42'), erpKey('17')], fields: {} }]);
      await store.upsertLinks('p', [{ linkId: 'p:crm:42', keys: [crmKey('42'), erpKey('99')], fields: {} }]);
      expect((await store.findLinks('p', 'erp', ['17'])).size).toBe(0);
      expect((await store.findLinks('p', 'erp', ['99'])).get('99')!.keys).toEqual({ crm: '42', erp: '99' });
    });

    test('tombstones keep the link and say which side went', async () => {
      const [id] = await store.upsertLinks('p', [{ keys: [crmKey('42'), erpKey('17')], fields: {} }]);
      expect(await store.tombstoneLinks('p', [{ linkId: id!, side: 'erp', at: '2026-02-01T00:00:00.000Z' }, { linkId: 'nope', side: 'erp', at: 'x' }])).toBe(1);
      expect(await store.tombstoneLinks('other', [{ linkId: id!, side: 'crm', at: 'x' }])).toBe(0);
      expect((await store.findLinks('p', 'crm', ['42'])).get('42')!.tombstone).toEqual({ side: 'erp', at: '2026-02-01T00:00:00.000Z' });
    });

    test('listLinks pages in link id order (byte order)', async () => {
      await store.upsertLinks('p', ['b', 'A', '0', 'a', 'Z'].map((k, i) => ({ keys: [crmKey(k), erpKey(String(100 + i))], fields: {} })));
      await store.upsertLinks('q', [{ keys: [crmKey('x')], fields: {} }]);
      const first = await store.listLinks('p', { limit: 3 });
      const rest = await store.listLinks('p', { afterLinkId: first.at(-1)!.linkId, limit: 3 });
      expect([...first, ...rest].map((l) => l.keys.crm)).toEqual(['0', 'A', 'Z', 'a', 'b']);
    });

    test('the write ledger keeps the latest hash per link, side and field', async () => {
      await store.recordWrites([
        { linkId: 'L1', side: 'erp', field: 'name', hash: 'h1' },
        { linkId: 'L1', side: 'erp', field: 'phone', hash: 'h2' },
        { linkId: 'L1', side: 'crm', field: 'vatNumber', hash: 'h3' },
        { linkId: 'L2', side: 'erp', field: 'name', hash: 'h4' },
        { linkId: 'L2', side: 'erp', field: 'name', hash: 'h6' },
      ]);
      await store.recordWrites([{ linkId: 'L1', side: 'erp', field: 'name', hash: 'h5' }]);
      expect(await store.getLedger(['L1', 'L2', 'L3'])).toEqual(
        new Map([
          ['L1', { erp: { name: 'h5', phone: 'h2' }, crm: { vatNumber: 'h3' } }],
          ['L2', { erp: { name: 'h6' } }],
        ]),
      );
    });

    test('batches above 500 links', async () => {
      const n = 1200;
      await store.upsertLinks('p', Array.from({ length: n }, (_, i) => ({ keys: [crmKey(String(i)), erpKey(`e${i}`)], fields: {} })));
      const found = await store.findLinks('p', 'erp', Array.from({ length: n }, (_, i) => `e${i}`));
      expect(found.size).toBe(n);
      expect(found.get('e1199')!.keys.crm).toBe('1199');
    });

    test('one-way bindings migrate into links once (the worker-start migration)', async () => {
      const registry = loadRegistry({ env: { DEMO_DATA_DIR: tmp } });
      const canonical = { externalKey: '1', name: 'Acme', email: 'a@acme.test', address: { city: 'Berlin', countryCode: 'DE' }, segment: 'smb', active: true };
      await store.putBindings('demo-accounts', [
        { sourceKey: '1', targetKey: '101', hash: 'r1', fields: canonical },
        { sourceKey: '2', targetKey: '102', hash: 'r2' },
      ]);
      expect(await migrateBindingsToLinks(store, registry)).toEqual([
        { pipeline: 'demo-accounts', scope: 'demo-accounts', links: 2, withFields: 1 },
        { pipeline: 'demo-accounts', scope: 'demo-customers', links: 2, withFields: 1 },
      ]);
      // the one-way pipeline's own space, where it plans, and the covering pair's
      expect((await store.findLinks('demo-accounts', 'source', ['2'])).get('2')).toMatchObject({ recordHash: 'r2', keys: { source: '2', target: '102' } });
      const links = await store.findLinks('demo-customers', 'crm', ['1', '2']);
      expect(links.get('1')!.fields.name).toEqual({ hash: stableHash('Acme'), value: 'Acme', origin: 'crm' });
      expect(links.get('2')).toMatchObject({ fields: {}, recordHash: 'r2', keys: { crm: '2', erp: '102' } });
      expect(await migrateBindingsToLinks(store, registry)).toEqual([]);
    });

    test('the migration is safe when four workers start at once on the same state: one migrates, no link twice', async () => {
      const registry = loadRegistry({ env: { DEMO_DATA_DIR: tmp } });
      const n = 1500; // more than one batch of 1000
      await store.putBindings(
        'demo-accounts',
        Array.from({ length: n }, (_, i) => ({ sourceKey: String(i), targetKey: String(10_000 + i), hash: `r${i}` })),
      );
      // Four stores (four connections / pools, as four worker processes) racing.
      const workers = [store, ...(await Promise.all([1, 2, 3].map(() => open())))];
      const reports = await Promise.all(workers.map((s) => migrateBindingsToLinks(s, registry)));
      expect(reports.filter((r) => r.length > 0)).toHaveLength(1);
      expect(reports.flat()).toEqual([
        { pipeline: 'demo-accounts', scope: 'demo-accounts', links: n, withFields: 0 },
        { pipeline: 'demo-accounts', scope: 'demo-customers', links: n, withFields: 0 },
      ]);
      for (const [scope, side] of [['demo-accounts', 'source'], ['demo-customers', 'crm']] as const) {
        const all = [];
        for (let page = await store.listLinks(scope, { limit: 500 }); page.length; page = await store.listLinks(scope, { afterLinkId: page.at(-1)!.linkId, limit: 500 })) all.push(...page);
        expect(all).toHaveLength(n);
        expect(new Set(all.map((l) => l.keys[side])).size).toBe(n);
      }
    });

    test('withLock: a second holder waits until the first is done, also when the first throws', async () => {
      const other = await open();
      const events: string[] = [];
      let releaseFirst!: () => void;
      let firstIn!: () => void;
      const entered = new Promise<void>((r) => (firstIn = r));
      const first = store.withLock('t', async () => {
        events.push('first in');
        firstIn();
        await new Promise<void>((r) => (releaseFirst = r));
        await store.setMeta('holder', 'first');
        events.push('first out');
        throw new Error('first failed');
      });
      await entered;
      const second = other.withLock('t', async () => {
        events.push('second in');
        return other.getMeta('holder');
      });
      setTimeout(() => releaseFirst(), 300); // the second has tried meanwhile: it must still be waiting
      await expect(first).rejects.toThrow('first failed');
      await second;
      expect(events).toEqual(['first in', 'first out', 'second in']);
    });
  });

  describe('quarantine', () => {
    test('counts attempts while open, keeps the latest reason, and starts again at 1 after a release', async () => {
      await store.quarantine([entry('1', 'first'), entry('2', 'other')]);
      await store.quarantine([entry('1', 'second', 's2')]);
      await store.quarantine([entry('1', 'third', 's3')]);
      let rows = new Map((await store.listQuarantine('p')).map((r) => [r.sourceKey, r]));
      expect(rows.get('1')).toMatchObject({ attempts: 3, reason: 'third', syncId: 's3', record: { id: '1' }, stage: 'map', field: 'phone', rule: 'phoneE164' });
      expect(rows.get('2')).toMatchObject({ attempts: 1, reason: 'other' });
      expect(rows.get('1')!.firstSeenAt <= rows.get('1')!.lastSeenAt).toBe(true);

      await store.releaseQuarantine('p', ['1']);
      expect((await store.listQuarantine('p')).map((r) => r.sourceKey)).toEqual(['2']);
      await store.quarantine([entry('1', 'again')]);
      rows = new Map((await store.listQuarantine('p')).map((r) => [r.sourceKey, r]));
      expect(rows.get('1')).toMatchObject({ attempts: 1, reason: 'again' });
      expect(await store.listQuarantine('other-pipeline')).toEqual([]);
    });

    test('the same record twice in one call counts two attempts; a null field and record are kept as null', async () => {
      await store.quarantine([entry('1', 'a'), { ...entry('1', 'b'), field: null, record: null }]);
      const [row] = await store.listQuarantine('p');
      expect(row).toMatchObject({ sourceKey: '1', attempts: 2, reason: 'b', field: null, record: null });
    });

    test('lists filter by rule, field, keys and page by key', async () => {
      await store.quarantine([
        entry('3', 'bad phone'),
        entry('1', 'bad phone'),
        { ...entry('2', 'no country'), field: 'address.countryCode', rule: 'countryCode' },
        { ...entry('4', 'no name'), field: 'name', rule: 'required' },
      ]);
      const keys = async (f: Parameters<typeof store.listQuarantine>[2], limit = 100) => (await store.listQuarantine('p', limit, f)).map((r) => r.sourceKey).sort();
      expect(await keys({ rule: 'phoneE164' })).toEqual(['1', '3']);
      expect(await keys({ field: 'address.countryCode' })).toEqual(['2']);
      expect(await keys({ rule: 'phoneE164', field: 'name' })).toEqual([]);
      expect(await keys({ keys: ['4', '3', 'nope'] })).toEqual(['3', '4']);
      expect(await keys({ keys: [] })).toEqual([]);
      expect(await keys({}, 2)).toHaveLength(2);
      expect((await store.listQuarantine('p', 2, { afterKey: '' })).map((r) => r.sourceKey)).toEqual(['1', '2']);
      expect((await store.listQuarantine('p', 2, { afterKey: '2' })).map((r) => r.sourceKey)).toEqual(['3', '4']);
    });

    test('dismiss closes entries with a reason; the same record stays dismissed, a changed one reopens', async () => {
      await store.quarantine([entry('1', 'bad'), entry('2', 'bad')]);
      expect(await store.dismissQuarantine('p', ['1', 'missing'], 'test account', 'alice')).toBe(1);
      expect(await store.dismissQuarantine('p', ['1'], 'again', 'alice')).toBe(0);
      expect((await store.listQuarantine('p')).map((r) => r.sourceKey)).toEqual(['2']);
      await store.quarantine([entry('1', 'bad', 's2')]);
      expect((await store.listQuarantine('p')).map((r) => r.sourceKey)).toEqual(['2']);
      await store.quarantine([{ ...entry('1', 'still bad', 's3'), record: { id: '1', phone: 'x' } }]);
      const rows = new Map((await store.listQuarantine('p')).map((r) => [r.sourceKey, r]));
      expect(rows.get('1')).toMatchObject({ attempts: 1, reason: 'still bad' });
    });
  });

  describe('reconciliation rows', () => {
    test('added once per kind, side, key and value; listed in insertion order by seq; grouped; dropped', async () => {
      await store.addReconRows('r1', [
        { kind: 'natural', side: 'crm', key: '1', value: 'acme', payload: { n: 1 } },
        { kind: 'natural', side: 'crm', key: '2', value: 'globex' },
        { kind: 'natural', side: 'crm', key: '3', value: 'acme' },
        { kind: 'natural', side: 'erp', key: '9', value: 'acme' },
        { kind: 'drift:field', side: 'crm', key: '1', payload: ['name'] },
      ]);
      // A retried activity adds the same rows again: nothing doubles.
      await store.addReconRows('r1', [{ kind: 'natural', side: 'crm', key: '1', value: 'acme', payload: { n: 1 } }, { kind: 'natural', side: 'crm', key: '0', value: 'acme' }]);
      await store.addReconRows('r2', [{ kind: 'natural', side: 'crm', key: '5', value: 'acme' }]);
      const all = await store.listReconRows('r1', 'natural');
      expect(all.map((r) => [r.side, r.key, r.value])).toEqual([
        ['crm', '1', 'acme'],
        ['crm', '2', 'globex'],
        ['crm', '3', 'acme'],
        ['erp', '9', 'acme'],
        ['crm', '0', 'acme'],
      ]);
      expect(all[0]).toMatchObject({ kind: 'natural', payload: { n: 1 } });
      expect(all[1]!.payload).toBeUndefined();
      expect((await store.listReconRows('r1', 'drift:field'))[0]).toMatchObject({ value: null, payload: ['name'] });
      const page = await store.listReconRows('r1', 'natural', { afterSeq: all[1]!.seq, limit: 2 });
      expect(page.map((r) => r.key)).toEqual(['3', '9']);
      expect(await store.groupReconRows('r1', 'natural')).toEqual([{ side: 'crm', value: 'acme', keys: ['1', '3', '0'] }]);
      expect(await store.dropReconRows('r1')).toBe(6);
      expect(await store.listReconRows('r1', 'natural')).toEqual([]);
      expect(await store.listReconRows('r2', 'natural')).toHaveLength(1);
    });
  });

  describe('run reports', () => {
    const r = (syncId: string, finishedAt: string, pipeline = 'p') => ({ pipeline, syncId, status: 'completed', startedAt: finishedAt, finishedAt, totals: { read: 1 } });

    test('a run report is found by its sync id or by its workflow id', async () => {
      await store.saveRunReport(r('sync:p@run-1', '2026-01-01T00:00:00.000Z'));
      await store.saveRunReport(r('sync:p@run-2', '2026-01-02T00:00:00.000Z'));
      await store.saveRunReport(r('sync:p2@run-3', '2026-01-03T00:00:00.000Z'));
      expect((await store.getRunReport('sync:p@run-1'))?.syncId).toBe('sync:p@run-1');
      expect((await store.getRunReport('sync:p'))?.syncId).toBe('sync:p@run-2');
      expect(await store.getRunReport('sync:')).toBeNull();
      expect(await store.getRunReport('nope')).toBeNull();
    });

    test('kept per sync, newest first, replaced when reported again, and survive reopening', async () => {
      await store.saveRunReport({ pipeline: 'p', syncId: 'a', status: 'completed', startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:01:00.000Z', totals: { read: 5 } });
      await store.saveRunReport({ pipeline: 'p', syncId: 'b', status: 'cancelled', startedAt: '2026-01-02T00:00:00.000Z', finishedAt: '2026-01-02T00:01:00.000Z', totals: { read: 7, created: 2 } });
      await store.saveRunReport({ pipeline: 'q', syncId: 'c', status: 'failed', startedAt: '2026-01-03T00:00:00.000Z', finishedAt: '2026-01-03T00:01:00.000Z', totals: {} });
      await store.saveRunReport({ pipeline: 'p', syncId: 'a', status: 'completed', startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:02:00.000Z', totals: { read: 6 } });
      await store.close();
      store = await open();
      const reports = await store.listRunReports('p');
      expect(reports.map((x) => [x.syncId, x.status, x.totals, x.startedAt])).toEqual([
        ['b', 'cancelled', { read: 7, created: 2 }, '2026-01-02T00:00:00.000Z'],
        ['a', 'completed', { read: 6 }, '2026-01-01T00:00:00.000Z'],
      ]);
      expect(await store.listRunReports('p', 1)).toHaveLength(1);
    });
  });

  describe('run events', () => {
    test('appended per sync in order, kept apart from other syncs, and survive reopening', async () => {
      // within the default retention (30 days), which reopening applies
      const base = Date.now() - 3_600_000;
      const at = (s: number) => new Date(base + s * 1000).toISOString();
      await store.addRunEvents('s1', [
        { kind: 'page', at: at(0), data: { step: 'fetch', seq: 1, ms: 12, count: 3 } },
        { kind: 'change', at: at(1), data: { sourceKey: 'k', op: 'update', fields: [{ field: 'name', before: 'a', after: 'b' }] } },
      ]);
      await store.addRunEvents('s2', [{ kind: 'retry', at: at(2), data: { step: 'writePage', attempt: 2 } }]);
      await store.addRunEvents('s1', []);
      await store.addRunEvents('s1', [{ kind: 'approval', at: at(3), data: { approver: 'ops' } }]);
      await store.close();
      store = await open();
      expect((await store.listRunEvents('s1')).map((e) => [e.kind, e.at, e.data])).toEqual([
        ['page', at(0), { step: 'fetch', seq: 1, ms: 12, count: 3 }],
        ['change', at(1), { sourceKey: 'k', op: 'update', fields: [{ field: 'name', before: 'a', after: 'b' }] }],
        ['approval', at(3), { approver: 'ops' }],
      ]);
      expect((await store.listRunEvents('s2')).map((e) => e.kind)).toEqual(['retry']);
      expect(await store.listRunEvents('nope')).toEqual([]);
    });

    test('pruneRunEvents drops events before the cutoff, of every sync, and counts them', async () => {
      await store.addRunEvents('s1', [
        { kind: 'page', at: '2026-01-01T00:00:00.000Z', data: { n: 1 } },
        { kind: 'page', at: '2026-02-01T00:00:00.000Z', data: { n: 2 } },
      ]);
      await store.addRunEvents('s2', [{ kind: 'retry', at: '2026-01-15T00:00:00.000Z', data: { n: 3 } }]);
      expect(await store.pruneRunEvents('2026-01-20T00:00:00.000Z')).toBe(2);
      expect((await store.listRunEvents('s1')).map((e) => e.data)).toEqual([{ n: 2 }]);
      expect(await store.listRunEvents('s2')).toEqual([]);
      expect(await store.pruneRunEvents('2026-01-20T00:00:00.000Z')).toBe(0);
    });

    test('a store opened with a retention drops older events at open; 0 keeps them forever', async () => {
      const day = 86_400_000;
      const old = new Date(Date.now() - 40 * day).toISOString();
      const recent = new Date(Date.now() - 5 * day).toISOString();
      await store.addRunEvents('s1', [
        { kind: 'page', at: old, data: { n: 'old' } },
        { kind: 'page', at: recent, data: { n: 'recent' } },
      ]);
      await store.close();
      const forever = await openStateStore(location, { runEventsDays: 0 });
      opened.push(forever);
      expect((await forever.listRunEvents('s1')).map((e) => e.data.n)).toEqual(['old', 'recent']);
      const keepWeek = await openStateStore(location, { runEventsDays: 7 });
      opened.push(keepWeek);
      expect((await keepWeek.listRunEvents('s1')).map((e) => e.data.n)).toEqual(['recent']);
      const keepDay = await openStateStore(location, { runEventsDays: 1 });
      opened.push(keepDay);
      expect(await keepDay.listRunEvents('s1')).toEqual([]);
    });
  });

  describe('dry-run plans', () => {
    const header = (status: 'planning' | 'ready' | 'applied', planHash: string | null = null) => ({
      planId: 'plan-1', kind: 'pipeline' as const, name: 'p', syncId: 'sync:p@r1', status, planHash,
      counts: { creates: 1, updates: 2 }, meta: { startCheckpoint: { modifiedAt: '2026-01-01T00:00:00.000Z', key: '7' } },
    });
    test('a plan header is saved, replaced by a later save (keeping its creation time), and survives reopening', async () => {
      expect(await store.getPlan('plan-1')).toBeNull();
      await store.savePlan(header('planning'));
      const first = await store.getPlan('plan-1');
      expect(first).toMatchObject({ ...header('planning') });
      await store.savePlan({ ...header('ready', 'abc123'), counts: { creates: 1, updates: 3 } });
      await store.close();
      store = await open();
      const again = await store.getPlan('plan-1');
      expect(again).toMatchObject({ status: 'ready', planHash: 'abc123', counts: { creates: 1, updates: 3 }, meta: header('ready').meta });
      expect(again!.createdAt).toBe(first!.createdAt);
      expect(await store.getPlan('plan-2')).toBeNull();
    });

    test('items are listed in seq order a page at a time, kept per plan, and a re-added seq replaces the item', async () => {
      const item = (seq: number, key: string, after: string) => ({ seq, key, op: 'update' as const, data: { changes: [{ field: 'address.city', before: 'Old', after }] } });
      await store.addPlanItems('plan-1', [item(10_000, 'b', 'B'), item(2, 'a', 'A'), item(20_001, 'c', 'C')]);
      await store.addPlanItems('plan-2', [item(1, 'x', 'X')]);
      await store.addPlanItems('plan-1', [item(2, 'a', 'A2')]);
      await store.addPlanItems('plan-1', []);
      const all = await store.listPlanItems('plan-1');
      expect(all.map((i) => [i.seq, i.key, i.op, (i.data.changes as { after: string }[])[0]!.after])).toEqual([
        [2, 'a', 'update', 'A2'],
        [10_000, 'b', 'update', 'B'],
        [20_001, 'c', 'update', 'C'],
      ]);
      expect((await store.listPlanItems('plan-1', { afterSeq: 2, limit: 1 })).map((i) => i.key)).toEqual(['b']);
      expect((await store.listPlanItems('plan-1', { afterSeq: 10_000 })).map((i) => i.key)).toEqual(['c']);
      expect((await store.listPlanItems('plan-2')).map((i) => i.key)).toEqual(['x']);
      expect(await store.listPlanItems('nope')).toEqual([]);
    });
  });

  describe('opening', () => {
    test('several stores opening one new location at once (workers starting together) all work on one schema', async () => {
      const fresh = await kind.fresh();
      const stores = await Promise.all(Array.from({ length: 6 }, () => open(fresh)));
      await Promise.all(stores.map((s, i) => s.setMeta(`w${i}`, String(i))));
      for (const s of stores) expect(await s.getMeta('w5')).toBe('5');
      await Promise.all(stores.map((s, i) => s.putBindings('p', [{ sourceKey: String(i), targetKey: `t${i}`, hash: 'h' }])));
      expect(await stores[0]!.listBindings('p')).toHaveLength(6);
    });
  });
});

describe('PostgreSQL specifics', () => {
  async function sql<T>(url: string, text: string, params: unknown[] = []): Promise<T[]> {
    const c = new Client({ connectionString: url });
    await c.connect();
    try {
      return (await c.query(text, params)).rows as T[];
    } finally {
      await c.end();
    }
  }

  test('concurrent migrations: one store applies each version, the others wait and apply nothing', async () => {
    const url = await pg.createDatabase(`migr_${++dbSeq}`);
    const stores = Array.from({ length: 5 }, () => openPostgresStateStore(url));
    try {
      const results = await Promise.all(stores.map((s) => s.ready()));
      const latest = Math.max(...MIGRATIONS.map((m) => m.version));
      expect(results.every((r) => r.version === latest)).toBe(true);
      expect(results.flatMap((r) => r.applied).sort()).toEqual(MIGRATIONS.map((m) => m.version).sort());
      expect(results.filter((r) => r.applied.length > 0)).toHaveLength(1);
      const rows = await sql<{ version: number }>(url, 'SELECT version FROM schema_migrations ORDER BY version');
      expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  test('a schema newer than the worker knows stops it at open, naming the versions', async () => {
    const url = await pg.createDatabase(`newer_${++dbSeq}`);
    const first = openPostgresStateStore(url);
    await first.ready();
    await first.close();
    await sql(url, "INSERT INTO schema_migrations (version, name) VALUES (999, 'from the future')");
    const latest = Math.max(...MIGRATIONS.map((m) => m.version));
    await expect(openStateStore(url)).rejects.toThrow(new RegExp(`schema version 999, newer than this worker knows \\(${latest}\\)`));
  });

  test('pages left by syncs that never finished are purged after the TTL; finished syncs\' pages at once; reconcile reports kept', async () => {
    const url = await pg.createDatabase(`purge_${++dbSeq}`);
    const store = openPostgresStateStore(url, { stagedPageTtlHours: 1 });
    try {
      await store.ready();
      await store.stagePage('old-failed', '3/raw', { a: 1 }); // a terminated workflow's page
      await store.stagePage('fresh', '0/raw', { b: 1 }); // a sync in flight
      await store.stagePage('finished', '0/plan', { c: 1 }); // finishSync saved the report, then the drop failed
      await store.stagePage('reconcile:pair', 'recon-1', { report: true }); // a kept reconciliation report
      await store.saveRunReport({ pipeline: 'p', syncId: 'finished', status: 'failed', startedAt: 'x', finishedAt: 'y', totals: {} });
      await sql(url, "UPDATE staged_pages SET created_at = now() - interval '2 hours' WHERE sync_id IN ('old-failed', 'reconcile:pair')");
      expect(await store.purgeStalePages()).toBe(2);
      const left = await sql<{ id: string }>(url, 'SELECT id FROM staged_pages ORDER BY id');
      expect(left.map((r) => r.id)).toEqual(['fresh/0/raw', 'reconcile:pair/recon-1']);
      const other = openPostgresStateStore(url); // this store's own page cache would still answer
      await expect(other.loadPage('old-failed/3/raw')).rejects.toMatchObject({ type: 'NotFound' });
      await other.close();
    } finally {
      await store.close();
    }
  });

  test('an unreachable database or a wrong password fails at open with a typed error that holds no password', async () => {
    const url = await pg.createDatabase(`auth_${++dbSeq}`);
    const wrong = url.replace(/:([^:@/]+)@/, ':not-the-password@');
    const err = await openStateStore(wrong).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ type: 'AuthError' });
    expect(String((err as Error).message)).toMatch(/password authentication failed.*SYNC_STATE_URL/);
    expect(String((err as Error).message)).not.toContain('not-the-password');
    const password = decodeURIComponent(/:([^:@/]+)@/.exec(url)![1]!);
    const missing = await openStateStore(url.replace(/\/[a-z_0-9]+$/, '/no_such_db')).catch((e: unknown) => e);
    expect(missing).toMatchObject({ type: 'ConfigError' });
    expect(String((missing as Error).message)).not.toContain(password);
  });
});
