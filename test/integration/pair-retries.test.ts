import type { temporal } from '@temporalio/proto';
import Database from 'better-sqlite3';
import path from 'node:path';
import { runCli, type CliDeps } from '../../cli/program';
import type { SqlSystem } from '../../connectors/sql/config';
import { createSqlConnector } from '../../connectors/sql/connector';
import type { SqlDialect } from '../../connectors/sql/dialect';
import { withWriteFaults, type SqlFaultLog } from '../../connectors/sql/faults';
import { openSqlite } from '../../connectors/sql/sqlite';
import { pairProgressQuery, type SyncPairResult } from '../../contracts/pair-sync';
import { TASK_QUEUES } from '../../contracts/queues';
import { reconcileProgressQuery, type ReconcilePairResult } from '../../contracts/reconcile';
import { demoPaths, seedDemo } from '../../demo/seed';
import { parseWorkerEnv } from '../../workers/config';
import { createSyncWorkers, type SyncWorkers } from '../../workers/worker';
import { queryDb } from '../helpers/demo-env';
import { ROOT, startDevEnv, type DevEnv } from '../helpers/env';

/**
 * Retries of a pair's activities are counted like a pipeline's (totals.retries): syncPair and
 * reconcilePair over the demo pair on the real dev server, the demo ERP's connector over the
 * project's SQL fault injection (connectors/sql/faults.ts) armed for a given number of write
 * transactions, each refused as locked (SQLITE_BUSY, nothing written), so each costs one retry
 * of the write. The count must equal the attempts in the workflow history and show in the
 * result, the progress query, the run report and the CLI.
 */

jest.setTimeout(300_000);

const ACCOUNTS = 200;
let env: DevEnv;
let sync: SyncWorkers;
let running: Promise<void>;
let dir: string;
let faults: SqlFaultLog | undefined;
/** Write transactions of the ERP still to fail. */
let armed = 0;

beforeAll(async () => {
  env = await startDevEnv();
  dir = path.join(env.tmp, 'demo');
  seedDemo(dir, { accounts: ACCOUNTS, contacts: 0, products: 0 });
  sync = await createSyncWorkers({
    connection: env.nativeConnection,
    namespace: 'default',
    families: ['sql'],
    configDir: path.join(ROOT, 'config'),
    stateDb: path.join(dir, 'state.db'),
    workflowBundle: env.workflowBundle,
    env: { DEMO_DATA_DIR: dir },
    createConnector: (name, config) => {
      if (name !== 'demo-erp') return undefined;
      const sql = config as SqlSystem;
      if (!sql.path) throw new Error('the demo ERP is expected to be a SQLite system');
      // Every transaction fails while enabled; `armed` enables it for that many transactions.
      const faulty = withWriteFaults(openSqlite(sql.path, { mustExist: true }), { share: 1, seed: 4040, kinds: ['busy'] });
      faults = faulty.faults;
      const dialect: SqlDialect = {
        name: faulty.name,
        quote: (id) => faulty.quote(id),
        param: (i) => faulty.param(i),
        all: (s, p) => faulty.all(s, p),
        close: () => faulty.close(),
        transaction(fn) {
          faulty.faults.enabled = armed > 0; // read by the transaction as it begins
          if (armed > 0) armed--;
          return faulty.transaction(fn);
        },
      };
      return createSqlConnector(sql, name, dialect);
    },
  });
  running = sync.run();
});

afterAll(async () => {
  sync?.shutdown();
  await running;
  await env?.teardown();
});

