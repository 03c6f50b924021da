import { readFileSync } from 'node:fs';
import path from 'node:path';
import { TASK_QUEUES } from '../../contracts/queues';
import { PipelineSchema } from '../../pipelines/schema';
import { PipelineScheduleSchema } from '../../contracts/schedules';
import { ScheduleNotFoundError } from '@temporalio/client';
import { applySchedules, loadScheduleEntries, scheduleEntriesFromPipelines, type ScheduleEntry } from '../../workers/schedules';
import type { SyncWorkers } from '../../workers/worker';
import { Worker } from '@temporalio/worker';
import { demoWorkers } from '../helpers/demo-env';
import { ROOT, startDevEnv, type DevEnv } from '../helpers/env';

jest.setTimeout(240_000);

let env: DevEnv;
let workers: SyncWorkers;
let running: Promise<void>;
beforeAll(async () => {
  env = await startDevEnv();
  workers = await demoWorkers(env, path.join(env.tmp, 'demo'), { accounts: 300, contacts: 0, products: 0 });
  running = workers.run();
});
afterAll(async () => {
  workers?.shutdown();
  await running;
  await env?.teardown();
});

const pipelineFile = JSON.parse(readFileSync(path.join(ROOT, 'config/pipelines/demo-accounts.json'), 'utf8')) as Record<string, unknown>;
const scheduled = (interval: string) => scheduleEntriesFromPipelines([PipelineSchema.parse({ ...pipelineFile, schedule: { interval, overlap: 'skip', catchupWindow: '1 minute' } })]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('the project config parses: pipeline schedules and config/schedules.json', () => {
  expect(loadScheduleEntries(path.join(ROOT, 'config')).map((e) => [e.scheduleId, e.workflowType, e.taskQueue])).toContainEqual(['deal-watcher', 'dealWatcher', TASK_QUEUES.orders]);
  const bad = PipelineSchema.safeParse({ ...pipelineFile, schedule: { interval: '5 minutes', cron: '* * * * *' } });
  expect(bad.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([['schedule', 'expected exactly one of "interval", "cron" or "calendar"']]);
});

test('a schedule applied from config runs the pipeline; applying again changes nothing; pausing stops runs', async () => {
  const entries = scheduled('2 seconds');
  expect(await applySchedules(env.client, entries)).toMatchObject({ created: ['pipeline:demo-accounts'], updated: [], unchanged: [] });
  expect(await applySchedules(env.client, entries)).toMatchObject({ created: [], updated: [], unchanged: ['pipeline:demo-accounts'] });
  const handle = env.client.schedule.getHandle('pipeline:demo-accounts');

  let d = await handle.describe();
  for (let i = 0; i < 100 && d.info.recentActions.length < 2; i++, d = await handle.describe()) await sleep(300);
  expect(d.info.recentActions.length).toBeGreaterThanOrEqual(2); // two scheduled runs within 30 s, or the test fails here
  const first = d.info.recentActions[0]!.action;
  const result = await env.client.workflow.getHandle(first.workflow.workflowId, first.workflow.firstExecutionRunId).result();
  expect(result).toMatchObject({ pipeline: 'demo-accounts', status: 'completed' });

  await handle.pause('test: ERP maintenance');
  await sleep(1000); // an action already in flight may still land
  const paused = (await handle.describe()).info.numActionsTaken;
  await sleep(5000); // inherent: a paused schedule is shown by nothing happening over more than two intervals
  expect((await handle.describe()).info.numActionsTaken).toBe(paused);
  expect((await handle.describe()).state).toMatchObject({ paused: true });

  // a changed config is an update, and keeps the operator's pause
  expect(await applySchedules(env.client, scheduled('3 seconds'))).toMatchObject({ updated: ['pipeline:demo-accounts'] });
  expect((await handle.describe()).state.paused).toBe(true);
  await handle.delete();
});

test('overlapping triggers are skipped by the overlap policy', async () => {
  // a saga that sits in its first activity, so the second trigger finds the first one running
  const slow: ScheduleEntry = {
    scheduleId: 'overlap-test', workflowType: 'orderToCash', taskQueue: 'overlap-test',
    args: [{ dealId: '1' }], schedule: { ...scheduled('1 hour')[0]!.schedule },
  };
  const worker = await Worker.create({
    connection: env.nativeConnection, taskQueue: 'overlap-test', workflowBundle: env.workflowBundle, shutdownGraceTime: '1s',
    activities: { loadDeal: () => sleep(20_000).then(() => { throw new Error('stopped'); }) },
  });
  await worker.runUntil(async () => {
    await applySchedules(env.client, [slow]);
    const handle = env.client.schedule.getHandle('overlap-test');
    // trigger() overrides the overlap policy (SDK default ALLOW_ALL, untracked): pass the schedule's own
    const { overlap } = (await handle.describe()).policies;
    expect(overlap).toBe('SKIP');
    await handle.trigger(overlap);
    let d = await handle.describe();
    for (let i = 0; i < 50 && d.info.recentActions.length === 0; i++, d = await handle.describe()) await sleep(200);
    expect(d.info.recentActions.length).toBeGreaterThan(0); // the trigger started a run within 10 s
    // (runningActions stays empty on the dev server here, so ask the started workflow itself)
    const first = d.info.recentActions[0]!.action.workflow;
    const firstRun = env.client.workflow.getHandle(first.workflowId, first.firstExecutionRunId);
    expect((await firstRun.describe()).status.name).toBe('RUNNING');
    // Trigger again until the server counts a skip (triggers within one second count as one, so
    // no fixed count of skips is asserted, only that none of them started a second run).
    const deadline = Date.now() + 30_000;
    while (d.info.numActionsSkippedOverlap < 1) {
      if (Date.now() > deadline) throw new Error('no trigger was skipped within 30 s');
      await handle.trigger(overlap);
      await sleep(300);
      d = await handle.describe();
    }
    expect((await firstRun.describe()).status.name).toBe('RUNNING');
    expect(d.info.numActionsTaken).toBe(1);
    expect(d.info.recentActions).toHaveLength(1);
    await firstRun.terminate('test done');
    await handle.delete();
  });
});

const entry = (scheduleId: string, schedule: Record<string, unknown>): ScheduleEntry => ({
  scheduleId,
  workflowType: 'syncPipeline',
  taskQueue: TASK_QUEUES.sql,
  args: [{ pipeline: 'demo-accounts' }],
  schedule: PipelineScheduleSchema.parse({ paused: true, ...schedule }),
});

test('cron and calendar schedules are applied as such: the server plans their next runs at those times', async () => {
  const cron = entry('cron-test', { cron: '30 2 * * *', timeZone: 'Europe/Berlin' });
  const calendar = entry('calendar-test', { calendar: { dayOfWeek: 'FRIDAY', hour: 3, minute: 15 } });
  expect(await applySchedules(env.client, [cron, calendar])).toMatchObject({ created: ['cron-test', 'calendar-test'] });
  const berlin = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  const c = await env.client.schedule.getHandle('cron-test').describe();
  expect(c.info.nextActionTimes.length).toBeGreaterThanOrEqual(2);
  expect(c.info.nextActionTimes.map((t) => berlin.format(t))).toEqual(c.info.nextActionTimes.map(() => '02:30'));
  const k = await env.client.schedule.getHandle('calendar-test').describe();
  expect(k.info.nextActionTimes.length).toBeGreaterThanOrEqual(2);
  expect(k.info.nextActionTimes.map((t) => [t.getUTCDay(), t.getUTCHours(), t.getUTCMinutes()])).toEqual(k.info.nextActionTimes.map(() => [5, 3, 15]));
  await env.client.schedule.getHandle('cron-test').delete();
  await env.client.schedule.getHandle('calendar-test').delete();
});

test('--dry-run reports what would change and changes nothing; schedules no config declares are reported, not deleted', async () => {
  const a = entry('dry-a', { interval: '1 hour' });
  const b = entry('dry-b', { interval: '1 hour' });
  // dry run on nothing: would create both, creates none
  expect(await applySchedules(env.client, [a, b], { dryRun: true })).toMatchObject({ created: ['dry-a', 'dry-b'], updated: [], unchanged: [] });
  await expect(env.client.schedule.getHandle('dry-a').describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);

  await applySchedules(env.client, [a, b]);
  // a changed interval in a dry run: reported as an update, the schedule keeps its old interval
  const changed = entry('dry-a', { interval: '2 hours' });
  expect(await applySchedules(env.client, [changed, b], { dryRun: true })).toMatchObject({ created: [], updated: ['dry-a'], unchanged: ['dry-b'] });
  expect((await env.client.schedule.getHandle('dry-a').describe()).spec.intervals?.map((i) => i.every)).toEqual([3_600_000]);

  // dry-b dropped from the config: reported as not configured, still there; a schedule made by
  // someone else (no managedBy memo) is not reported
  await env.client.schedule.create({
    scheduleId: 'not-ours', spec: { intervals: [{ every: '1 hour' }] }, state: { paused: true },
    action: { type: 'startWorkflow', workflowType: 'syncPipeline', taskQueue: TASK_QUEUES.sql, args: [{ pipeline: 'demo-accounts' }] },
  });
  const report = await applySchedules(env.client, [a]);
  expect(report.notConfigured).toContain('dry-b');
  expect(report.notConfigured).not.toContain('not-ours');
  expect(report.notConfigured).not.toContain('dry-a');
  expect((await env.client.schedule.getHandle('dry-b').describe()).scheduleId).toBe('dry-b');
  for (const id of ['dry-a', 'dry-b', 'not-ours']) await env.client.schedule.getHandle(id).delete();
});
