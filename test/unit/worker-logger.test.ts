import { ActivityFailure, ApplicationFailure, RetryState } from '@temporalio/common';
import type { LogEntry } from '@temporalio/worker';
import { isWorkerQueue, TASK_QUEUES, workerQueue } from '../../contracts/queues';
import { createWorkerLogger, describeError, formatLogEntry } from '../../workers/logger';

const failure = () => {
  const root = ApplicationFailure.create({ type: 'ConfigError', message: 'unknown pipeline "nope"; this worker knows demo-accounts', nonRetryable: true });
  const activity = new ActivityFailure('Activity task failed', 'beginSync', '1', RetryState.NON_RETRYABLE_FAILURE, 'worker-1', root);
  return ApplicationFailure.create({ type: 'ConfigError', message: 'loading checkpoint failed: unknown pipeline "nope"', nonRetryable: true, cause: activity });
};
const entry = (meta: Record<string, unknown>): LogEntry => ({ level: 'WARN', message: 'Workflow failed', meta, timestampNanos: 1_767_225_600_123_000_000n });
const meta = () => ({ sdkComponent: 'workflow', taskQueue: 'crm-erp-sync.sql', error: failure(), runId: 'r-1', workflowId: 'sync:nope', workflowType: 'syncPipeline', namespace: 'default' });

test('a failed workflow is one text line: ids first, then the failure with its causes, no stack', () => {
  const err = failure();
  expect(err.stack).toMatch(/\n\s+at /); // there is a stack to leave out
  const line = formatLogEntry(entry(meta()), 'text');
  expect(line).toBe(
    '2026-01-01T00:00:00.123Z WARN  Workflow failed  workflowType=syncPipeline workflowId=sync:nope runId=r-1 sdkComponent=workflow taskQueue=crm-erp-sync.sql ' +
      'error="ConfigError: loading checkpoint failed: unknown pipeline \\"nope\\" ← ActivityFailure: Activity task failed ← ConfigError: unknown pipeline \\"nope\\"; this worker knows demo-accounts" namespace=default',
  );
  expect(line).not.toContain('\n');
});

test('json: one object per line with the same fields', () => {
  const line = formatLogEntry(entry(meta()), 'json');
  expect(line).not.toContain('\n');
  expect(JSON.parse(line)).toEqual({
    time: '2026-01-01T00:00:00.123Z',
    level: 'WARN',
    message: 'Workflow failed',
    workflowType: 'syncPipeline',
    workflowId: 'sync:nope',
    runId: 'r-1',
    sdkComponent: 'workflow',
    taskQueue: 'crm-erp-sync.sql',
    namespace: 'default',
    error: 'ConfigError: loading checkpoint failed: unknown pipeline "nope" ← ActivityFailure: Activity task failed ← ConfigError: unknown pipeline "nope"; this worker knows demo-accounts',
  });
});

test('errors that crossed the workflow sandbox as plain objects are described too; other values are kept', () => {
  expect(describeError({ name: 'Error', message: 'boom\n    at x (y.js:1:1)', stack: 'Error: boom\n    at x' })).toBe('boom');
  expect(describeError(new TypeError('bad'))).toBe('TypeError: bad');
  expect(JSON.parse(formatLogEntry(entry({ taskToken: 'bG9j' }), 'json'))).not.toHaveProperty('taskToken');
  expect(JSON.parse(formatLogEntry(entry({ durationMs: 12, attempt: 3 }), 'json'))).toMatchObject({ durationMs: 12, attempt: 3 });
});

test('the SDK\'s "No workflows registered" warning is dropped for worker-specific queues only', () => {
  const lines: string[] = [];
  const logger = createWorkerLogger('WARN', 'json', (l) => lines.push(l));
  const own = workerQueue('sql', 'host-1-abc');
  logger.warn('No workflows registered, not polling for workflow tasks', { sdkComponent: 'worker', taskQueue: own });
  expect(lines).toEqual([]);
  // on a family's shared queue a worker without workflows is a mistake: the warning stays
  logger.warn('No workflows registered, not polling for workflow tasks', { sdkComponent: 'worker', taskQueue: TASK_QUEUES.sql });
  // other warnings on the worker-specific queue stay too
  logger.warn('Activity failed', { sdkComponent: 'worker', taskQueue: own });
  expect(lines.map((l) => (JSON.parse(l) as { message: string; taskQueue: string }).taskQueue)).toEqual([TASK_QUEUES.sql, own]);
  expect(isWorkerQueue(own)).toBe(true);
  expect(isWorkerQueue(TASK_QUEUES.sql)).toBe(false);
  expect(isWorkerQueue(`${TASK_QUEUES.sql}.worker.`)).toBe(false);
});
