import type { temporal } from '@temporalio/proto';
import Database from 'better-sqlite3';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { SqlSystem } from '../../connectors/sql/config';
import { createSqlConnector } from '../../connectors/sql/connector';
import { withWriteFaults, type SqlFaultLog } from '../../connectors/sql/faults';
import { openSqlite } from '../../connectors/sql/sqlite';
import { TASK_QUEUES } from '../../contracts/queues';
import type { SyncResult } from '../../contracts/sync';
import { demoPaths, seedDemo } from '../../demo/seed';
import { startHubSpotEmulator, type HubSpotEmulator } from '../../emulators/hubspot';
import type { syncPipeline } from '../../workflows';
import { createSyncWorkers, type SyncWorkers } from '../../workers/worker';
import { queryDb } from '../helpers/demo-env';
import { ROOT, startDevEnv, type DevEnv } from '../helpers/env';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy';
import { compareSqlTarget } from '../helpers/sql-target';

/**
 * Issue 10, injected faults. Real Temporal dev server, real SQLite, the HubSpot emulator; the
 * faults come from a seeded RNG, so every run injects the same ones:
 *  - SQL: 20% of the ERP's write transactions fail (locked before the first statement, an I/O
 *    error part-way with a rollback, or a connection lost after COMMIT) during a 20,000-account
 *    sync; the ERP must then hold exactly the source, row by row, nothing lost or twice;
 *  - HubSpot: the emulator behind a proxy answering 429 with Retry-After, 5xx (before and after
 *    the write reached the emulator), connection resets, hangs past the request timeout and slow
 *    answers; the companies must equal the ERP customers, once each.
 * In both, every retry is visible in the sync's result and run report (totals.retries) and
 * matches both the faults injected and the write activity's attempts in the workflow history.
 */

jest.setTimeout(600_000);

const TOKEN = 'pat-na1-test-faults-0000';
const HUBSPOT_TIMEOUT_S = 2;
const ACCOUNTS = 20_000;

let env: DevEnv;
let emulator: HubSpotEmulator;
let proxy: FaultProxy;
let sync: SyncWorkers;
let running: Promise<void>;
let dir: string;
let erpFaults: SqlFaultLog | undefined;
let n = 0;

beforeAll(async () => {
  env = await startDevEnv();
  emulator = await startHubSpotEmulator({ token: TOKEN });
  proxy = await startFaultProxy({
    upstream: emulator.baseUrl,
    seed: 1010,
    // Only POSTs are counted: every request a sync into HubSpot sends is one.
    counts: (m) => m === 'POST',
    shares: { rate429: 0.12, status5xx: 0.12, reset: 0.05, timeout: 0.04, slow: 0.1 },
    retryAfterSeconds: 1,
    slowMs: 300,
  });

  dir = path.join(env.tmp, 'demo');
  seedDemo(dir, { accounts: ACCOUNTS, contacts: 0, products: 0 });
  const configDir = path.join(env.tmp, 'config');
  cpSync(path.join(ROOT, 'config'), configDir, { recursive: true });
  const systemsFile = path.join(configDir, 'systems.json');
  const systems = JSON.parse(readFileSync(systemsFile, 'utf8')) as Record<string, Record<string, unknown>>;
  systems.hubspot!.requestTimeoutSeconds = HUBSPOT_TIMEOUT_S;
  writeFileSync(systemsFile, JSON.stringify(systems, null, 2));

  sync = await createSyncWorkers({
    connection: env.nativeConnection,
    namespace: 'default',
    families: ['sql', 'hubspot'],
    configDir,
    stateDb: path.join(dir, 'state.db'),
    workflowBundle: env.workflowBundle,
    env: {
      DEMO_DATA_DIR: dir,
      HUBSPOT_BASE_PATH: proxy.url,
      HUBSPOT_ACCESS_TOKEN: TOKEN,
      HUBSPOT_GOVERNOR_DB: path.join(env.tmp, 'hubspot-governor.db'),
      HUBSPOT_ACCOUNT: 'fault-test',
    },
    // The demo ERP's connector over a dialect whose write transactions fail at 20%.
    createConnector: (name, config) => {
      if (name !== 'demo-erp') return undefined;
      const sql = config as SqlSystem;
      if (!sql.path) throw new Error('the demo ERP is expected to be a SQLite system');
      const dialect = withWriteFaults(openSqlite(sql.path, { mustExist: true }), { share: 0.2, seed: 2020 });
      erpFaults = dialect.faults;
      return createSqlConnector(sql, name, dialect);
    },
  });
  running = sync.run();
});

