import { WorkflowFailedError } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { type ApplicationFailure } from '@temporalio/common';
import Database from 'better-sqlite3';
import path from 'node:path';
import { TASK_QUEUES } from '../../contracts/queues';
import { progressQuery, pauseSignal, resumeSignal, type SyncResult } from '../../contracts/sync';
import type { syncPipeline } from '../../workflows';
import { startDevEnv, type DevEnv } from '../helpers/env';
import { waitFor } from '../helpers/processes';
import { demoDbs, demoWorkers, queryDb } from '../helpers/demo-env';
import type { SyncWorkers } from '../../workers/worker';

jest.setTimeout(240_000);

let env: DevEnv;
let sync: SyncWorkers;
let running: Promise<void>;
let dir: string;
let n = 0;

beforeAll(async () => {
  env = await startDevEnv();
  dir = path.join(env.tmp, 'demo');
  sync = await demoWorkers(env, dir);
  running = sync.run();
});

afterAll(async () => {
  sync?.shutdown();
  await running;
  await env?.teardown();
});

function run(input: Parameters<typeof syncPipeline>[0]): Promise<SyncResult> {
  return env.client.workflow.execute('syncPipeline', {
    taskQueue: TASK_QUEUES.sql,
    workflowId: `test-${input.pipeline}-${++n}`,
    args: [input],
  });
}

const client = () => env.client;
const count = (db: string, sql: string): number => (queryDb<{ c: number }>(db, sql)[0]!).c;

describe('demo CRM → demo ERP through Temporal', () => {
  let first: SyncResult;

  test('first sync writes every valid account and quarantines the rest with reasons', async () => {
    const { crm, erp } = demoDbs(dir);
    first = await run({ pipeline: 'demo-accounts' });
    const sourceRows = count(crm, 'SELECT count(*) c FROM accounts');
    expect(first.status).toBe('completed');
    expect(first.totals.read).toBe(sourceRows);
    expect(first.totals.created + first.totals.quarantined).toBe(sourceRows);
    expect(first.totals.quarantined).toBeGreaterThan(0);
    expect(count(erp, 'SELECT count(*) c FROM customers')).toBe(first.totals.created);

    const q = await sync.store.listQuarantine('demo-accounts', 10_000);
    expect(q).toHaveLength(first.totals.quarantined);
    const rules = new Set(q.map((e) => `${e.field}:${e.rule}`));
    expect(rules).toContain('name:required');
    expect(rules).toContain('phone:phoneE164');
    expect(rules).toContain('address.countryCode:countryCode');
    const atlantis = q.find((e) => e.reason.includes('Atlantis') || e.reason.includes('Narnia') || e.reason.includes('Wakanda'));
    expect(atlantis?.reason).toMatch(/unknown country/);
    // a quarantined record is not in the target
    const keys = new Set(queryDb<{ k: string }>(erp, 'SELECT external_key k FROM customers').map((r) => r.k));
    for (const e of q) expect(keys.has(e.sourceKey)).toBe(false);
  });

  test('mapped values land in the target as the mapping says', () => {
    const { erp } = demoDbs(dir);
    const row = queryDb<Record<string, unknown>>(erp, "SELECT * FROM customers WHERE country_code = 'DE' AND phone IS NOT NULL LIMIT 1")[0]!;
    expect(row.phone).toMatch(/^\+49\d+$/);
    expect(row.name).toBe(String(row.name).trim());
    expect(['enterprise', 'mid-market', 'smb']).toContain(row.segment);
  });

  test('after changing 100 source rows, the next sync writes exactly those 100', async () => {
    const { crm, erp } = demoDbs(dir);
    const changedKeys = queryDb<{ k: string }>(erp, 'SELECT external_key k FROM customers ORDER BY id LIMIT 100 OFFSET 500').map((r) => r.k);
    const before = new Date(Date.now() - 1).toISOString();
    const db = new Database(crm);
    const upd = db.prepare('UPDATE accounts SET city = ?, updated_at = ? WHERE id = ?');
    const now = new Date().toISOString();
    db.transaction(() => changedKeys.forEach((k) => upd.run(`Changed ${k}`, now, Number(k))))();
    db.close();

    const second = await run({ pipeline: 'demo-accounts' });
    expect(second.totals.updated).toBe(100);
    expect(second.totals.created).toBe(0);
    const written = queryDb<{ k: string }>(erp, 'SELECT external_key k FROM customers WHERE updated_at > ?', before).map((r) => r.k);
    expect(written.sort()).toEqual([...changedKeys].sort());
    expect(queryDb<{ city: string }>(erp, 'SELECT city FROM customers WHERE external_key = ?', changedKeys[0])[0]!.city).toBe(
      `Changed ${changedKeys[0]}`,
    );

    // A full re-read finds nothing else to write: everything else is reported unchanged.
    const full = await run({ pipeline: 'demo-accounts', mode: 'full' });
    expect(full.totals.created + full.totals.updated).toBe(0);
    expect(full.totals.unchanged).toBe(first.totals.created);
  });

  test('contacts and products sync; duplicate SKUs are refused by the ERP and quarantined at write', async () => {
    const { erp } = demoDbs(dir);
    const products = await run({ pipeline: 'demo-products' });
    expect(products.totals.created).toBe(count(erp, 'SELECT count(*) c FROM products'));
    const q = await sync.store.listQuarantine('demo-products', 1000);
    const writeStage = q.filter((e) => e.stage === 'write');
    expect(writeStage.length).toBeGreaterThan(0);
    expect(writeStage[0]!.reason).toMatch(/UNIQUE constraint failed: products.sku/);
    expect(q.some((e) => e.stage === 'map' && e.field === 'listPrice')).toBe(true);

    const contacts = await run({ pipeline: 'demo-contacts' });
    expect(contacts.totals.read).toBe(30_000);
    expect(contacts.totals.created).toBe(count(erp, 'SELECT count(*) c FROM contacts'));
  });

  test('no run of a long sync exceeds 2,000 history events', async () => {
    const wf = await env.client.workflow.start('syncPipeline', {
      taskQueue: TASK_QUEUES.sql,
      workflowId: `test-history-${++n}`,
      // 200+ pages and no page-count limit per run: the history-length guard must continue-as-new
      // (pages of 50: since `throughput-v1` a page takes about half the events it took before)
      args: [{ pipeline: 'demo-accounts', mode: 'full', pageSize: 50, pagesPerRun: 200 }],
    });
    const result = (await wf.result()) as SyncResult;
    expect(result.totals.pages).toBeGreaterThanOrEqual(100);
    expect(result.runs).toBeGreaterThan(1);
    let runId: string | undefined = wf.firstExecutionRunId;
    const lengths: number[] = [];
    const finishesPerRun: number[] = [];
    // bounded: the chain has result.runs runs; one more step would show a longer chain
    for (let i = 0; runId && i <= result.runs; i++) {
      const history: {
        events?:
          | {
              workflowExecutionContinuedAsNewEventAttributes?: { newExecutionRunId?: string | null } | null;
              activityTaskScheduledEventAttributes?: { activityType?: { name?: string | null } | null } | null;
            }[]
          | null;
      } = await env.client.workflow.getHandle(wf.workflowId, runId).fetchHistory();
      const events = history.events ?? [];
      lengths.push(events.length);
      finishesPerRun.push(events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'finishSync').length);
      const last = events[events.length - 1];
      runId = last?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
    }
    expect(lengths.length).toBe(result.runs);
    expect(Math.max(...lengths)).toBeLessThanOrEqual(2000);
    // continue-as-new ends a run without finishing the sync: only the last run writes the run report
    expect(finishesPerRun).toEqual([...Array<number>(result.runs - 1).fill(0), 1]);
  });
});

