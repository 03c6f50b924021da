import { MockActivityEnvironment } from '@temporalio/testing';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inlineMapper, MapPool, mapThreadsFromEnv } from '../../activities/map-pool';
import { createSyncActivities } from '../../activities/sync';
import { MAX_FIELD_BYTES } from '../../activities/poison';
import { seedDemo } from '../../demo/seed';
import { ConnectorPool, loadRegistry, type Registry } from '../../pipelines/load';
import { openSqliteStateStore } from '../../state/sqlite-store';
import { runActivity as run } from '../helpers/activity-run';

let dir: string;
let registry: Registry;
let records: Record<string, unknown>[];
const vars = () => ({ DEMO_DATA_DIR: dir });

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'map-pool-'));
  seedDemo(dir, { accounts: 400, contacts: 0, products: 0 });
  registry = loadRegistry({ env: vars() });
  const pool = new ConnectorPool(registry, vars());
  const page = await pool.get('demo-crm').fetchChanges('accounts', { after: null, limit: 400 });
  await pool.closeAll();
  const first = page.records[0]!.data;
  records = [
    ...page.records.map((r) => r.data),
    // Refused by the mapping, by the poison guard (damaged text, a runaway field), or fine.
    { ...first, email: 'not an email', phone: 'call me' },
    { ...first, name: 'Caf\uFFFD M\u00fcller' },
    { ...first, notes: 'x'.repeat(MAX_FIELD_BYTES + 1) },
  ];
});

const mapping = () => registry.mappings.get(registry.pipelines.get('demo-accounts')!.mapping)!;
const options = { keyPrefix: 'CRM-', poison: true, hash: true };

test('a mapping thread answers exactly what mapping on the activity thread answers, in order', async () => {
  const pool = new MapPool(1);
  try {
    const threaded = await pool.map(mapping(), records, options);
    expect(pool.threadedRecords).toBe(records.length); // it did go through the thread
    const inline = await inlineMapper.map(mapping(), records, options);
    expect(threaded).toEqual(inline);
    expect(threaded.filter((r) => r.ok).length).toBeGreaterThan(300);
    const refused = threaded.slice(-3);
    expect(refused.map((r) => (r.ok ? 'ok' : `${r.issues[0]!.rule}${r.poisoned ? ' (poison)' : ''}`))).toEqual([
      expect.not.stringMatching(/^ok$|poison/),
      'invalidUtf8 (poison)',
      'fieldTooLarge (poison)',
    ]);
  } finally {
    await pool.close();
  }
});

test('small pages stay on the activity thread; a closed pool maps there too', async () => {
  const pool = new MapPool(1, 64);
  await pool.map(mapping(), records.slice(0, 10), options);
  expect(pool.threadedRecords).toBe(0);
  await pool.close();
  expect((await pool.map(mapping(), records, options)).length).toBe(records.length);
  expect(pool.threadedRecords).toBe(0);
});

test('a mapping thread that dies fails the pages it had (the activity is retried) and the next page gets a new thread', async () => {
  const pool = new MapPool(1);
  try {
    await pool.map(mapping(), records, options);
    const threads = (pool as unknown as { threads: ({ worker: { terminate(): Promise<number> } } | null)[] }).threads;
    const pending = pool.map(mapping(), records, options);
    await threads[0]!.worker.terminate();
    await expect(pending).rejects.toThrow(/mapping thread exited.*mapped again on retry/);
    // The mapping is compiled again by the new thread.
    expect(await pool.map(mapping(), records, options)).toEqual(await inlineMapper.map(mapping(), records, options));
  } finally {
    await pool.close();
  }
});

test('a mapping the thread cannot compile fails the page with the reason', async () => {
  const pool = new MapPool(1);
  try {
    const broken = { ...mapping(), source: { spec: { name: 'broken' }, file: 'mappings/broken.json' } };
    await expect(pool.map(broken, records, options)).rejects.toThrow(/the mapping thread failed: mappings\/broken.json/);
  } finally {
    await pool.close();
  }
});

test('SYNC_MAP_THREADS: a whole number from 0 to 16, else an error naming it', () => {
  expect(mapThreadsFromEnv({ SYNC_MAP_THREADS: '0' })).toBe(0);
  expect(mapThreadsFromEnv({ SYNC_MAP_THREADS: '3' })).toBe(3);
  expect(mapThreadsFromEnv({})).toBe(Math.max(0, Math.min(2, os.availableParallelism() - 1)));
  expect(() => mapThreadsFromEnv({ SYNC_MAP_THREADS: 'two' })).toThrow(/SYNC_MAP_THREADS must be a whole number from 0 to 16.*"two"/);
  expect(() => mapThreadsFromEnv({ SYNC_MAP_THREADS: '-1' })).toThrow(/SYNC_MAP_THREADS/);
});

test('preparePage with mapping threads quarantines and plans what it does without them', async () => {
  const prepared = [];
  for (const threads of [0, 1]) {
    const pool = new MapPool(threads);
    const store = openSqliteStateStore(path.join(dir, `state-${threads}.db`));
    try {
      const activities = createSyncActivities({ registry, connectors: new ConnectorPool(registry, vars()), store, mapper: pool });
      const page = await run(new MockActivityEnvironment(), activities.preparePage, { pipeline: 'demo-accounts', syncId: 's', seq: 0, after: null, limit: 400 });
      expect(pool.threadedRecords).toBe(threads ? 400 : 0);
      const quarantine = await store.listQuarantine('demo-accounts', 1000);
      prepared.push({ page: { ...page, plan: { ...page.plan, planPageId: undefined } }, quarantine: quarantine.map((q) => [q.sourceKey, q.rule, q.reason]) });
    } finally {
      await pool.close();
      await store.close();
    }
  }
  expect(prepared[1]).toEqual(prepared[0]);
  expect(prepared[0]!.page.valid).toBeGreaterThan(300);
});

test('warm() starts every thread before the first page, once, and the pages then map on them', async () => {
  const pool = new MapPool(2);
  try {
    expect(pool.running).toBe(0);
    await pool.warm();
    expect(pool.running).toBe(2);
    await pool.warm();
    expect(pool.running).toBe(2);
    const [a, b] = await Promise.all([pool.map(mapping(), records, options), pool.map(mapping(), records, options)]);
    expect(pool.threadedRecords).toBe(2 * records.length);
    expect(a).toEqual(b);
    expect(pool.running).toBe(2);
  } finally {
    await pool.close();
  }
  expect(pool.running).toBe(0);
  await pool.warm(); // a closed pool starts nothing
  expect(pool.running).toBe(0);
});
