import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Progress of the connector calls made inside one scope (one batch write of one activity).
 *
 * A connector reports `progress()` whenever one of its requests to the external system
 * completes (or a serialized request finally gets its turn), and wraps waits that are not
 * requests and cannot hang (rate-governor slots) in `waiting()`. The
 * caller, an activity that must tell a slow-but-moving batch from a hung one, runs the batch in
 * `withProgress(sink, …)`. Scoped by AsyncLocalStorage, so concurrent batches of several
 * activities on one shared connector never see each other's progress. Outside a scope every
 * report is a no-op: connectors stay plain clients (no Temporal here).
 */
export interface ProgressSink {
  /** A request completed (or started after a wait): the clock of "no progress" restarts. */
  progress(): void;
  /** A wait that is not a hung request began (`true`) or ended (`false`). */
  waiting(active: boolean): void;
}

const scope = new AsyncLocalStorage<ProgressSink>();

/** Runs `fn` with `sink` receiving the progress of the connector calls it makes. */
export function withProgress<T>(sink: ProgressSink, fn: () => Promise<T>): Promise<T> {
  return scope.run(sink, fn);
}

/** Reports that a request of the current scope completed. */
export function reportProgress(): void {
  scope.getStore()?.progress();
}

/** Runs a wait that is not a request (a rate-governor slot): it never counts as a stall. */
export async function waitingFor<T>(fn: () => Promise<T>): Promise<T> {
  const sink = scope.getStore();
  if (!sink) return fn();
  sink.waiting(true);
  try {
    return await fn();
  } finally {
    sink.waiting(false);
  }
}
