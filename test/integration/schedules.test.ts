import { readFileSync } from 'node:fs';
import path from 'node:path';
import { TASK_QUEUES } from '../../contracts/queues';
import { PipelineSchema } from '../../pipelines/schema';
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
  const first = d.info.recentActions[0]!.action;
  const result = await env.client.workflow.getHandle(first.workflow.workflowId, first.workflow.firstExecutionRunId).result();
  expect(result).toMatchObject({ pipeline: 'demo-accounts', status: 'completed' });

  await handle.pause('test: ERP maintenance');
  await sleep(1000); // an action already in flight may still land
  const paused = (await handle.describe()).info.numActionsTaken;
  await sleep(5000);
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
    // (runningActions stays empty on the dev server here, so ask the started workflow itself)
    const first = d.info.recentActions[0]!.action.workflow;
    const firstRun = env.client.workflow.getHandle(first.workflowId, first.firstExecutionRunId);
    expect((await firstRun.describe()).status.name).toBe('RUNNING');
    await sleep(1100);
    await handle.trigger(overlap);
    await sleep(1100); // two triggers within one second count as one
    await handle.trigger(overlap);
    for (let i = 0; i < 50 && d.info.numActionsSkippedOverlap < 2; i++, d = await handle.describe()) await sleep(200);
    expect(d.info.numActionsSkippedOverlap).toBe(2);
    expect(d.info.numActionsTaken).toBe(1);
    expect(d.info.recentActions).toHaveLength(1);
    await firstRun.terminate('test done');
    await handle.delete();
  });
});
