/**
 * The operator CLI against a real dev server, demo databases and state store: every command,
 * its exit codes and --json, and the quarantine replay after a mapping fix (item 3 of issue 11).
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { TASK_QUEUES } from '../../contracts/queues';
import type { SyncResult } from '../../contracts/sync';
import { runCli, type CliDeps } from '../../cli/program';
import { compileMapping } from '../../mappings/dsl/compile';
import { seedDemo } from '../../demo/seed';
import { openSqliteStateStore } from '../../state/sqlite-store';
import type { StateStore } from '../../state/types';
import { parseWorkerEnv } from '../../workers/config';
import { applySchedules, loadScheduleEntries } from '../../workers/schedules';
import { createSyncWorkers, type SyncWorkers } from '../../workers/worker';
import { demoDbs, queryDb } from '../helpers/demo-env';
import { ROOT, startDevEnv, type DevEnv } from '../helpers/env';

jest.setTimeout(240_000);

let env: DevEnv;
let dir: string;
let store: StateStore;
let n = 0;
const SHIPPED_MAPPINGS = path.join(ROOT, 'mappings/definitions');
const MAPPING = 'crm-account-to-customer.json';

/** Sync workers over the demo data in `dir` with the mapping definitions of `mappingsDir`. */
async function workersWith(mappingsDir: string): Promise<{ sync: SyncWorkers; running: Promise<void>; stop(): Promise<void> }> {
  const sync = await createSyncWorkers({
    connection: env.nativeConnection,
    namespace: 'default',
    families: ['sql'],
    mappingsDir,
    stateDb: path.join(dir, 'state.db'),
    env: { DEMO_DATA_DIR: dir },
    workflowBundle: env.workflowBundle,
  });
  const running = sync.run();
  return {
    sync,
    running,
    async stop() {
      sync.shutdown();
      await running;
    },
  };
}

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

const sync = (pipeline: string, extra: Record<string, unknown> = {}): Promise<SyncResult> =>
  env.client.workflow.execute('syncPipeline', { taskQueue: TASK_QUEUES.sql, workflowId: `cli-${pipeline}-${++n}`, args: [{ pipeline, ...extra }] });

/** Poll `fn` until it returns a value (visibility is eventually consistent); fails after `ms`. */
async function eventually<T>(fn: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 200));
  }
}

let badDir: string;
let first: SyncResult;
let workers: Awaited<ReturnType<typeof workersWith>>;

beforeAll(async () => {
  env = await startDevEnv();
  dir = path.join(env.tmp, 'demo');
  seedDemo(dir, { accounts: 400, contacts: 600, products: 0 });
  // A mapping with a gap: the tier lookup lacks "MM", so every mid-market account is quarantined.
  badDir = path.join(env.tmp, 'mappings-bad');
  cpSync(SHIPPED_MAPPINGS, badDir, { recursive: true });
  const def = JSON.parse(readFileSync(path.join(badDir, MAPPING), 'utf8')) as { lookups: { tiers: Record<string, string> } };
  delete def.lookups.tiers.MM;
  writeFileSync(path.join(badDir, MAPPING), JSON.stringify(def));
  workers = await workersWith(badDir);
  store = openSqliteStateStore(path.join(dir, 'state.db'));
  first = await sync('demo-accounts');
});

afterAll(async () => {
  await workers?.stop();
  await store?.close();
  await env?.teardown();
});

