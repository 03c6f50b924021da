import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { progressQuery } from '../../contracts/sync';
import { waitFor } from './processes';
import { killWorker, spawnWorker, type WorkerProcess } from './worker-process';

export interface InFlight {
  activityId: string;
  type: string;
  attempt: number;
  /** The worker identity that started it: `<pid>@<host>` by default. */
  worker: string;
}

/** Activities the server sees as started by a worker (and not yet completed, failed or timed out). */
export async function startedActivities(handle: WorkflowHandle): Promise<InFlight[]> {
  const d = await handle.describe();
  return (d.raw.pendingActivities ?? [])
    .filter((a) => a.state === temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED)
    .map((a) => ({ activityId: a.activityId ?? '', type: a.activityType?.name ?? '', attempt: a.attempt ?? 0, worker: a.lastWorkerIdentity ?? '' }));
}

export interface VerifiedKill {
  /** The activity that was running in the killed worker: still started, same attempt, after the kill. */
  inFlight: InFlight;
  /** The workflow's `step`, as the killed worker reported it just before the kill. */
  stepBeforeKill: string;
  /** Workers spawned (and killed) on the way, the last one included. */
  workers: number;
}

/**
 * Kill workers (SIGKILL, PID verified gone) until one dies while an activity of `types` is
 * running in it. Right before each kill, reads `progress` (answered by that worker) and the
 * started activities; right after it, checks that the same activity attempt is still started,
 * which proves it was in flight in the dead worker (a dead worker completes nothing). If the
 * activity finished in between, a new worker is started and the hunt repeats.
 */
export async function killWhileRunning(
  handle: WorkflowHandle,
  first: WorkerProcess,
  workerEnv: Record<string, string>,
  types: string[],
  opts: { step?: string; maxWorkers?: number; timeoutMs?: number; minPages?: number } = {},
): Promise<VerifiedKill> {
  let worker = first;
  for (let n = 1; n <= (opts.maxWorkers ?? 6); n++) {
    await worker.ready;
    const seen = await waitFor(
      async () => {
        // started by this worker: an attempt a killed worker started stays "started" until it times out
        const running = async () => (await startedActivities(handle)).find((x) => types.includes(x.type) && x.worker.startsWith(`${worker.pid}@`));
        // The server answers `describe` on its own, a query needs the worker: a worker whose event
        // loop is busy in one long synchronous step (a SQLite batch) answers only after that step.
        // Without step or page conditions, look at the started activities only.
        if (opts.step === undefined && opts.minPages === undefined) {
          const a = await running();
          return a ? { a, step: '(not asked)' } : null;
        }
        // A worker under load may answer a query only after its deadline: not an answer, ask again.
        const p = await handle.query(progressQuery).catch((err: unknown) => {
          if (/query timed out|DEADLINE_EXCEEDED/.test(`${(err as Error).message} ${String((err as { cause?: unknown }).cause)}`)) return null;
          throw err;
        });
        if (!p) return null;
        if (p.totals.pages < (opts.minPages ?? 0) || (opts.step && p.step !== opts.step)) return null;
        const a = await running();
        return a ? { a, step: p.step } : null;
      },
      `an activity of ${types.join('/')} to run`,
      opts.timeoutMs ?? 120_000,
      10,
    );
    await killWorker(worker);
    const after = await startedActivities(handle);
    if (after.some((x) => x.activityId === seen.a.activityId && x.attempt === seen.a.attempt)) {
      return { inFlight: seen.a, stepBeforeKill: seen.step, workers: n };
    }
    worker = spawnWorker(workerEnv); // it finished just before the kill: try again
  }
  throw new Error(`no worker died while ${types.join('/')} was running`);
}

/**
 * The workflow's result, or, after `ms`, an error that says where the workflow stands: its
 * progress (when a worker answers) and every pending activity with its state, attempt, last
 * worker and last failure. For crash tests, whose hangs otherwise end as a bare jest timeout.
 */
export async function resultWithin<T>(handle: WorkflowHandle, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      void (async () => {
        const d = await handle.describe().catch(() => null);
        const pending = (d?.raw.pendingActivities ?? []).map((a) => ({
          type: a.activityType?.name,
          state: a.state === undefined || a.state === null ? null : temporal.api.enums.v1.PendingActivityState[a.state],
          attempt: a.attempt,
          worker: a.lastWorkerIdentity,
          lastFailure: a.lastFailure?.message ?? null,
        }));
        const progress = await Promise.race([handle.query(progressQuery).catch((e: Error) => `no answer: ${e.message}`), new Promise((r) => setTimeout(() => r('no answer in 5 s'), 5000))]);
        reject(new Error(`workflow ${handle.workflowId} not finished after ${ms} ms; status ${d?.status.name ?? '?'}; progress ${JSON.stringify(progress)}; pending activities ${JSON.stringify(pending)}`));
      })();
    }, ms);
  });
  try {
    return (await Promise.race([handle.result(), timeout])) as T;
  } finally {
    clearTimeout(timer);
  }
}
