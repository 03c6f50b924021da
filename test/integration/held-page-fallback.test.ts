/**
 * Pages kept in memory (syncPipeline `throughput-v1`): the worker that prepares a page holds its
 * plan and is sent the page's write on its own task queue. Two worker processes share the family
 * queue and the state store; the one writing a page it holds is SIGKILLed. Its write (and any
 * page it had read ahead) is never started again on its dead queue: after the schedule-to-start
 * timeout the workflow writes the page on the family queue, where the other worker reads the
 * plan from its claim check. The target then equals the valid source: nothing lost, nothing twice.
 */
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { TASK_QUEUES } from '../../contracts/queues';
import { type SyncResult } from '../../contracts/sync';
import { seedDemo } from '../../demo/seed';
import { startedActivities } from '../helpers/crash';
import { demoDbs, queryDb } from '../helpers/demo-env';
import { startDevEnv, type DevEnv } from '../helpers/env';
import { waitFor } from '../helpers/processes';
import { compareSqlTarget } from '../helpers/sql-target';
import { killWorker, spawnWorker, stopAllWorkers, type WorkerProcess } from '../helpers/worker-process';

jest.setTimeout(300_000);

let env: DevEnv;
beforeAll(async () => {
  env = await startDevEnv();
});
afterAll(async () => {
  await stopAllWorkers();
  await env?.teardown();
});

const CONTACTS = 8_000;
const { EventType, TimeoutType } = temporal.api.enums.v1;

test('the worker holding a page in memory is SIGKILLed while writing it; the other worker writes it from the claim check, with no loss and no duplicate', async () => {
  const dir = path.join(env.tmp, 'demo');
  seedDemo(dir, { accounts: 0, contacts: CONTACTS, products: 0 });
  const workerEnv = { TEMPORAL_ADDRESS: env.server.address, DEMO_DATA_DIR: dir, SYNC_STATE_DB: path.join(dir, 'state.db'), WORKER_FAMILIES: 'sql' };
  const { erp } = demoDbs(dir);
  const erpRows = () => queryDb<{ c: number }>(erp, 'SELECT count(*) c FROM contacts')[0]!.c;

  const workers: WorkerProcess[] = [spawnWorker(workerEnv), spawnWorker(workerEnv)];
  await Promise.all(workers.map((w) => w.ready));
  const handle = await env.client.workflow.start('syncPipeline', {
    taskQueue: TASK_QUEUES.sql,
    workflowId: 'held-page-fallback',
    args: [{ pipeline: 'demo-contacts', pageSize: 400 }],
  });

  // Kill a worker while a writePage runs in it (on its own queue: it prepared that page), proven
  // in flight: the same attempt is still "started" after the worker is gone.
  let killed: { pid: number; activityId: string } | null = null;
  for (let tries = 0; tries < 4 && !killed; tries++) {
    const seen = await waitFor(
      async () => {
        const running = (await startedActivities(handle)).find((a) => a.type === 'writePage');
        const holder = running && workers.find((w) => running.worker.startsWith(`${w.pid}@`));
        return running && holder ? { running, holder } : null;
      },
      'a writePage to run in one of the workers',
      120_000,
      10,
    );
    await killWorker(seen.holder);
    workers.splice(workers.indexOf(seen.holder), 1);
    const after = await startedActivities(handle);
    if (after.some((a) => a.activityId === seen.running.activityId && a.attempt === seen.running.attempt)) {
      killed = { pid: seen.holder.pid, activityId: seen.running.activityId };
    } else {
      const replacement = spawnWorker(workerEnv); // the write finished just before the kill: again
      await replacement.ready;
      workers.push(replacement);
    }
  }
  expect(killed).not.toBeNull();
  expect(erpRows()).toBeLessThan(CONTACTS);

  const result = (await handle.result()) as SyncResult;
  expect(result.status).toBe('completed');

  // The history shows the route: the killed write was on the dead worker's own queue, it timed out
  // before starting again there, and the same page was then written on the family queue by another worker.
  const events = (await handle.fetchHistory()).events ?? [];
  const scheduled = new Map<string, { queue: string; seq: number; activityId: string; ahead: boolean }>();
  for (const e of events) {
    const a = e.activityTaskScheduledEventAttributes;
    if (a?.activityType?.name !== 'writePage') continue;
    const input = JSON.parse(Buffer.from(a.input!.payloads![0]!.data!).toString()) as { seq: number; after?: unknown };
    scheduled.set(String(e.eventId), { queue: a.taskQueue?.name ?? '', seq: input.seq, activityId: a.activityId ?? '', ahead: input.after !== undefined });
  }
  // Pages were written ahead (`throughput-v3`): a write started while the one before it ran, on the same worker.
  expect([...scheduled.values()].filter((s) => s.ahead).length).toBeGreaterThan(0);
  const deadWrite = [...scheduled.values()].find((s) => s.activityId === killed!.activityId)!;
  expect(deadWrite.queue).toMatch(/^crm-erp-sync\.sql\.worker\./);
  const timedOut = events.filter((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT).map((e) => e.activityTaskTimedOutEventAttributes!);
  const startTimeouts = timedOut.filter((t) => t.failure?.timeoutFailureInfo?.timeoutType === TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START).map((t) => scheduled.get(String(t.scheduledEventId))!);
  expect(startTimeouts.map((s) => s.activityId)).toContain(killed!.activityId);
  const completed = events
    .filter((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED)
    .map((e) => ({ s: scheduled.get(String(e.activityTaskCompletedEventAttributes!.scheduledEventId)), started: events.find((x) => String(x.eventId) === String(e.activityTaskCompletedEventAttributes!.startedEventId)) }))
    .filter((c) => c.s);
  const redone = completed.find((c) => c.s!.seq === deadWrite.seq);
  expect(redone?.s!.queue).toBe(TASK_QUEUES.sql);
  expect(redone?.started?.activityTaskStartedEventAttributes?.identity?.startsWith(`${killed!.pid}@`)).toBe(false);

  const cmp = await compareSqlTarget(dir, 'demo-contacts', 'contacts');
  expect(cmp.problems).toEqual([]);
  expect(cmp.valid + cmp.refused).toBe(CONTACTS);
  expect(cmp.targetRows).toBe(cmp.valid);
  console.log(
    `held-page-fallback: killed worker ${killed!.pid} writing page ${deadWrite.seq} on ${deadWrite.queue}; ${startTimeouts.length} write(s) redone from the claim check on ${TASK_QUEUES.sql}; ${cmp.valid} valid rows equal`,
  );
});
