/**
 * Dry run → apply on the real dev server with the demo's SQLite CRM and ERP (issue 11, item 2):
 * after `--touch 100` a dry run lists exactly those updates with their changed fields and writes
 * nothing (ERP, checkpoint and links compared before/after); apply writes exactly them; a record
 * edited in the ERP between plan and apply is reported, not overwritten; the next incremental sync
 * neither redoes nor echoes the applied writes, and still picks up a source change made after the plan.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { WorkflowFailedError } from '@temporalio/client';
import type { ApplyPlanResult } from '../../contracts/plan';
import { TASK_QUEUES } from '../../contracts/queues';
import type { SyncResult } from '../../contracts/sync';
import { seedDemo, touchAccounts } from '../../demo/seed';
import { openSqliteStateStore } from '../../state/sqlite-store';
import type { StateStore } from '../../state/types';
import { demoDbs, queryDb, syncWorkersFor } from '../helpers/demo-env';
import { activityIdentities } from '../helpers/run-chain';
import { startDevEnv, type DevEnv } from '../helpers/env';
import type { SyncWorkers } from '../../workers/worker';
import { runCli, type CliDeps } from '../../cli/program';
import { parseWorkerEnv } from '../../workers/config';
import { ROOT } from '../helpers/env';

jest.setTimeout(240_000);

let env: DevEnv;
let dir: string;
let store: StateStore;
let workers: SyncWorkers;
let running: Promise<void>;
let n = 0;

const sync = (extra: Record<string, unknown> = {}): Promise<SyncResult> =>
  env.client.workflow.execute('syncPipeline', { taskQueue: TASK_QUEUES.sql, workflowId: `dry-${++n}`, args: [{ pipeline: 'demo-accounts', ...extra }] });
const apply = (input: Record<string, unknown>): Promise<ApplyPlanResult> =>
  env.client.workflow.execute('applyPlan', { taskQueue: TASK_QUEUES.sql, workflowId: `apply-${++n}`, args: [input] });

type Row = Record<string, unknown>;
const erpRows = (): Row[] => queryDb(demoDbs(dir).erp, 'SELECT * FROM customers ORDER BY id');
const byExternalKey = (rows: Row[]) => new Map(rows.map((r) => [String(r.external_key), r]));
const allLinks = async () => store.listLinks('demo-accounts', { limit: 100_000 });
/** Every table of the state store but the plans', row by row (a dry run writes its plan and nothing else). */
const stateDump = (): Record<string, Row[]> => {
  const file = path.join(dir, 'state.db');
  const tables = queryDb<{ name: string }>(file, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('plans', 'plan_items') ORDER BY name");
  return Object.fromEntries(tables.map((t) => [t.name, queryDb(file, `SELECT * FROM "${t.name}" ORDER BY 1, 2`)]));
};
const editErp = (sql: string, ...params: unknown[]) => {
  const db = new Database(demoDbs(dir).erp);
  try {
    db.prepare(sql).run(...params);
  } finally {
    db.close();
  }
};

beforeAll(async () => {
  env = await startDevEnv();
  dir = path.join(env.tmp, 'demo');
  seedDemo(dir, { accounts: 1050, contacts: 0, products: 0 });
  workers = await syncWorkersFor(env, dir, ['sql']);
  running = workers.run();
  store = openSqliteStateStore(path.join(dir, 'state.db'));
});

afterAll(async () => {
  workers?.shutdown();
  await running;
  await store?.close();
  await env?.teardown();
});

test('a dry run after --touch 100 plans exactly those updates and writes nothing; apply writes exactly them and reports what changed meanwhile', async () => {
  const first = await sync();
  expect(first.totals.created).toBeGreaterThan(900);
  const touched = touchAccounts(dir, 100).map(String);
  expect(touched).toHaveLength(100);
  // touchAccounts changes only accounts the first sync wrote (not those quarantined for the demo's
  // defects), so all 100 are updates.
  const synced = byExternalKey(erpRows());
  const expected = touched.filter((k) => synced.has(k)).sort();
  expect(expected).toEqual([...touched].sort());

  // A few accounts the first sync quarantined (the demo's defects) change too: the dry run reads them again.
  const refusedKeys = (await store.listQuarantine('demo-accounts', 10_000)).map((q) => q.sourceKey).slice(0, 3).sort();
  expect(refusedKeys).toHaveLength(3);
  const crmDb = new Database(demoDbs(dir).crm);
  for (const k of refusedKeys) crmDb.prepare('UPDATE accounts SET updated_at = ? WHERE id = ?').run(new Date().toISOString(), Number(k));
  crmDb.close();

  const erpBefore = erpRows();
  const checkpointBefore = await store.getCheckpoint('demo-accounts');
  const linksBefore = await allLinks();
  const quarantineBefore = await store.listQuarantine('demo-accounts', 10_000);
  const reportsBefore = await store.listRunReports('demo-accounts', 1000);
  const stateBefore = stateDump();
  expect(quarantineBefore.filter((q) => refusedKeys.includes(q.sourceKey)).map((q) => q.stage)).toEqual(refusedKeys.map(() => 'map'));

  // ── the dry run ──
  const dry = await sync({ mode: 'dry-run' });
  expect(dry.status).toBe('completed');
  expect(dry.mode).toBe('dry-run');
  expect(dry.totals).toMatchObject({ created: 0, updated: 0 });
  expect(dry.plan).toMatchObject({ kind: 'pipeline', name: 'demo-accounts', counts: { creates: 0, updates: expected.length, deletes: 0, conflicts: 0 } });
  const { planId, planHash } = dry.plan!;
  expect(planId).toMatch(/^plan-[0-9a-f]{16}$/);
  expect(planHash).toMatch(/^[0-9a-f]{16}$/);
  // Nothing written anywhere: the ERP row by row, the checkpoint, the links.
  expect(erpRows()).toEqual(erpBefore);
  expect(await store.getCheckpoint('demo-accounts')).toEqual(checkpointBefore);
  expect(await allLinks()).toEqual(linksBefore);
  // ... nor in the state store: no quarantine entry (not even its attempts), run report, run event
  // or link refresh; every table but the plans' is as it was, row by row.
  expect(await store.listQuarantine('demo-accounts', 10_000)).toEqual(quarantineBefore);
  expect(await store.listRunReports('demo-accounts', 1000)).toEqual(reportsBefore);
  expect(await store.getRunReport(dry.syncId)).toBeNull();
  expect(await store.listRunEvents(dry.syncId)).toEqual([]);
  expect(stateDump()).toEqual(stateBefore);

  // The plan: exactly the touched (synced) accounts, each with its changed fields before → after,
  // and the touched accounts the mapping refuses as quarantine items with the quarantine's reason.
  const planned = await store.listPlanItems(planId, { limit: 10_000 });
  // (The pipeline's 60 s lookback also re-reads some accounts the first sync quarantined: the same.)
  const refused = planned.filter((i) => i.op === 'quarantine');
  expect(dry.plan!.counts.quarantined).toBe(refused.length);
  expect(refused.map((i) => i.key).filter((k) => refusedKeys.includes(k)).sort()).toEqual(refusedKeys);
  for (const i of refused) {
    const q = quarantineBefore.find((e) => e.sourceKey === i.key)!;
    expect(i.data).toMatchObject({ stage: 'map', field: q.field, rule: q.rule, reason: q.reason });
  }
  const items = planned.filter((i) => i.op !== 'quarantine');
  expect(items.map((i) => i.key).sort()).toEqual(expected);
  for (const i of items) {
    expect(i.op).toBe('update');
    const changes = i.data.changes as { field: string; before: unknown; after: unknown }[];
    const city = changes.find((c) => c.field === 'address.city');
    expect(city).toEqual({ field: 'address.city', before: erpBefore.find((r) => r.external_key === i.key)!.city, after: `Changed City ${i.key}` });
    const credit = changes.find((c) => c.field === 'creditLimit.amountMinor');
    expect(typeof credit?.after).toBe('number'); // 1000 + id in the account's currency, in its minor units
    // The currency column changes too where the account had no credit limit before (null → its currency).
    const old = erpBefore.find((r) => r.external_key === i.key)!;
    const allowed = old.credit_limit_minor === null ? ['address.city', 'creditLimit.amountMinor', 'creditLimit.currency'] : ['address.city', 'creditLimit.amountMinor'];
    expect(changes.map((c) => c.field).filter((f) => !allowed.includes(f))).toEqual([]);
  }
  expect(await store.getPlan(planId)).toMatchObject({ status: 'ready', planHash });

  // ── between plan and apply: the ERP edits one planned record, the CRM changes another account ──
  const edited = expected[3]!;
  editErp('UPDATE customers SET city = ?, updated_at = ? WHERE external_key = ?', 'Edited In ERP', new Date().toISOString(), edited);
  const later = [...synced.keys()].find((k) => !touched.includes(k))!;
  const crm = new Database(demoDbs(dir).crm);
  crm.prepare('UPDATE accounts SET city = ?, updated_at = ? WHERE id = ?').run('Changed After Plan', new Date(Date.now() + 1000).toISOString(), Number(later));
  crm.close();

  // ── apply: a wrong hash is refused before anything is written ──
  await expect(apply({ planId, planHash: '0000000000000000' })).rejects.toThrow(WorkflowFailedError);
  expect(erpRows().filter((r) => r.city === 'Edited In ERP')).toHaveLength(1);

  const applied = await apply({ planId, planHash, chunkSize: 40 });
  expect(applied).toMatchObject({ status: 'applied', planId, planHash, checkpoint: 'advanced' });
  expect(applied.totals).toEqual({ written: expected.length - 1, created: 0, updated: expected.length - 1, alreadyApplied: 0, changedMeanwhile: 1, quarantined: refused.length });
  expect(applied.changedMeanwhile).toEqual([edited]);
  // Apply quarantines what the plan refused, as the sync would have: one more attempt each, under the apply.
  const quarantineAfter = await store.listQuarantine('demo-accounts', 10_000);
  for (const k of refused.map((i) => i.key)) {
    const [was, now] = [quarantineBefore, quarantineAfter].map((l) => l.find((q) => q.sourceKey === k)!);
    expect({ attempts: now!.attempts, syncId: now!.syncId }).toEqual({ attempts: was!.attempts + 1, syncId: applied.applyId });
  }
  expect(quarantineAfter.map((q) => q.sourceKey).sort()).toEqual(quarantineBefore.map((q) => q.sourceKey).sort());

  const erpAfter = byExternalKey(erpRows());
  const before = byExternalKey(erpBefore);
  for (const [key, row] of erpAfter) {
    const old = before.get(key)!;
    if (key === edited) expect(row.city).toBe('Edited In ERP'); // reported, not overwritten
    else if (expected.includes(key)) {
      expect(row.city).toBe(`Changed City ${key}`);
      const planned = items.find((i) => i.key === key)!.data.changes as { field: string; after: unknown }[];
      expect(row.credit_limit_minor).toBe(planned.find((c) => c.field === 'creditLimit.amountMinor')!.after);
      expect({ ...row, city: old.city, credit_limit_minor: old.credit_limit_minor, credit_currency: old.credit_currency, updated_at: old.updated_at }).toEqual(old);
    } else expect(row).toEqual(old); // exactly the plan: nothing else was written
  }
  const report = await store.getRunReport(applied.applyId);
  expect(report?.totals).toMatchObject({ written: expected.length - 1, changedMeanwhile: 1 });
  const events = await store.listRunEvents(applied.applyId);
  expect(events.filter((e) => e.kind === 'conflict').map((e) => (e.data.keys as { source: string }).source)).toEqual([edited]);
  expect(events.filter((e) => e.kind === 'change')).toHaveLength(expected.length - 1);

  // A plan is applied once.
  await expect(apply({ planId })).rejects.toThrow(WorkflowFailedError);

  // ── the next incremental sync: no redo, no echo; the change made after the plan is synced ──
  // It re-reads the plan's records (the pipeline's 60 s lookback): the applied ones are unchanged
  // through their links; the one the apply left alone is planned again like any sync would (a
  // one-way pipeline's source owns its fields), and the account changed after the plan is written.
  const next = await sync();
  expect(next.totals).toMatchObject({ created: 0, updated: 2 });
  expect(next.totals.unchanged).toBe(next.totals.read - 2 - next.totals.quarantined);
  expect(byExternalKey(erpRows()).get(later)!.city).toBe('Changed After Plan');
  expect(byExternalKey(erpRows()).get(edited)!.city).toBe(`Changed City ${edited}`);
});

test('a dry run with nothing to change stores an empty plan; applying it writes nothing and keeps the links', async () => {
  // An account changed in the CRM whose ERP row already holds the new value (another flow wrote it):
  // its link is out of date, but writing it would change nothing, so it is not in the plan.
  const [noop] = [...byExternalKey(erpRows()).keys()];
  editErp('UPDATE customers SET city = ? WHERE external_key = ?', 'Same On Both Sides', noop);
  const crm = new Database(demoDbs(dir).crm);
  crm.prepare('UPDATE accounts SET city = ?, updated_at = ? WHERE id = ?').run('Same On Both Sides', new Date(Date.now() + 1000).toISOString(), Number(noop));
  crm.close();
  const dry = await sync({ mode: 'dry-run' });
  expect(dry.totals.read).toBeGreaterThan(0); // the changed account was read and planned
  expect(dry.plan?.counts).toMatchObject({ creates: 0, updates: 0, deletes: 0, conflicts: 0 });
  const rows = erpRows();
  const applied = await apply({ planId: dry.plan!.planId });
  expect(applied.totals.written).toBe(0);
  expect(erpRows()).toEqual(rows);
});

test('applyPlan continues as new every chunksPerRun chunks, carrying its position, and still writes exactly the plan', async () => {
  await sync(); // settle the lookback window
  const keys = [...byExternalKey(erpRows()).keys()].slice(200, 230);
  const crm = new Database(demoDbs(dir).crm);
  const at = new Date(Date.now() + 2000).toISOString();
  for (const k of keys) crm.prepare('UPDATE accounts SET city = ?, updated_at = ? WHERE id = ?').run(`Chained City ${k}`, at, Number(k));
  crm.close();
  const before = byExternalKey(erpRows());
  const dry = await sync({ mode: 'dry-run' });
  const items = await store.listPlanItems(dry.plan!.planId, { limit: 10_000 });
  expect(items.filter((i) => i.op === 'update').map((i) => i.key).sort()).toEqual([...keys].sort());

  const chunkSize = 4;
  const chunksPerRun = 2;
  const handle = await env.client.workflow.start('applyPlan', { taskQueue: TASK_QUEUES.sql, workflowId: `apply-chain-${++n}`, args: [{ planId: dry.plan!.planId, chunkSize, chunksPerRun }] });
  const applied = (await handle.result()) as ApplyPlanResult;
  // Chunks: every full chunk says "more" (the last one may be empty); a run ends after chunksPerRun of them.
  const chunks = Math.floor(items.length / chunkSize) + 1;
  const { runs } = await activityIdentities(env.client, handle.workflowId, handle.firstExecutionRunId); // the continue-as-new chain
  expect(runs).toBe(1 + Math.floor((chunks - 1) / chunksPerRun));
  expect(runs).toBeGreaterThan(3);
  expect(applied).toMatchObject({ status: 'applied', runs, checkpoint: 'advanced', applyId: `${handle.workflowId}@${handle.firstExecutionRunId}` });
  expect(applied.totals).toMatchObject({ written: keys.length, updated: keys.length, created: 0, changedMeanwhile: 0, alreadyApplied: 0 });
  expect((await store.getRunReport(applied.applyId))?.totals).toMatchObject({ written: keys.length });
  expect((await store.listRunEvents(applied.applyId)).filter((e) => e.kind === 'change').map((e) => e.data.sourceKey).sort()).toEqual([...keys].sort());
  // Exactly the plan: its records got their new city, every other row is as it was.
  for (const [key, row] of byExternalKey(erpRows())) {
    if (keys.includes(key)) expect(row.city).toBe(`Chained City ${key}`);
    else expect(row).toEqual(before.get(key));
  }
});

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const deps: CliDeps = {
    env: parseWorkerEnv({ DEMO_DATA_DIR: dir, TEMPORAL_ADDRESS: env.server.address, SYNC_CONFIG_DIR: path.join(ROOT, 'config') }),
    stdout: (t) => (out += t),
    stderr: (t) => (err += t),
    client: async () => env.client,
    store: () => store,
    user: 'test-operator',
  };
  const code = await runCli(argv, deps);
  return { code, out, err };
}