describe('runs and report', () => {
  test('runs lists the run reports; report prints one as text with its quarantine by rule', async () => {
    const runs = await cli('runs', 'demo-accounts');
    expect(runs.code).toBe(0);
    expect(runs.out.split('\n')[0]).toMatch(/^sync\s+status\s+finished\s+took\s+read\s+created/);
    expect(runs.out).toContain(first.syncId);
    const j = JSON.parse((await cli('runs', 'demo-accounts', '--json')).out) as { syncId: string; totals: Record<string, number> }[];
    expect(j.find((r) => r.syncId === first.syncId)?.totals).toEqual(first.totals);

    const report = await cli('report', first.syncId.split('@')[0]!);
    expect(report.code).toBe(0);
    expect(report.out).toContain(`sync      ${first.syncId}`);
    expect(report.out).toContain('status    completed');
    expect(report.out).toContain(`read ${first.totals.read}  created ${first.totals.created}`);
    expect(report.out).toMatch(/still quarantined from this sync: \d+/);
    expect(report.out).toMatch(/phone\s+phoneE164\s+\d+\s+#\d+: phone: /);

    expect(await cli('runs', 'demo-products')).toMatchObject({ code: 3 });
    expect(await cli('report', 'sync:nothing')).toMatchObject({ code: 3 });
  });
});

describe('quarantine', () => {
  test('list shows reason, field, rule, attempts, first/last seen, filtered by pipeline, rule and field', async () => {
    const all = await cli('quarantine', 'list', '-p', 'demo-accounts', '--limit', '10000', '--json');
    expect(all.code).toBe(0);
    const rows = JSON.parse(all.out) as { sourceKey: string; rule: string; field: string; attempts: number; firstSeenAt: string; lastSeenAt: string; reason: string }[];
    expect(rows).toHaveLength(first.totals.quarantined);
    const lookups = rows.filter((r) => r.rule === 'lookup');
    expect(lookups.length).toBeGreaterThan(10);
    expect(lookups[0]).toMatchObject({ field: 'segment', attempts: 1 });
    expect(lookups[0]!.reason).toMatch(/"MM" is not in lookup table "tiers"/);

    const byRule = JSON.parse((await cli('quarantine', 'list', '-p', 'demo-accounts', '-r', 'lookup', '-n', '10000', '--json')).out) as typeof rows;
    expect(byRule.map((r) => r.sourceKey).sort()).toEqual(lookups.map((r) => r.sourceKey).sort());
    const byField = JSON.parse((await cli('quarantine', 'list', '--field', 'phone', '-n', '10000', '--json')).out) as typeof rows;
    expect(byField.length).toBeGreaterThan(0);
    expect(byField.every((r) => r.field === 'phone')).toBe(true);

    const text = await cli('quarantine', 'list', '-p', 'demo-accounts', '-r', 'lookup', '-n', '3');
    expect(text.out.split('\n')[0]).toMatch(/^pipeline\s+key\s+stage\s+field\s+rule\s+attempts\s+first seen\s+last seen\s+reason$/);
    expect(text.out).toMatch(/demo-accounts\s+\d+\s+map\s+segment\s+lookup\s+1\s+\d{4}-/);
    expect(text.out).toMatch(/more entries than --limit 3/);

    // Nothing matched is an empty list (exit 0); a pipeline that is not configured is not found (exit 3).
    expect(await cli('quarantine', 'list', '-p', 'demo-accounts', '-r', 'no-such-rule')).toMatchObject({ code: 0, out: 'no open quarantine entries match\n' });
    expect(await cli('quarantine', 'list', '-p', 'no-such-pipeline', '--json')).toMatchObject({ code: 3, out: '' });
  });

  test('show prints one entry with its raw record; an unknown key exits 3', async () => {
    const [q] = await store.listQuarantine('demo-accounts', 1, { rule: 'lookup' });
    const shown = await cli('quarantine', 'show', 'demo-accounts', q!.sourceKey);
    expect(shown.code).toBe(0);
    expect(shown.out).toContain(`key         ${q!.sourceKey}`);
    expect(shown.out).toContain('"tier": "MM"');
    expect(await cli('quarantine', 'show', 'demo-accounts', 'no-such-key')).toMatchObject({ code: 3 });
  });

  test('after the mapping is fixed, replay releases exactly the records the fix fixes; the others get attempts + 1', async () => {
    const before = await store.listQuarantine('demo-accounts', 10_000);
    // The oracle: which of them the shipped (fixed) mapping maps without issues.
    const fixed = compileMapping(JSON.parse(readFileSync(path.join(SHIPPED_MAPPINGS, MAPPING), 'utf8')), MAPPING);
    const fixable = new Set(before.filter((q) => fixed.apply(q.record as Record<string, unknown>).ok).map((q) => q.sourceKey));
    expect(fixable.size).toBeGreaterThan(10);
    expect(fixable.size).toBeLessThan(before.length);

    await workers.stop();
    workers = await workersWith(SHIPPED_MAPPINGS);

    const replay = await cli('quarantine', 'replay', '--pipeline', 'demo-accounts', '--json');
    expect(replay.err).toBe('');
    expect(replay.code).toBe(0);
    const result = JSON.parse(replay.out) as { released: number; totals: Record<string, number> };
    expect(result.totals).toMatchObject({ selected: before.length, read: before.length, missing: 0, created: fixable.size, quarantined: before.length - fixable.size });
    expect(result.released).toBe(fixable.size);

    const after = await store.listQuarantine('demo-accounts', 10_000);
    expect(after.map((q) => q.sourceKey).sort()).toEqual(before.filter((q) => !fixable.has(q.sourceKey)).map((q) => q.sourceKey).sort());
    expect(after.every((q) => q.attempts === 2)).toBe(true);
    // written, as the fixed mapping says
    const { erp } = demoDbs(dir);
    const written = queryDb<{ external_key: string; segment: string }>(erp, `SELECT external_key, segment FROM customers WHERE external_key IN (${[...fixable].map(() => '?').join(',')})`, ...fixable);
    expect(written).toHaveLength(fixable.size);
    expect(new Set(written.map((w) => w.segment))).toEqual(new Set(['mid-market']));

    // Nothing left that the rule matches: exit 3, no workflow started.
    expect(await cli('quarantine', 'replay', '-p', 'demo-accounts', '--rule', 'lookup')).toMatchObject({ code: 3 });
    // The human text form of a replay with keys.
    const k = after[0]!.sourceKey;
    const text = await cli('quarantine', 'replay', '-p', 'demo-accounts', k);
    expect(text.out).toMatch(/^replayed 1 quarantined record\(s\) of demo-accounts \(replay:demo-accounts:.*\): 0 released \(0 created, 0 updated, 0 unchanged\), 1 still quarantined, 0 no longer in the source\n$/);
  });

  test('dismiss closes entries with a reason and needs keys or a filter', async () => {
    const open = await store.listQuarantine('demo-accounts', 10_000);
    const key = open[0]!.sourceKey;
    expect(await cli('quarantine', 'dismiss', '-p', 'demo-accounts', '--reason', 'test account')).toMatchObject({ code: 2 });
    const d = await cli('quarantine', 'dismiss', '-p', 'demo-accounts', '--reason', 'test account', key);
    expect(d).toMatchObject({ code: 0, out: `dismissed 1 entry of demo-accounts (by test-operator: test account)\n` });
    expect((await store.listQuarantine('demo-accounts', 10_000)).map((q) => q.sourceKey)).not.toContain(key);
    expect(await cli('quarantine', 'dismiss', '-p', 'demo-accounts', '--reason', 'again', key)).toMatchObject({ code: 3 });
    expect(await cli('quarantine', 'replay', '-p', 'demo-accounts', key)).toMatchObject({ code: 3 });
  });

  test('replay of an unknown pipeline exits 3; of a pair, 2', async () => {
    expect(await cli('quarantine', 'replay', '-p', 'no-such-pipeline')).toMatchObject({ code: 3 });
    expect(await cli('quarantine', 'replay', '-p', 'demo-customers')).toMatchObject({ code: 2 });
  });
});

describe('status and schedules', () => {
  test('status shows a paused sync with its live progress and recent ones with their outcome', async () => {
    const handle = await env.client.workflow.start('syncPipeline', {
      taskQueue: TASK_QUEUES.sql,
      workflowId: 'cli-status-contacts',
      args: [{ pipeline: 'demo-contacts', pageSize: 100 }],
    });
    await handle.signal('pause', { by: 'test', reason: 'look at it' });
    await eventually(async () => ((await handle.query<{ status: string }>('progress')).status === 'paused' ? true : undefined));
    const shown = await eventually(async () => {
      const r = await cli('status', '--json');
      const j = JSON.parse(r.out) as { running: { workflowId: string; status: string; counts: { read?: number } }[]; recent: { workflowId: string; status: string; pipeline: string }[] };
      return j.running.some((w) => w.workflowId === 'cli-status-contacts') && j.recent.some((w) => w.workflowId === 'cli-demo-accounts-1') ? j : undefined;
    });
    const live = shown.running.find((w) => w.workflowId === 'cli-status-contacts')!;
    expect(live.status).toBe('paused');
    expect(live.counts.read).toBeGreaterThan(0);
    expect(shown.recent.find((w) => w.workflowId === 'cli-demo-accounts-1')).toMatchObject({ status: 'completed', pipeline: 'demo-accounts' });

    const text = await cli('status', '-p', 'demo-contacts');
    expect(text.code).toBe(0);
    expect(text.out).toMatch(/running \(1\)\nworkflow\s+type\s+pipeline\s+status\s+step\s+read/);
    expect(text.out).toMatch(/cli-status-contacts\s+syncPipeline\s+demo-contacts\s+paused\s+paused\s+\d+/);
    await handle.signal('cancel', { by: 'test' });
    await handle.result();
  });

  test('schedules lists what npm run schedules created', async () => {
    expect((await cli('schedules')).out).toMatch(/^no schedules/);
    await applySchedules(env.client, loadScheduleEntries(path.join(ROOT, 'config')));
    const j = JSON.parse((await cli('schedules', '--json')).out) as { scheduleId: string; workflowType: string; paused: boolean }[];
    expect(j.find((s) => s.scheduleId === 'pipeline:demo-accounts')).toMatchObject({ workflowType: 'syncPipeline', paused: true });
    const text = await cli('schedules');
    expect(text.out).toMatch(/pipeline:demo-accounts\s+syncPipeline\s+every 15 min 00 s\s+paused/);
  });
});

describe('the bin', () => {
  test('npx crm-erp-sync: help exits 0, bad usage 2, an unreachable Temporal 1', () => {
    const run = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
      spawnSync(process.execPath, [path.join(ROOT, 'bin/crm-erp-sync.mjs'), ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ENV_FILE: '', DEMO_DATA_DIR: dir, ...extra }, timeout: 60_000 });
    expect(run(['--help']).status).toBe(0);
    const bad = run(['quarantine', 'replay']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/required option '-p, --pipeline <name>' not specified/);
    expect(run(['runs', 'demo-accounts', '--limit', 'x']).status).toBe(2);
    const ok = run(['runs', 'demo-accounts', '--json']);
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout)).toEqual(expect.arrayContaining([expect.objectContaining({ syncId: first.syncId })]));
    const down = run(['status'], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
    expect(down.status).toBe(1);
    expect(down.stderr).toMatch(/cannot reach Temporal at 127.0.0.1:1/);
  });
});