/** The sum of (attempt − 1) over the activities of every run of a workflow's history. */
async function retriesInHistory(workflowId: string, firstRunId: string): Promise<number> {
  let retries = 0;
  let runId: string | undefined = firstRunId;
  while (runId) {
    const history: temporal.api.history.v1.IHistory = await env.client.workflow.getHandle(workflowId, runId).fetchHistory();
    const events = history.events ?? [];
    for (const e of events) retries += (e.activityTaskStartedEventAttributes?.attempt ?? 1) - 1;
    runId = events[events.length - 1]?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  return retries;
}

async function cli(...argv: string[]): Promise<string> {
  let out = '';
  const deps: CliDeps = {
    env: parseWorkerEnv({ DEMO_DATA_DIR: dir, TEMPORAL_ADDRESS: env.server.address, SYNC_CONFIG_DIR: path.join(ROOT, 'config') }),
    stdout: (t) => (out += t),
    stderr: (t) => (out += t),
    client: async () => env.client,
    store: () => sync.store,
    user: 'test-operator',
  };
  expect(await runCli(argv, deps)).toBe(0);
  return out;
}

/** The `retries` figure of `crm-erp-sync report <syncId>`'s totals line. */
const reportedRetries = (text: string): number => Number(/^totals .*\bretries (\d+)/m.exec(text)?.[1] ?? NaN);

test('syncPair: ERP writes refused twice cost two retries, in the result, the progress query, the run report and the CLI', async () => {
  armed = 2;
  const handle = await env.client.workflow.start('syncPair', { taskQueue: TASK_QUEUES.sql, workflowId: 'pair-retries', args: [{ pair: 'demo-customers', pageSize: 50, pagesPerRun: 3 }] });
  const result = (await handle.result()) as SyncPairResult;
  expect(result.status).toBe('completed');
  expect(result.runs).toBeGreaterThan(1); // retries carried across continue-as-new
  expect(faults!.injected).toEqual(['busy', 'busy']);
  expect(armed).toBe(0);
  const inHistory = await retriesInHistory(handle.workflowId, handle.firstExecutionRunId);
  expect(inHistory).toBeGreaterThanOrEqual(2); // each refused transaction failed one attempt of the write
  expect(result.totals.retries).toBe(inHistory);
  // the refused writes were redone: every valid, active account has its ERP customer
  expect(result.totals.sides.erp!.created).toBe(queryDb<{ c: number }>(demoPaths(dir).erp, 'SELECT count(*) c FROM customers')[0]!.c);

  const progress = await env.client.workflow.getHandle(handle.workflowId).query(pairProgressQuery);
  expect(progress.totals.retries).toBe(result.totals.retries);
  const report = await sync.store.getRunReport(result.syncId);
  expect(report?.totals.retries).toBe(result.totals.retries);
  expect(reportedRetries(await cli('report', result.syncId))).toBe(result.totals.retries);
  const runs = (await cli('runs', 'demo-customers')).split('\n');
  expect(runs[0]).toMatch(/\bretries\b/);
});

test('reconcilePair: a repair write refused once costs a retry, in the result, the progress query, the run report and the CLI', async () => {
  // Drift behind the sync's back (no updated_at change): the repair writes the CRM names to the ERP.
  const crm = new Database(demoPaths(dir).crm);
  try {
    const ids = queryDb<{ k: string }>(demoPaths(dir).erp, "SELECT external_key k FROM customers WHERE active = 1 AND external_key NOT GLOB '*[^0-9]*' ORDER BY id LIMIT 3").map((r) => Number(r.k));
    expect(ids).toHaveLength(3);
    for (const id of ids) expect(crm.prepare("UPDATE accounts SET company_name = 'Drifted ' || id || ' KG' WHERE id = ?").run(id).changes).toBe(1);
  } finally {
    crm.close();
  }
  const before = faults!.injected.length;
  armed = 1;
  const handle = await env.client.workflow.start('reconcilePair', { taskQueue: TASK_QUEUES.sql, workflowId: 'reconcile-retries', args: [{ pair: 'demo-customers', repair: true, pageSize: 100 }] });
  const result = (await handle.result()) as ReconcilePairResult;
  expect(result.status).toBe('completed');
  expect(result.counts.recordsWithDiffs).toBe(3);
  expect(faults!.injected.length - before).toBe(1);
  const inHistory = await retriesInHistory(handle.workflowId, handle.firstExecutionRunId);
  expect(inHistory).toBeGreaterThanOrEqual(1);
  expect(result.retries).toBe(inHistory);
  expect(result.repaired?.updated.erp).toBe(3);

  const progress = await env.client.workflow.getHandle(handle.workflowId).query(reconcileProgressQuery);
  expect(progress.retries).toBe(result.retries);
  const report = await sync.store.getRunReport(result.reconId);
  expect(report?.totals.retries).toBe(result.retries);
  expect(reportedRetries(await cli('report', result.reconId))).toBe(result.retries);
});
