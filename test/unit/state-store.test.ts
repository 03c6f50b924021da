import Database from 'better-sqlite3';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openSqliteStateStore } from '../../state/sqlite-store';
import type { QuarantineEntry } from '../../state/types';

const tmpFile = () => path.join(mkdtempSync(path.join(os.tmpdir(), 'state-store-')), 'state.db');
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

describe('sqlite state store', () => {
  test('quarantine counts attempts while open, keeps the latest reason, and starts again at 1 after a release', async () => {
    const store = openSqliteStateStore(':memory:');
    await store.quarantine([entry('1', 'first'), entry('2', 'other')]);
    await store.quarantine([entry('1', 'second', 's2')]);
    await store.quarantine([entry('1', 'third', 's3')]);
    let rows = new Map((await store.listQuarantine('p')).map((r) => [r.sourceKey, r]));
    expect(rows.get('1')).toMatchObject({ attempts: 3, reason: 'third', syncId: 's3', record: { id: '1' } });
    expect(rows.get('2')).toMatchObject({ attempts: 1, reason: 'other' });
    expect(rows.get('1')!.firstSeenAt <= rows.get('1')!.lastSeenAt).toBe(true);

    await store.releaseQuarantine('p', ['1']);
    expect((await store.listQuarantine('p')).map((r) => r.sourceKey)).toEqual(['2']);
    await store.quarantine([entry('1', 'again')]);
    rows = new Map((await store.listQuarantine('p')).map((r) => [r.sourceKey, r]));
    expect(rows.get('1')).toMatchObject({ attempts: 1, reason: 'again' });
    expect(await store.listQuarantine('other-pipeline')).toEqual([]);
    await store.close();
  });

  test('quarantine lists filter by rule, field, keys and page by key', async () => {
    const store = openSqliteStateStore(':memory:');
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
    // paging: key order after the given key
    expect((await store.listQuarantine('p', 2, { afterKey: '' })).map((r) => r.sourceKey)).toEqual(['1', '2']);
    expect((await store.listQuarantine('p', 2, { afterKey: '2' })).map((r) => r.sourceKey)).toEqual(['3', '4']);
    await store.close();
  });

  test('dismiss closes entries with a reason; the same record stays dismissed, a changed one reopens', async () => {
    const store = openSqliteStateStore(':memory:');
    await store.quarantine([entry('1', 'bad'), entry('2', 'bad')]);
    expect(await store.dismissQuarantine('p', ['1', 'missing'], 'test account', 'alice')).toBe(1);
    expect(await store.dismissQuarantine('p', ['1'], 'again', 'alice')).toBe(0);
    expect((await store.listQuarantine('p')).map((r) => r.sourceKey)).toEqual(['2']);
    // the unchanged record fails again on the next (lookback) read: still dismissed
    await store.quarantine([entry('1', 'bad', 's2')]);
    expect((await store.listQuarantine('p')).map((r) => r.sourceKey)).toEqual(['2']);
    // the record changed and still fails: open again, counted from 1
    await store.quarantine([{ ...entry('1', 'still bad', 's3'), record: { id: '1', phone: 'x' } }]);
    const rows = new Map((await store.listQuarantine('p')).map((r) => [r.sourceKey, r]));
    expect(rows.get('1')).toMatchObject({ attempts: 1, reason: 'still bad' });
    await store.close();
  });

  test('a run report is found by its sync id or by its workflow id', async () => {
    const store = openSqliteStateStore(':memory:');
    const r = (syncId: string, finishedAt: string) => ({ pipeline: 'p', syncId, status: 'completed', startedAt: finishedAt, finishedAt, totals: { read: 1 } });
    await store.saveRunReport(r('sync:p@run-1', '2026-01-01T00:00:00.000Z'));
    await store.saveRunReport(r('sync:p@run-2', '2026-01-02T00:00:00.000Z'));
    await store.saveRunReport(r('sync:p2@run-3', '2026-01-03T00:00:00.000Z'));
    expect((await store.getRunReport('sync:p@run-1'))?.syncId).toBe('sync:p@run-1');
    expect((await store.getRunReport('sync:p'))?.syncId).toBe('sync:p@run-2');
    expect(await store.getRunReport('sync:')).toBeNull();
    expect(await store.getRunReport('nope')).toBeNull();
    await store.close();
  });

  test('run reports are kept per sync, newest first, and survive reopening', async () => {
    const file = tmpFile();
    let store = openSqliteStateStore(file);
    await store.saveRunReport({ pipeline: 'p', syncId: 'a', status: 'completed', startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:01:00.000Z', totals: { read: 5 } });
    await store.saveRunReport({ pipeline: 'p', syncId: 'b', status: 'cancelled', startedAt: '2026-01-02T00:00:00.000Z', finishedAt: '2026-01-02T00:01:00.000Z', totals: { read: 7, created: 2 } });
    await store.saveRunReport({ pipeline: 'q', syncId: 'c', status: 'failed', startedAt: '2026-01-03T00:00:00.000Z', finishedAt: '2026-01-03T00:01:00.000Z', totals: {} });
    // the same sync reported again (a retried finishSync) replaces its report
    await store.saveRunReport({ pipeline: 'p', syncId: 'a', status: 'completed', startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:02:00.000Z', totals: { read: 6 } });
    await store.close();
    store = openSqliteStateStore(file);
    const reports = await store.listRunReports('p');
    expect(reports.map((r) => [r.syncId, r.status, r.totals])).toEqual([
      ['b', 'cancelled', { read: 7, created: 2 }],
      ['a', 'completed', { read: 6 }],
    ]);
    expect(await store.listRunReports('p', 1)).toHaveLength(1);
    await store.close();
  });

  test('migrates a state file from before bindings kept fields: old bindings stay, new ones keep fields', async () => {
    const file = tmpFile();
    const old = new Database(file);
    old.exec(`CREATE TABLE bindings (pipeline TEXT NOT NULL, source_key TEXT NOT NULL, target_key TEXT NOT NULL, hash TEXT NOT NULL,
      updated_at TEXT NOT NULL, PRIMARY KEY (pipeline, source_key)) WITHOUT ROWID;
      INSERT INTO bindings VALUES ('p', '1', 't1', 'h1', '2025-01-01T00:00:00.000Z');`);
    old.close();

    const store = openSqliteStateStore(file);
    expect((await store.getBindings('p', ['1'])).get('1')).toEqual({ targetKey: 't1', hash: 'h1' });
    await store.putBindings('p', [{ sourceKey: '2', targetKey: 't2', hash: 'h2', fields: { price: 10 } }]);
    expect((await store.getBindings('p', ['1', '2'])).get('2')).toEqual({ targetKey: 't2', hash: 'h2', fields: { price: 10 } });
    await store.close();
    // opening a migrated file again is a no-op
    const again = openSqliteStateStore(file);
    expect((await again.getBindings('p', ['2'])).get('2')?.fields).toEqual({ price: 10 });
    await again.close();
  });
});
