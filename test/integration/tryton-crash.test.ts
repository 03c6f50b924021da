import path from 'node:path';
import type { TrytonClient } from '../../connectors/tryton/client';
import { TASK_QUEUES } from '../../contracts/queues';
import { type SyncResult } from '../../contracts/sync';
import { seedDemo } from '../../demo/seed';
import { startTryton, type TrytonInstance } from '../../scripts/tryton';
import { adminClient } from '../../scripts/tryton/admin-helpers';
import { openSqliteStateStore } from '../../state/sqlite-store';
import { loadRegistry } from '../../pipelines/load';
import { linkedTargets } from '../helpers/links';
import { killWhileRunning, resultWithin } from '../helpers/crash';
import { demoDbs, queryDb, trytonVars } from '../helpers/demo-env';
import { startDevEnv, type DevEnv } from '../helpers/env';
import { spawnWorker, stopAllWorkers } from '../helpers/worker-process';

jest.setTimeout(300_000);

const ACCOUNTS = 1200;
let env: DevEnv;
let tryton: TrytonInstance;
let admin: TrytonClient;

beforeAll(async () => {
  [env, tryton] = await Promise.all([startDevEnv(), startTryton()]);
  admin = adminClient(tryton);
});
afterAll(async () => {
  await stopAllWorkers();
  await admin?.logout();
  await tryton?.stop();
  await env?.teardown();
});

async function partyCodes(): Promise<string[]> {
  const rows = await admin.model<{ code: string }[]>('party.party', 'search_read', [[['code', 'like', 'CRM-%']], 0, null, null, ['code']], { active_test: false });
  return rows.map((r) => r.code);
}

type Party = { id: number; name: string; active: boolean | number };
/** Every party in Tryton (whatever its code: a duplicate with another code would show here too). */
async function allParties(): Promise<Party[]> {
  return admin.model<Party[]>('party.party', 'search_read', [[], 0, null, null, ['name', 'active']], { active_test: false });
}

test('a worker SIGKILLed while writing into Tryton is replaced; the sync completes with exactly one party per valid customer, with its values', async () => {
  const dir = path.join(env.tmp, 'demo');
  seedDemo(dir, { accounts: ACCOUNTS, contacts: 0, products: 0 });
  const workerEnv = {
    TEMPORAL_ADDRESS: env.server.address,
    DEMO_DATA_DIR: dir,
    SYNC_STATE_DB: path.join(dir, 'state.db'),
    WORKER_FAMILIES: 'tryton',
    ...trytonVars(tryton),
  };
  const before = await allParties();
  const maxIdBefore = Math.max(0, ...before.map((p) => p.id));

  const first = spawnWorker(workerEnv);
  await first.ready;
  const handle = await env.client.workflow.start('syncPipeline', {
    taskQueue: TASK_QUEUES.tryton,
    workflowId: 'tryton-crash-test',
    args: [{ pipeline: 'tryton-customers', pageSize: 100 }],
  });
  // Kill it (verified gone) while a page's write into Tryton runs in it: a batch may be committed, its links not yet.
  // Held back until three pages' worth of parties are in Tryton (asked every 10 ms only until then).
  const kill = await killWhileRunning(handle, first, workerEnv, ['writePage'], { ready: async () => (await partyCodes()).length >= 300 });
  expect(kill.inFlight.type).toBe('writePage');
  const atKill = (await partyCodes()).length;
  expect(atKill).toBeGreaterThan(0);
  expect(atKill).toBeLessThan(ACCOUNTS * 0.8);

  spawnWorker(workerEnv);
  const result = await resultWithin<SyncResult>(handle, 200_000); // a hang says where it stands
  expect(result.status).toBe('completed');
  expect(result.totals.read).toBeGreaterThanOrEqual(ACCOUNTS);

  const store = openSqliteStateStore(path.join(dir, 'state.db'));
  const registry = loadRegistry({ env: { DEMO_DATA_DIR: dir } });
  const quarantine = await store.listQuarantine('tryton-customers', 100_000);
  const bindings = await linkedTargets(store, registry, 'tryton-customers', Array.from({ length: ACCOUNTS }, (_, i) => String(i + 1)));
  await store.close();
  // nothing was refused as a duplicate: the record in flight was found by its code and updated
  expect(quarantine.filter((q) => q.rule === 'Conflict')).toEqual([]);
  const quarantined = new Set(quarantine.map((q) => q.sourceKey));

  // The source through the pipeline's own mapping: what each valid customer must look like.
  const mapping = registry.mappings.get(registry.pipelines.get('tryton-customers')!.mapping)!;
  const expected = new Map<string, { name: string; active: boolean }>();
  for (const row of queryDb<Record<string, unknown>>(demoDbs(dir).crm, 'SELECT * FROM accounts')) {
    const m = mapping.apply(row);
    const key = String(row.id);
    if (m.ok && !quarantined.has(key)) expected.set(key, { name: m.value.name as string, active: m.value.active as boolean });
    else expect([key, quarantined.has(key)]).toEqual([key, true]);
  }
  expect(expected.size).toBeGreaterThan(ACCOUNTS * 0.8);

  // Exactly one new party per valid customer (counted over all parties, not over a unique code),
  // each bound to its source key and carrying the source's values.
  const created = (await allParties()).filter((p) => p.id > maxIdBefore);
  expect(created).toHaveLength(expected.size);
  const byId = new Map(created.map((p) => [String(p.id), p]));
  const mismatches: string[] = [];
  for (const [key, want] of expected) {
    const party = bindings.has(key) ? byId.get(bindings.get(key)!.targetKey) : undefined;
    if (!party) mismatches.push(`${key}: no party bound`);
    else if (party.name !== want.name || Boolean(party.active) !== want.active) mismatches.push(`${key}: ${JSON.stringify(party)} != ${JSON.stringify(want)}`);
  }
  expect(mismatches).toEqual([]);
  const codes = await partyCodes();
  expect(new Set(codes).size).toBe(codes.length);
});
