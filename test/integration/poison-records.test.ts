import Database from 'better-sqlite3';
import path from 'node:path';
import { MAX_FIELD_BYTES } from '../../activities/poison';
import { TASK_QUEUES } from '../../contracts/queues';
import type { SyncResult } from '../../contracts/sync';
import type { SyncWorkers } from '../../workers/worker';
import { demoDbs, demoWorkers, queryDb } from '../helpers/demo-env';
import { startDevEnv, type DevEnv } from '../helpers/env';

/**
 * Issue 10, item 6: poison records on the real path (Temporal dev server, worker, SQLite CRM →
 * SQLite ERP). A 10 MB field, text with invalid UTF-8 (SQLite hands it over with U+FFFD where
 * the bad bytes were) and a mapping that throws for one record are each quarantined with a
 * reason; the page goes on, nothing is retried (totals.retries 0, one attempt per activity),
 * and none of them reaches the ERP, damaged or otherwise.
 */

jest.setTimeout(240_000);

let env: DevEnv;
let sync: SyncWorkers;
let running: Promise<void>;
let dir: string;

const HUGE = 11; // account ids
const BAD_UTF8 = 12;
const THROWS = 13;

beforeAll(async () => {
  env = await startDevEnv();
  dir = path.join(env.tmp, 'demo');
  sync = await demoWorkers(env, dir, { accounts: 60, contacts: 0, products: 0 });
  // A bug in a mapping: for one record it throws (not a refusal: a plain TypeError).
  const mapping = sync.registry.mappings.get('crm-account-to-customer')!;
  const apply = mapping.apply.bind(mapping);
  mapping.apply = (record, options) => {
    if (record.id === THROWS) throw new TypeError("Cannot read properties of undefined (reading 'trim')");
    return apply(record, options);
  };
  running = sync.run();
});

afterAll(async () => {
  sync?.shutdown();
  await running;
  await env?.teardown();
});

test('a 10 MB field, invalid UTF-8 and a throwing mapping are quarantined with reasons, never retried, never written', async () => {
  const { crm, erp } = demoDbs(dir);
  const db = new Database(crm);
  const now = new Date().toISOString();
  db.prepare("UPDATE accounts SET company_name = 'Valid Name GmbH', street = ?, updated_at = ? WHERE id = ?").run('x'.repeat(10 * 1024 * 1024), now, HUGE);
  // "M\xC3(ller AG": \xC3 starts a two-byte sequence that "(" does not continue
  db.prepare("UPDATE accounts SET company_name = CAST(x'4dc3286c6c657220414720' AS TEXT), updated_at = ? WHERE id = ?").run(now, BAD_UTF8);
  db.prepare("UPDATE accounts SET company_name = 'Thrower Ltd', updated_at = ? WHERE id = ?").run(now, THROWS);
  // the bytes are really invalid in the file
  expect((db.prepare('SELECT hex(company_name) h FROM accounts WHERE id = ?').get(BAD_UTF8) as { h: string }).h).toBe('4DC3286C6C657220414720');
  db.close();

  const handle = await env.client.workflow.start('syncPipeline', {
    taskQueue: TASK_QUEUES.sql,
    workflowId: 'poison-accounts',
    args: [{ pipeline: 'demo-accounts', pageSize: 20 }],
  });
  const result = (await handle.result()) as SyncResult;
  expect(result.status).toBe('completed');
  expect(result.totals.read).toBe(60);
  expect(result.totals.retries).toBe(0);

  const q = new Map((await sync.store.listQuarantine('demo-accounts', 1000)).map((e) => [e.sourceKey, e]));
  expect(q.get(String(HUGE))).toMatchObject({ stage: 'map', field: 'street', rule: 'fieldTooLarge' });
  expect(q.get(String(HUGE))!.reason).toBe(`street: ${10 * 1024 * 1024} bytes, above the limit of ${MAX_FIELD_BYTES} bytes per field`);
  // the quarantine keeps the record without the 10 MB (its size instead)
  expect((q.get(String(HUGE))!.record as Record<string, unknown>).street).toBe(`<${10 * 1024 * 1024} bytes, not kept>`);
  expect(q.get(String(BAD_UTF8))).toMatchObject({ stage: 'map', field: 'company_name', rule: 'invalidUtf8' });
  expect(q.get(String(BAD_UTF8))!.reason).toMatch(/^company_name: invalid UTF-8 in the source/);
  expect(q.get(String(THROWS))).toMatchObject({ stage: 'map', rule: 'unexpected' });
  expect(q.get(String(THROWS))!.reason).toMatch(/the mapping failed unexpectedly: Cannot read properties of undefined/);

  // none of them is in the ERP; nothing there carries a replacement character or a huge value
  const keys = new Set(queryDb<{ k: string }>(erp, 'SELECT external_key k FROM customers').map((r) => r.k));
  for (const k of [HUGE, BAD_UTF8, THROWS]) expect(keys.has(String(k))).toBe(false);
  expect(queryDb<{ c: number }>(erp, "SELECT count(*) c FROM customers WHERE instr(name, char(65533)) > 0 OR length(street) > 100000")[0]!.c).toBe(0);
  // the rest of their pages was written
  expect(result.totals.created).toBe(keys.size);
  expect(result.totals.created + result.totals.quarantined).toBe(60);

  // every activity ran once: poison is a record's problem, never a retried page
  const history = await handle.fetchHistory();
  const attempts = (history.events ?? []).flatMap((e) => (e.activityTaskStartedEventAttributes ? [e.activityTaskStartedEventAttributes.attempt ?? 1] : []));
  expect(attempts.length).toBeGreaterThan(5);
  expect(Math.max(...attempts)).toBe(1);

  // a second run re-reads nothing new and leaves them in quarantine (not retried forever)
  const again = (await env.client.workflow.execute('syncPipeline', { taskQueue: TASK_QUEUES.sql, workflowId: 'poison-accounts-2', args: [{ pipeline: 'demo-accounts' }] })) as SyncResult;
  expect(again.status).toBe('completed');
  expect(again.totals.created + again.totals.updated).toBe(0);
});
