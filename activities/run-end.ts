import type { StateStore } from '../state/types';

/** How a sync, pair or apply run ended, as its run report keeps it. */
export interface RunEnd {
  /** The pipeline or pair (an apply's plan names it). */
  pipeline: string;
  syncId: string;
  status: string;
  startedAtMs: number;
  totals: Record<string, number>;
  /** The approval gate's decisions (who and when). */
  approvals?: Record<string, unknown>[];
}

/** Record a run's end: its approvals as run events, then its run report. */
export async function saveRunEnd(store: StateStore, run: RunEnd): Promise<void> {
  await store.addRunEvents(run.syncId, (run.approvals ?? []).map((a) => ({ kind: 'approval', at: String(a.at ?? new Date().toISOString()), data: a })));
  await store.saveRunReport({
    pipeline: run.pipeline,
    syncId: run.syncId,
    status: run.status,
    startedAt: new Date(run.startedAtMs).toISOString(),
    finishedAt: new Date().toISOString(),
    totals: { ...run.totals },
  });
}