describe('the CLI', () => {
  test('plan prints the dry run as a table (key, operation, field, before -> after); apply writes it and prints the counts', async () => {
    await sync(); // settle the lookback window: what the tests above left is synced
    const keys = ['5', '6', '7'];
    const crm = new Database(demoDbs(dir).crm);
    const at = new Date(Date.now() + 2000).toISOString();
    for (const k of keys) crm.prepare('UPDATE accounts SET city = ?, updated_at = ? WHERE id = ?').run(`Cli City ${k}`, at, Number(k));
    crm.close();
    const before = byExternalKey(erpRows());

    const plan = await cli('plan', 'demo-accounts');
    expect(plan.err).toBe('');
    expect(plan.code).toBe(0);
    const planId = /plan (plan-[0-9a-f]{16}) of demo-accounts \(hash ([0-9a-f]{16})/.exec(plan.out);
    expect(planId).not.toBeNull();
    expect(plan.out).toMatch(/: 0 creates, 3 updates, 0 deletes, 0 conflicts, (\d+) to quarantine; \d+ unchanged; nothing was written or quarantined\n/);
    // What the mapping refuses is listed with its field, rule and reason (the demo's bad phone numbers), and not quarantined.
    const refusing = /: 0 creates, 3 updates, 0 deletes, 0 conflicts, (\d+) to quarantine;/.exec(plan.out)!;
    const quarantine = new Map((await store.listQuarantine('demo-accounts', 10_000)).map((q) => [q.sourceKey, q]));
    const refusedRows = plan.out.split('would be quarantined (when applied):\n')[1]?.split('\n\n')[0]?.split('\n').slice(1) ?? [];
    expect(refusedRows).toHaveLength(Number(refusing[1]));
    for (const row of refusedRows) {
      const [key, field, rule] = row.split(/\s+/);
      expect(quarantine.get(key!)).toMatchObject({ field, rule });
    }
    expect(plan.out).toMatch(/^key\s+operation\s+field\s+before -> after$/m);
    const esc = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    for (const k of keys) expect(plan.out).toMatch(new RegExp(`^${k}\\s+update\\s+address\\.city\\s+${esc(String(before.get(k)!.city))} -> Cli City ${k}$`, 'm'));
    expect(plan.out).toContain(`apply it with: crm-erp-sync apply ${planId![1]}`);
    expect(erpRows().map((r) => r.city)).toEqual([...before.values()].map((r) => r.city)); // nothing written

    const limited = JSON.parse((await cli('plan', 'demo-accounts', '--json', '--limit', '2')).out) as {
      planId: string;
      counts: { updates: number; quarantined: number };
      items: { key: string; changes: { field: string }[] }[];
      more: number;
    };
    expect(limited.counts.updates).toBe(3);
    expect(limited.items.map((i) => i.key)).toHaveLength(2);
    expect(limited.more).toBe(1 + limited.counts.quarantined);
    const all = JSON.parse((await cli('plan', 'demo-accounts', '--json', '--limit', '100')).out) as { items: { key: string; op: string; field?: string; rule?: string; reason?: string }[] };
    const refusedJson = all.items.filter((i) => i.op === 'quarantine');
    expect(refusedJson.length).toBe(limited.counts.quarantined);
    for (const i of refusedJson) expect(i).toEqual({ key: i.key, op: 'quarantine', field: quarantine.get(i.key)!.field, rule: quarantine.get(i.key)!.rule, reason: quarantine.get(i.key)!.reason });
    expect(limited.items[0]!.changes.map((c) => c.field)).toEqual(['address.city']);

    editErp('UPDATE customers SET city = ? WHERE external_key = ?', 'Edited In ERP', '6');
    const applied = await cli('apply', planId![1]!, '--hash', planId![2]!);
    expect(applied.err).toBe('');
    expect(applied.code).toBe(0);
    expect(applied.out).toContain(`applied plan ${planId![1]} to demo-accounts (apply:${planId![1]}): written 2 (0 created, 2 updated), changed meanwhile 1 (not overwritten)`);
    expect(applied.out).toContain('changed in the target since the plan: 6 (see crm-erp-sync report apply:');
    expect(keys.map((k) => byExternalKey(erpRows()).get(k)!.city)).toEqual(['Cli City 5', 'Edited In ERP', 'Cli City 7']);

    // The second plan (--json above) planned the same writes: two are in the target already, one was edited.
    const stale = JSON.parse((await cli('apply', limited.planId, '--json')).out) as ApplyPlanResult;
    expect(stale.totals).toMatchObject({ written: 0, alreadyApplied: 2, changedMeanwhile: 1 });
    expect(stale.changedMeanwhile).toEqual(['6']);
  });

  test('exit codes: applied twice 1, unknown plan 3, not a plan id 2, unknown pipeline 3 (pairs: pair-dry-run.test.ts)', async () => {
    const dry = await sync({ mode: 'dry-run' });
    expect((await cli('apply', dry.plan!.planId)).code).toBe(0);
    const again = await cli('apply', dry.plan!.planId);
    expect(again.code).toBe(1);
    expect(again.err).toContain('already applied');
    expect((await cli('apply', 'plan-0000000000000000')).code).toBe(3);
    const bad = await cli('apply', 'demo-accounts');
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('plan-0123456789abcdef');
    expect((await cli('plan', 'no-such-pipeline')).code).toBe(3);
  });
});
