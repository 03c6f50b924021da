/**
 * How long run events (step timings, change samples, retries, approvals, conflicts: the run
 * reports' detail) are kept. Both stores drop older ones when they open and then about once an
 * hour, as events are added. Run reports (one row per sync) are kept.
 */
export interface RunEventsRetention {
  /** Days run events are kept; 0 keeps them forever. @default 30 (`SYNC_RUN_EVENTS_DAYS`) */
  runEventsDays?: number;
}

export const DEFAULT_RUN_EVENTS_DAYS = 30;
/** How often, at most, a store prunes while it is open. */
export const RUN_EVENTS_PRUNE_EVERY_MS = 3_600_000;

/** The ISO time before which events go, or null when they are kept forever. */
export function runEventsCutoff(days: number | undefined, nowMs = Date.now()): string | null {
  const d = days ?? DEFAULT_RUN_EVENTS_DAYS;
  if (!(d > 0)) return null;
  return new Date(nowMs - d * 86_400_000).toISOString();
}

/**
 * A pruner that runs `prune(cutoff)` now and then at most once per RUN_EVENTS_PRUNE_EVERY_MS when
 * `due()` is called; failures are swallowed (pruning is housekeeping: a sync never fails on it).
 */
export function runEventsPruner(days: number | undefined, prune: (before: string) => Promise<number>): { due(): Promise<void>; first: Promise<number> } {
  let last = Date.now();
  const run = (): Promise<number> => {
    last = Date.now();
    const cutoff = runEventsCutoff(days);
    return cutoff ? prune(cutoff).catch(() => 0) : Promise.resolve(0);
  };
  const first = run();
  return {
    first,
    async due() {
      if (Date.now() - last > RUN_EVENTS_PRUNE_EVERY_MS) await run();
    },
  };
}