describe('determinism', () => {
  test('every finished sync run above replays against the current workflow code', async () => {
    const histories = client().workflow.list({ query: 'WorkflowType = "syncPipeline" AND ExecutionStatus != "Running"' }).intoHistories();
    let replayed = 0;
    const failures: string[] = [];
    for await (const r of Worker.runReplayHistories({ workflowBundle: env.workflowBundle }, histories)) {
      replayed++;
      if (r.error) failures.push(`${r.workflowId}: ${String(r.error).slice(0, 300)}`);
    }
    expect(replayed).toBeGreaterThanOrEqual(5);
    expect(failures).toEqual([]);
  });
});

describe('workflow input and control', () => {
  test('an invalid input fails at once, non-retryably, naming each field', async () => {
    const err = await run({ pipeline: 'Demo Accounts!', pageSize: 'lots' } as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause.type).toBe('InvalidInput');
    expect(cause.nonRetryable).toBe(true);
    expect(cause.message).toMatch(/pipeline: expected lowercase letters/);
    expect(cause.message).toMatch(/pageSize: expected a whole number of records per page/);
  });

  test('an unknown field and a missing input are named', async () => {
    const err = await run({ pipeline: 'demo-accounts', pagesize: 10 } as never).catch((e: unknown) => e);
    expect(((err as WorkflowFailedError).cause as ApplicationFailure).message).toMatch(/unknown field\(s\) "pagesize"/);
    const none = await env.client.workflow
      .execute('syncPipeline', { taskQueue: TASK_QUEUES.sql, workflowId: `test-none-${++n}`, args: [] })
      .catch((e: unknown) => e);
    expect(((none as WorkflowFailedError).cause as ApplicationFailure).message).toMatch(/missing workflow input/);
  });

  test('an unknown pipeline fails non-retryably with a ConfigError listing known pipelines', async () => {
    const err = await run({ pipeline: 'no-such-pipeline' }).catch((e: unknown) => e);
    const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause.type).toBe('ConfigError');
    expect(cause.message).toMatch(/unknown pipeline "no-such-pipeline".*demo-accounts/);
  });

  test('pause holds the sync between pages; resume finishes it; progress is queryable', async () => {
    const h = await env.client.workflow.start('syncPipeline', {
      taskQueue: TASK_QUEUES.sql,
      workflowId: `test-pause-${++n}`,
      args: [{ pipeline: 'demo-contacts', mode: 'full', pageSize: 500 }],
    });
    await h.signal(pauseSignal, { by: 'tester', reason: 'test' });
    const p = await waitFor(async () => {
      const q = await h.query(progressQuery);
      return q.status === 'paused' ? q : null;
    }, 'the sync to report paused', 10_000, 100);
    expect(p.pausedBy).toBe('tester');
    expect(p.pausedReason).toBe('test');
    const readWhilePaused = p.totals.read;
    // Inherent wait: "nothing is read while paused" can only be observed over a stretch of time
    // (a page of 500 takes well under a second here, so a second would show one).
    await new Promise((r) => setTimeout(r, 1000));
    expect((await h.query(progressQuery)).totals.read).toBe(readWhilePaused);
    await h.signal(resumeSignal, { by: 'tester' });
    const result = (await h.result()) as SyncResult;
    expect(result.status).toBe('completed');
    expect(result.totals.read).toBe(30_000);
  });
});
