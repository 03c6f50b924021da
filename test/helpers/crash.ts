import type { WorkflowExecutionDescription, WorkflowHandle } from '@temporalio/client';
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
  return started(await handle.describe());
}

function started(d: WorkflowExecutionDescription): InFlight[] {
  return (d.raw.pendingActivities ?? [])
    .filter((a) => a.state === temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED)
    .map((a) => ({ activityId: a.activityId ?? '', type: a.activityType?.name ?? '', attempt: a.attempt ?? 0, worker: a.lastWorkerIdentity ?? '' }));
}

export interface VerifiedKill {
  /** The activity that was running in the killed worker: still started, same attempt, after the kill. */
  inFlight: InFlight;
  /** Workers spawned (and killed) on the way, the last one included. */
  workers: number;
}

/**
 * Kill workers (SIGKILL, PID verified gone) until one dies while an activity of `types` is
 * running in it. Looks only at what the server answers on its own (`describe`: the started
 * activities and who started them), never at a query: a query needs the worker, whose event loop
 * may be busy in one long synchronous step (a SQLite batch) exactly while the activity runs, and a
 * hunt that waits for its answer misses short activities on a loaded machine. `ready` (asked of
 * the test's own view of the systems, e.g. rows already in the target; true once, true for good)
 * holds the hunt back until the sync is far enough. Right after the kill, checks that the same
 * activity attempt is still started, which proves it was in flight in the dead worker (a dead
 * worker completes nothing). If it finished in between, a new worker is started and the hunt
 * repeats. A workflow that closes first ends the hunt with an error saying so.
 */
export async function killWhileRunning(
  handle: WorkflowHandle,
  first: WorkerProcess,
  workerEnv: Record<string, string>,
  types: string[],
  opts: { ready?: () => boolean | Promise<boolean>; maxWorkers?: number; timeoutMs?: number } = {},
): Promise<VerifiedKill> {
  let worker = first;
  let isReady = opts.ready === undefined;
  for (let n = 1; n <= (opts.maxWorkers ?? 6); n++) {
    await worker.ready;
    const pid = worker.pid;
    const seen = await waitFor(
      async () => {
        if (!isReady) {
          isReady = await opts.ready!();
          if (!isReady) return null;
        }
        const d = await handle.describe();
        if (d.status.name !== 'RUNNING') {
          throw new Error(`workflow ${handle.workflowId} is ${d.status.name} before an activity of ${types.join('/')} was caught running in worker ${pid} (${n} worker(s) spawned)`);
        }
        return started(d).find((x) => types.includes(x.type) && x.worker.startsWith(`${pid}@`)) ?? null;
      },
      `an activity of ${types.join('/')} to run`,
      opts.timeoutMs ?? 120_000,
      10,
    );
    await killWorker(worker);
    const after = await startedActivities(handle);
    if (after.some((x) => x.activityId === seen.activityId && x.attempt === seen.attempt)) {
      return { inFlight: seen, workers: n };
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
