/**
 * The worker's log lines: one line per event, never a stack dump. A failed workflow is one line
 * with its type, ids and the failure's type and message (causes chained with " ← "); the stack
 * stays in the workflow's history, where the Web UI shows it. `WORKER_LOG_FORMAT=json` writes one
 * JSON object per line for log shippers.
 */
import { DefaultLogger, type LogEntry, type LogLevel, type Logger } from '@temporalio/worker';
import { isWorkerQueue } from '../contracts/queues';

export type LogFormat = 'text' | 'json';

/** Ids first, so a line reads "which workflow, which activity" before the details. */
const FIRST = ['workflowType', 'workflowId', 'runId', 'activityType', 'activityId', 'attempt'];

/** Meta that is noise in a log line (an opaque base64 task token). */
const DROPPED = new Set(['taskToken']);

interface ErrorLike {
  name?: unknown;
  type?: unknown;
  message?: unknown;
  cause?: unknown;
}

/** "ConfigError: unknown pipeline …" with its causes, on one line (no stack). */
export function describeError(err: unknown, depth = 0): string {
  if (err === null || typeof err !== 'object') return String(err);
  const e = err as ErrorLike;
  // Errors logged from inside the workflow sandbox cross into the worker as plain `Error`s (their
  // failure type is lost on the way): then the message alone is shown, not a meaningless "Error: ".
  const label = typeof e.type === 'string' && e.type ? e.type : typeof e.name === 'string' && e.name !== 'Error' ? e.name : '';
  const text = String(e.message ?? '').split('\n')[0] ?? '';
  const own = label ? `${label}: ${text}` : text;
  if (e.cause && depth < 5) {
    const cause = describeError(e.cause, depth + 1);
    // An ActivityFailure's message says little ("Activity task failed"); its cause says what.
    return `${own} ← ${cause}`;
  }
  return own;
}

const isErrorLike = (v: unknown): boolean => v instanceof Error || (typeof v === 'object' && v !== null && 'message' in v && ('stack' in v || 'cause' in v || 'name' in v));

/** Meta values fit for one line: errors described, everything else kept. */
function flatMeta(meta: Record<string, unknown> | undefined): [string, unknown][] {
  const entries = Object.entries(meta ?? {})
    .filter(([k]) => !DROPPED.has(k))
    .map(([k, v]): [string, unknown] => [k, isErrorLike(v) ? describeError(v) : v]);
  const rank = (k: string) => (FIRST.includes(k) ? FIRST.indexOf(k) : FIRST.length);
  return entries.sort((a, b) => rank(a[0]) - rank(b[0]));
}

const textValue = (v: unknown): string => {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return /[\s"=]/.test(s ?? '') ? JSON.stringify(s) : String(s);
};

export function formatLogEntry(entry: LogEntry, format: LogFormat): string {
  const time = new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
  const meta = flatMeta(entry.meta);
  if (format === 'json') return JSON.stringify({ time, level: entry.level, message: entry.message, ...Object.fromEntries(meta) });
  const rest = meta.map(([k, v]) => `${k}=${textValue(v)}`).join(' ');
  return `${time} ${entry.level.padEnd(5)} ${entry.message.split('\n')[0]}${rest ? `  ${rest}` : ''}`;
}

/**
 * A warning the SDK logs by design for our activity-only workers: each process serves its own
 * worker-specific queue per family (contracts/queues.ts workerQueue) with activities and no
 * workflows, and the SDK (1.24) has no Worker option to say so; `Worker.run` then warns "No
 * workflows registered, not polling for workflow tasks" once per family at every start. Dropped
 * for those queues only: on a family's shared queue a worker without workflows is a real mistake
 * and the warning stays.
 */
export function isExpectedSdkNoise(entry: LogEntry): boolean {
  const queue = entry.meta?.taskQueue;
  return entry.message.startsWith('No workflows registered') && typeof queue === 'string' && isWorkerQueue(queue);
}

/** The Runtime's logger: `level` and `format` from WORKER_LOG_LEVEL and WORKER_LOG_FORMAT. */
export function createWorkerLogger(level: LogLevel, format: LogFormat, write: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Logger {
  return new DefaultLogger(level, (entry) => {
    if (!isExpectedSdkNoise(entry)) write(formatLogEntry(entry, format));
  });
}
