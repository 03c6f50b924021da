import type { temporal } from '@temporalio/proto';
import Database from 'better-sqlite3';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TrytonClient } from '../../connectors/tryton/client';
import { TASK_QUEUES } from '../../contracts/queues';
import type { SyncResult } from '../../contracts/sync';
import { demoPaths, seedDemo } from '../../demo/seed';
import { startHubSpotEmulator, type HubSpotEmulator } from '../../emulators/hubspot';
import { startTryton, type TrytonInstance } from '../../scripts/tryton';
import { adminClient } from '../../scripts/tryton/admin-helpers';
import type { syncPipeline } from '../../workflows';
import { createSyncWorkers, type SyncWorkers } from '../../workers/worker';
import { queryDb, trytonVars } from '../helpers/demo-env';
import { ROOT, startDevEnv, type DevEnv } from '../helpers/env';
import { startHangingProxy, type HangingProxy } from '../helpers/hanging-proxy';
import { linkedTargets } from '../helpers/links';

/**
 * Issue 17: a request that is accepted and never answered must cost its request timeout plus a
 * retry, not the write activity's 30-minute start-to-close timeout. A loopback proxy between the
 * worker and each target (the HubSpot emulator, a real trytond) swallows every n-th request,
 * alternately before forwarding it (never written) and after (written, answer withheld). Syncs
 * run through a real Temporal dev server with short request timeouts; the target must then hold
 * exactly the source (by key and field values, nothing lost, nothing twice), every hang must have
 * been given up by the client at its timeout, and each hang must have cost exactly one retry of
 * the write activity, whose last failure is the request timeout.
 */

jest.setTimeout(240_000);

const TOKEN = 'pat-na1-test-hang-0000';
const HUBSPOT_TIMEOUT_S = 2;
const TRYTON_TIMEOUT_S = 5;
/** The write activity's start-to-close timeout, what a hang could cost before (workflows/options.ts). */
const OLD_HANG_COST_MS = 30 * 60_000;

let env: DevEnv;
let tryton: TrytonInstance;
let admin: TrytonClient;
let emulator: HubSpotEmulator;
let hubProxy: HangingProxy;
let trytonProxy: HangingProxy;
let sync: SyncWorkers;
let running: Promise<void>;
let dir: string;
let n = 0;

beforeAll(async () => {
  [env, tryton] = await Promise.all([startDevEnv(), startTryton()]);
  admin = adminClient(tryton);
  emulator = await startHubSpotEmulator({ token: TOKEN });
  // Only POSTs are counted: every request these syncs send to their target is one.
  hubProxy = await startHangingProxy({ upstream: emulator.baseUrl, hangEvery: 3, counts: (m) => m === 'POST' });
  trytonProxy = await startHangingProxy({ upstream: tryton.url, hangEvery: 7, counts: (m) => m === 'POST' });

  dir = path.join(env.tmp, 'demo');
  seedDemo(dir, { accounts: 40, contacts: 0, products: 0 });
  // The shipped config with short request timeouts (and small Tryton batches: more requests).
  const configDir = path.join(env.tmp, 'config');
  cpSync(path.join(ROOT, 'config'), configDir, { recursive: true });
  const systemsFile = path.join(configDir, 'systems.json');
  const systems = JSON.parse(readFileSync(systemsFile, 'utf8')) as Record<string, Record<string, unknown>>;
  systems.hubspot!.requestTimeoutSeconds = HUBSPOT_TIMEOUT_S;
  systems.tryton!.requestTimeoutSeconds = TRYTON_TIMEOUT_S;
  systems.tryton!.maxBatchSize = 10;
  writeFileSync(systemsFile, JSON.stringify(systems, null, 2));

  sync = await createSyncWorkers({
    connection: env.nativeConnection,
    namespace: 'default',
    families: ['hubspot', 'tryton'],
    configDir,
    stateDb: path.join(dir, 'state.db'),
    workflowBundle: env.workflowBundle,
    env: {
      DEMO_DATA_DIR: dir,
      HUBSPOT_BASE_PATH: hubProxy.url,
      HUBSPOT_ACCESS_TOKEN: TOKEN,
      HUBSPOT_GOVERNOR_DB: path.join(env.tmp, 'hubspot-governor.db'),
      HUBSPOT_ACCOUNT: 'hang-test',
      ...trytonVars({ ...tryton, url: trytonProxy.url }),
    },
  });
  running = sync.run();
});

afterAll(async () => {
  sync?.shutdown();
  await running;
  await hubProxy?.stop();
  await trytonProxy?.stop();
  await admin?.logout();
  await emulator?.stop();
  await tryton?.stop();
  await env?.teardown();
});