afterAll(async () => {
  sync?.shutdown();
  await running;
  await proxy?.stop();
  await emulator?.stop();
  await env?.teardown();
});

interface Attempts {
  /** Completed activities of that type. */
  activities: number;
  /** The sum over them of (attempt − 1). */
  retries: number;
  lastFailures: string[];
}

/** Runs a pipeline and reads, from every run of its history, the attempts of each activity type. */
async function runAndReadAttempts(taskQueue: string, input: Parameters<typeof syncPipeline>[0]): Promise<{ result: SyncResult; attempts: Map<string, Attempts> }> {
  const handle = await env.client.workflow.start('syncPipeline', { taskQueue, workflowId: `faults-${input.pipeline}-${++n}`, args: [input] });
  const result = (await handle.result()) as SyncResult;
  const attempts = new Map<string, Attempts>();
  let runId: string | undefined = handle.firstExecutionRunId;
  for (let i = 0; runId && i <= result.runs; i++) {
    const history: temporal.api.history.v1.IHistory = await env.client.workflow.getHandle(handle.workflowId, runId).fetchHistory();
    const events = history.events ?? [];
    const types = new Map<string, string>();
    for (const e of events) {
      const scheduled = e.activityTaskScheduledEventAttributes;
      if (scheduled) types.set(String(e.eventId), scheduled.activityType?.name ?? '');
      const started = e.activityTaskStartedEventAttributes;
      if (started) {
        const type = types.get(String(started.scheduledEventId)) ?? '?';
        const a = attempts.get(type) ?? { activities: 0, retries: 0, lastFailures: [] };
        attempts.set(type, a);
        a.activities++;
        const attempt = started.attempt ?? 1;
        a.retries += attempt - 1;
        if (attempt > 1) a.lastFailures.push(started.lastFailure?.message ?? '');
      }
    }
    runId = events[events.length - 1]?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  return { result, attempts };
}

const allRetries = (attempts: Map<string, Attempts>): number => [...attempts.values()].reduce((s, a) => s + a.retries, 0);

describe('injected faults', () => {
  test(`SQL: ${ACCOUNTS.toLocaleString('en')} accounts with 20% of the ERP's write transactions failing: nothing lost or duplicated, every retry reported`, async () => {
    const { result, attempts } = await runAndReadAttempts(TASK_QUEUES.sql, { pipeline: 'demo-accounts', pageSize: 200 });
    const faults = erpFaults!;
    const kinds = faults.injected.reduce((m, k) => m.set(k, (m.get(k) ?? 0) + 1), new Map<string, number>());
    const writes = attempts.get('writePage')!;
    console.log(
      `sql: ${faults.transactions} write transactions, ${faults.injected.length} failed (${JSON.stringify(Object.fromEntries(kinds))}); ` +
        `totals ${JSON.stringify(result.totals)}; writePage ${writes.activities} activities, ${writes.retries} retries`,
    );

    expect(result.status).toBe('completed');
    expect(result.totals.read).toBe(ACCOUNTS);
    // The share held (roughly: seeded, so exactly reproducible) and every kind of failure happened.
    expect(faults.injected.length / faults.transactions).toBeGreaterThan(0.12);
    expect(faults.injected.length / faults.transactions).toBeLessThan(0.3);
    for (const k of ['busy', 'rollback', 'lost-ack']) expect(kinds.get(k) ?? 0).toBeGreaterThan(0);

    // Each failed transaction cost exactly one retry of the write, and the history says why.
    expect(writes.retries).toBe(faults.injected.length);
    for (const f of writes.lastFailures) expect(f).toMatch(/demo-erp: write customers: (database busy \((SQLITE_BUSY|ECONNRESET)\)|disk I\/O error \(injected fault\))/);
    // ... and the retries are in the result and the run report, not only in the history.
    expect(result.totals.retries).toBe(allRetries(attempts));
    expect(result.totals.retries).toBeGreaterThanOrEqual(faults.injected.length);
    const report = await sync.store.getRunReport(result.syncId);
    expect(report?.totals.retries).toBe(result.totals.retries);

    // A write committed before its error was lost is found again by its external key on retry:
    // counted as an update, never as a second row.
    expect(result.totals.created + result.totals.updated + result.totals.quarantined).toBe(ACCOUNTS);
    expect(result.totals.updated).toBeGreaterThan(0);

    // Row by row: every valid account is in the ERP once with its mapped values, the rest are
    // quarantined and nowhere in the ERP, and the ERP holds nothing else.
    faults.enabled = false;
    const comparison = await compareSqlTarget(dir, 'demo-accounts', 'accounts');
    expect(comparison.problems).toEqual([]);
    expect(comparison.valid + comparison.refused).toBe(ACCOUNTS);
    expect(comparison.targetRows).toBe(comparison.valid);
    const { erp } = demoPaths(dir);
    const dup = queryDb<{ c: number }>(erp, 'SELECT count(*) c FROM (SELECT external_key FROM customers GROUP BY external_key HAVING count(*) > 1)')[0]!.c;
    expect(dup).toBe(0);
  });

  test('HubSpot: erp-customers-to-hubspot through 429s with Retry-After, 5xx, resets, hangs and slow answers: companies equal the customers', async () => {
    const CUSTOMERS = 400;
    const db = new Database(demoPaths(dir).erp);
    const now = new Date().toISOString();
    db.exec('DELETE FROM customers');
    const ins = db.prepare('INSERT INTO customers (external_key, name, email, city, country_code, segment, active, updated_at) VALUES (?,?,?,?,?,?,?,?)');
    db.transaction(() => {
      for (let i = 1; i <= CUSTOMERS; i++) ins.run(`cust-${i}`, `Customer ${i}`, `billing${i}@example.com`, `City ${i % 7}`, 'DE', i % 2 ? 'smb' : 'enterprise', 1, now);
    })();
    db.close();

    // 40 pages of 10: one batch upsert each
    const { result, attempts } = await runAndReadAttempts(TASK_QUEUES.hubspot, { pipeline: 'erp-customers-to-hubspot', pageSize: 10 });
    const errors = proxy.count();
    const byKind = proxy.faults.reduce((m, f) => m.set(`${f.kind}/${f.when}`, (m.get(`${f.kind}/${f.when}`) ?? 0) + 1), new Map<string, number>());
    const writes = attempts.get('writePage')!;
    console.log(`hubspot: ${proxy.counted} POSTs, faults ${JSON.stringify(Object.fromEntries(byKind))}; totals ${JSON.stringify(result.totals)}`);
    proxy.setShares({});

    expect(result.status).toBe('completed');
    expect(result.totals.read).toBe(CUSTOMERS);
    expect(result.totals.quarantined).toBe(0);
    expect(result.totals.created + result.totals.updated).toBe(CUSTOMERS);
    for (const k of ['rate429', 'status5xx', 'reset', 'timeout', 'slow']) expect(proxy.count(k as never)).toBeGreaterThan(0);
    expect(proxy.faults.some((f) => f.when === 'after' && f.upstreamStatus === 200)).toBe(true);

    // Every failed request cost one retry of the write, no more, and the result reports them.
    expect(writes.retries).toBe(errors);
    expect(result.totals.retries).toBe(allRetries(attempts));
    expect(result.totals.retries).toBeGreaterThanOrEqual(errors);
    // (the last failure of each retried write; an earlier one of the same write is not kept)
    const reasons = writes.lastFailures.join('\n');
    expect(reasons).toMatch(/429/);
    expect(reasons).toMatch(/\(50[023] /);
    expect(reasons).toMatch(/ECONNRESET/);
    // A hang was given up by the client at its request timeout (the proxy saw it close the
    // connection), not waited on until the activity's start-to-close timeout.
    const hangs = proxy.faults.filter((f) => f.kind === 'timeout');
    for (const h of hangs) {
      expect(h.closedAfterMs).toBeGreaterThanOrEqual(HUBSPOT_TIMEOUT_S * 750);
      expect(h.closedAfterMs).toBeLessThan(HUBSPOT_TIMEOUT_S * 1000 + 5000);
    }

    const companies = emulator.store.list('companies', 0, 10_000, false);
    expect(companies).toHaveLength(CUSTOMERS);
    const byKey = new Map(companies.map((c) => [c.props.erp_customer_id, c.props]));
    expect(byKey.size).toBe(CUSTOMERS);
    const source = queryDb<{ external_key: string; name: string; email: string; city: string; segment: string }>(
      demoPaths(dir).erp,
      'SELECT external_key, name, email, city, segment FROM customers',
    );
    for (const c of source) {
      const p = byKey.get(c.external_key);
      expect({ key: c.external_key, name: p?.name, email: p?.erp_email, city: p?.city, segment: p?.erp_segment }).toEqual({
        key: c.external_key,
        name: c.name,
        email: c.email,
        city: c.city,
        segment: c.segment,
      });
    }
  });
});
