/** The worker process's logs: one line per failed workflow (WORKER_LOG_FORMAT=json here), no stack dump. */
import { WorkflowFailedError } from '@temporalio/client';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { isWorkerQueue, TASK_QUEUES } from '../../contracts/queues';
import { startDevEnv, type DevEnv } from '../helpers/env';
import { waitFor } from '../helpers/processes';
import { spawnWorker, stopAllWorkers, type WorkerProcess } from '../helpers/worker-process';

jest.setTimeout(120_000);

let env: DevEnv;
let worker: WorkerProcess;

beforeAll(async () => {
  env = await startDevEnv();
  worker = spawnWorker({
    TEMPORAL_ADDRESS: env.server.address,
    DEMO_DATA_DIR: path.join(env.tmp, 'demo'),
    WORKER_LOG_FORMAT: 'json',
    WORKER_LOG_LEVEL: 'WARN',
    ENV_FILE: '',
  });
  await worker.ready;
});

afterAll(async () => {
  await stopAllWorkers();
  await env?.teardown();
});

test('a failed sync is one JSON line with its type, ids and message', async () => {
  const handle = await env.client.workflow.start('syncPipeline', { taskQueue: TASK_QUEUES.sql, workflowId: 'logs-unknown-pipeline', args: [{ pipeline: 'no-such-pipeline' }] });
  const wfErr = await handle.result().catch((e: unknown) => e);
  expect(wfErr).toBeInstanceOf(WorkflowFailedError);
  const lines = () => worker.output().split('\n').filter((l) => l.includes('logs-unknown-pipeline'));
  const failed = await waitFor(() => lines().find((l) => l.includes('"Workflow failed"')), 'the workflow failure log line', 20_000);
  const rec = JSON.parse(failed) as Record<string, unknown>;
  expect(rec).toMatchObject({ level: 'WARN', message: 'Workflow failed', workflowType: 'syncPipeline', workflowId: 'logs-unknown-pipeline', runId: handle.firstExecutionRunId });
  expect(rec.error).toMatch(/^unknown pipeline "no-such-pipeline"; this worker knows demo-accounts/);
  // the activity's failure, with its type, is one line too
  expect(lines().filter((l) => l.includes('"Activity failed"')).map((l) => (JSON.parse(l) as { error: string }).error)).toEqual([expect.stringMatching(/^ConfigError: unknown pipeline/)]);
  // Every line of the worker's output is a JSON object: no stack frames, no multi-line dumps.
  const out = worker.output().split('\n').filter((l) => l.trim() && !l.startsWith('worker ready'));
  for (const l of out) expect(() => JSON.parse(l)).not.toThrow();
  expect(out.filter((l) => l.includes('"Workflow failed"'))).toHaveLength(1);
});

test('the activity-only workers on worker-specific queues start without the SDK\'s "No workflows registered" warning', async () => {
  // The ready line names the process's own queues: one per family besides the family's shared queue.
  const ready = worker.output().split('\n').find((l) => l.startsWith('worker ready')) ?? '';
  const ownQueues = (ready.match(/queues (.*) on /)?.[1] ?? '').split(', ').filter(isWorkerQueue);
  expect(ownQueues.length).toBeGreaterThan(0);
  // Each of them polls: its Worker.run has begun, which is where the SDK logs the warning.
  for (const name of ownQueues) {
    await waitFor(
      async () => {
        const res = await env.client.workflowService.describeTaskQueue({ namespace: 'default', taskQueue: { name }, taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY });
        return (res.pollers?.length ?? 0) > 0;
      },
      `a poller on ${name}`,
      20_000,
    );
  }
  // WORKER_LOG_LEVEL=WARN here, so the warning would be in the output if it were logged.
  expect(worker.output()).not.toContain('No workflows registered');
});
