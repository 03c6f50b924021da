import { withProgress, type ProgressSink } from '../connectors/progress';
import { SyncError } from '../contracts/errors';

/** Request timeout assumed for a connector that does not report one (describe().requestTimeoutMs). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;

/**
 * How long a call may go without progress before it counts as hung: the connector's request
 * timeout plus a margin (half of it, at least a second), so that the connector's own timeout,
 * with its clean message, normally fires first and this is only the backstop.
 */
export function stallBudgetMs(requestTimeoutMs: number | undefined): number {
  const t = requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  return t + Math.max(1000, Math.round(t / 2));
}

export interface WatchOptions {
  /** No progress for longer than this fails the call (see stallBudgetMs). */
  stallMs: number;
  /** Heartbeat period while the call makes progress. */
  beatEveryMs: number;
  /** Sends a heartbeat (with the progress reached so far). */
  beat: () => void;
  /** What is being done, for the failure message, e.g. `writing hubspot.companies`. */
  what: string;
  /** Injected clock for tests. @default Date.now */
  now?: () => number;
}

/**
 * Runs `fn` (connector calls) and heartbeats while it makes progress: a request of the
 * connector completed within the last `stallMs`, or it is waiting for something that is not a
 * request (a rate-governor slot). A call that goes longer
 * without progress stops heartbeating and fails as `Transient`, so a hung request that its own
 * timeout missed costs `stallMs`, not the activity's start-to-close timeout; and if this process
 * cannot even run the check (a blocked event loop), the missing heartbeats let Temporal's
 * heartbeat timeout end the attempt. The abandoned call is left to settle on its own (writes are
 * idempotent by external key, so a late completion is harmless: the retry upserts again).
 */
export function watchProgress<T>(opts: WatchOptions, fn: () => Promise<T>): Promise<T> {
  const now = opts.now ?? Date.now;
  let last = now();
  let waiting = 0;
  const sink: ProgressSink = {
    progress: () => {
      last = now();
    },
    waiting: (active) => {
      waiting += active ? 1 : -1;
      last = now();
    },
  };
  const checkEveryMs = Math.max(50, Math.min(opts.beatEveryMs, Math.floor(opts.stallMs / 4)));
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let lastBeat = 0;
    const finish = (fnSettle: () => void): void => {
      if (settled) return;
      settled = true;
      clearInterval(check);
      fnSettle();
    };
    const check = setInterval(() => {
      const t = now();
      if (waiting === 0 && t - last > opts.stallMs) {
        finish(() =>
          reject(
            new SyncError(
              'Transient',
              `${opts.what}: no progress for ${Math.round((t - last) / 100) / 10} s (a request hung past its timeout); the batch is retried`,
              { details: { code: 'STALLED', stallMs: opts.stallMs } },
            ),
          ),
        );
        return;
      }
      if (t - lastBeat >= opts.beatEveryMs) {
        lastBeat = t;
        opts.beat();
      }
    }, checkEveryMs);
    withProgress(sink, fn).then(
      (value) => finish(() => resolve(value)),
      (err: unknown) => finish(() => reject(err)),
    );
  });
}