interface WriteAttempts {
  /** writePage activities that completed. */
  activities: number;
  /** Retries: the sum over them of (attempt − 1). */
  retries: number;
  /** The last failure of each retried one. */
  lastFailures: string[];
}

/** Runs a pipeline and reads, from every run's history, how often its writes were retried and why. */
async function runAndCountRetries(taskQueue: string, input: Parameters<typeof syncPipeline>[0]): Promise<{ result: SyncResult; writes: WriteAttempts; ms: number }> {
  const t0 = Date.now();
  const handle = await env.client.workflow.start('syncPipeline', { taskQueue, workflowId: `hang-${input.pipeline}-${++n}`, args: [input] });
  const result = (await handle.result()) as SyncResult;
  const ms = Date.now() - t0;
  const writes: WriteAttempts = { activities: 0, retries: 0, lastFailures: [] };
  let runId: string | undefined = handle.firstExecutionRunId;
  while (runId) {
    const history: temporal.api.history.v1.IHistory = await env.client.workflow.getHandle(handle.workflowId, runId).fetchHistory();
    const events = history.events ?? [];
    const types = new Map<string, string>();
    for (const e of events) {
      const scheduled = e.activityTaskScheduledEventAttributes;
      if (scheduled) types.set(String(e.eventId), scheduled.activityType?.name ?? '');
      const started = e.activityTaskStartedEventAttributes;
      if (started && types.get(String(started.scheduledEventId)) === 'writePage') {
        writes.activities++;
        const attempt = started.attempt ?? 1;
        writes.retries += attempt - 1;
        if (attempt > 1) writes.lastFailures.push(started.lastFailure?.message ?? '');
      }
    }
    const last = events[events.length - 1];
    runId = last?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  return { result, writes, ms };
}

/** Every hang was given up by the client at its request timeout (the proxy saw the connection close). */
async function expectHangsAbandonedAtTimeout(proxy: HangingProxy, timeoutS: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (proxy.hangs.some((h) => h.closedAfterMs === undefined) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  for (const h of proxy.hangs) {
    // undefined = the client still waits for an answer that never comes (no request timeout)
    expect({ n: h.n, closedAfterMs: h.closedAfterMs }).toEqual({ n: h.n, closedAfterMs: expect.any(Number) });
    expect(h.closedAfterMs!).toBeGreaterThanOrEqual(timeoutS * 750);
    // generous: the client closes at its timeout; a loaded 2-core machine may lag a little
    expect(h.closedAfterMs!).toBeLessThan(timeoutS * 1000 + 5000);
  }
}

describe('a target that accepts requests and never answers some of them', () => {
  test('HubSpot: erp-customers-to-hubspot completes, nothing lost or duplicated, each hang costs its timeout and one retry', async () => {
    const CUSTOMERS = 100;
    const db = new Database(demoPaths(dir).erp);
    const now = new Date().toISOString();
    const ins = db.prepare('INSERT INTO customers (external_key, name, email, city, country_code, segment, active, updated_at) VALUES (?,?,?,?,?,?,?,?)');
    db.transaction(() => {
      for (let i = 1; i <= CUSTOMERS; i++) ins.run(`cust-${i}`, `Customer ${i}`, `billing${i}@example.com`, `City ${i % 7}`, 'DE', i % 2 ? 'smb' : 'enterprise', 1, now);
    })();
    db.close();

    // 10 pages of 10: one batch upsert each, every 3rd POST never answered
    const { result, writes, ms } = await runAndCountRetries(TASK_QUEUES.hubspot, { pipeline: 'erp-customers-to-hubspot', pageSize: 10 });
    console.log(`hubspot: ${ms} ms, ${hubProxy.counted} requests, hangs ${JSON.stringify(hubProxy.hangs.map((h) => [h.kind, h.closedAfterMs]))}`);

    expect(result.status).toBe('completed');
    expect(result.totals.read).toBe(CUSTOMERS);
    expect(result.totals.quarantined).toBe(0);
    // an upsert whose answer was withheld was written: its retry updates the same company
    expect(result.totals.created + result.totals.updated).toBe(CUSTOMERS);

    // the hangs happened, of both kinds, and each cost exactly one retry of the write
    expect(hubProxy.hangs.length).toBeGreaterThanOrEqual(3);
    expect(hubProxy.hangs.some((h) => h.kind === 'unanswered' && h.upstreamStatus === 200)).toBe(true);
    expect(hubProxy.counted).toBe(CUSTOMERS / 10 + hubProxy.hangs.length);
    expect(writes.retries).toBe(hubProxy.hangs.length);
    for (const f of writes.lastFailures) expect(f).toBe(`HubSpot batch upsert companies timed out: no complete answer within ${HUBSPOT_TIMEOUT_S} s`);
    await expectHangsAbandonedAtTimeout(hubProxy, HUBSPOT_TIMEOUT_S);
    expect(ms).toBeLessThan(OLD_HANG_COST_MS / 10);

    // the target holds exactly the source, once each, with its values
    const companies = emulator.store.list('companies', 0, 10_000, false);
    expect(companies).toHaveLength(CUSTOMERS);
    const byKey = new Map(companies.map((c) => [c.props.erp_customer_id, c.props]));
    expect(byKey.size).toBe(CUSTOMERS);
    const source = queryDb<{ external_key: string; name: string; email: string; city: string; segment: string }>(
      demoPaths(dir).erp,
      'SELECT external_key, name, email, city, segment FROM customers',
    );
    for (const c of source) {
      expect({ key: c.external_key, ...pick(byKey.get(c.external_key), ['name', 'erp_email', 'city', 'country', 'erp_segment']) }).toEqual({
        key: c.external_key,
        name: c.name,
        erp_email: c.email,
        city: c.city,
        country: 'DE',
        erp_segment: c.segment,
      });
    }
  });

  test('Tryton: tryton-customers completes, nothing lost or duplicated, each hang costs its timeout and one retry', async () => {
    const partyCount = () => admin.model<number>('party.party', 'search_count', [[]], { active_test: false });
    const before = await partyCount();

    // 2 pages of 20 accounts, batches of 10, every 7th JSON-RPC request never answered
    const { result, writes, ms } = await runAndCountRetries(TASK_QUEUES.tryton, { pipeline: 'tryton-customers', pageSize: 20 });
    console.log(`tryton: ${ms} ms, ${trytonProxy.counted} requests, hangs ${JSON.stringify(trytonProxy.hangs.map((h) => [h.kind, h.path, h.closedAfterMs]))}`);

    expect(result.status).toBe('completed');
    expect(result.totals.read).toBe(40);
    expect(trytonProxy.hangs.length).toBeGreaterThanOrEqual(2);
    expect(trytonProxy.hangs.some((h) => h.kind === 'unanswered' && h.upstreamStatus === 200)).toBe(true);
    expect(writes.retries).toBe(trytonProxy.hangs.length);
    for (const f of writes.lastFailures) expect(f).toMatch(new RegExp(`^Tryton [\\w.]+ timed out: no complete answer within ${TRYTON_TIMEOUT_S} s$`));
    await expectHangsAbandonedAtTimeout(trytonProxy, TRYTON_TIMEOUT_S);
    expect(ms).toBeLessThan(OLD_HANG_COST_MS / 10);

    // every account is in Tryton once (bound to one party) or quarantined for a data reason
    const quarantine = await sync.store.listQuarantine('tryton-customers', 1000);
    for (const q of quarantine) expect(q.reason).not.toMatch(/timed out|no progress/);
    const accounts = queryDb<{ id: number; company_name: string; city: string }>(demoPaths(dir).crm, 'SELECT id, company_name, city FROM accounts');
    const quarantined = new Set(quarantine.map((q) => q.sourceKey));
    const expected = accounts.filter((a) => !quarantined.has(String(a.id)));
    expect(expected.length).toBeGreaterThan(20);
    expect(result.totals.created + result.totals.updated).toBe(expected.length);
    const bindings = await linkedTargets(sync.store, sync.registry, 'tryton-customers', expected.map((a) => String(a.id)));
    expect(bindings.size).toBe(expected.length);
    expect(new Set([...bindings.values()].map((b) => b.targetKey)).size).toBe(expected.length);
    // no duplicates: exactly one new party per bound account
    expect((await partyCount()) - before).toBe(expected.length);
    const parties = await admin.model<{ id: number; name: string; 'addresses.': { city: string | null }[] }[]>(
      'party.party',
      'read',
      [[...bindings.values()].map((b) => Number(b.targetKey)), ['name', 'addresses.city']],
      { active_test: false },
    );
    const partyById = new Map(parties.map((p) => [String(p.id), p]));
    for (const a of expected) {
      const party = partyById.get(bindings.get(String(a.id))!.targetKey);
      expect({ id: a.id, name: party?.name, city: party?.['addresses.'][0]?.city?.toLowerCase() }).toEqual({
        id: a.id,
        name: a.company_name.trim(),
        city: a.city.trim().toLowerCase(),
      });
    }
  });
});

function pick(o: Record<string, string> | undefined, keys: string[]): Record<string, string | undefined> {
  return Object.fromEntries(keys.map((k) => [k, o?.[k]]));
}
