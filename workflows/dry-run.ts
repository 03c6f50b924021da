import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { Cursor } from '../contracts/cursor';
import { planIdOf, type PlanSummary } from '../contracts/plan';
import { BOOKKEEPING, TRANSFORM } from './options';

const recording = proxyActivities<Activities>(TRANSFORM);

/** Marks dry runs that store only their plan: quarantinable records as plan items, no run report. */
export const DRY_RUN_V2 = 'dry-run-v2';
const bookkeeping = proxyActivities<Activities>(BOOKKEEPING);

/**
 * The dry-run side of a syncPipeline (`mode: "dry-run"`, activities/plan-store.ts): the plan is
 * opened at the sync's start, each page's plan is recorded where a sync would write it, and the
 * plan is sealed (hashed, counted) when the sync completes. Nothing is written, no checkpoint moves.
 */
export class PipelineDryRun {
  readonly planId: string;

  constructor(
    private readonly pipeline: string,
    private readonly syncId: string,
  ) {
    this.planId = planIdOf(syncId);
  }

  /** Once per dry run (not again after continue-as-new). */
  async open(): Promise<void> {
    await bookkeeping.openPlan({ planId: this.planId, kind: 'pipeline', name: this.pipeline, syncId: this.syncId });
  }

  /** In place of writePage: store the staged page plan with the target's current values. */
  async record(ref: { pipeline: string; syncId: string; seq: number }, plan: { planPageId: string; approvalReasons: string[] }): Promise<void> {
    await recording.recordPlanPage({ ...ref, planId: this.planId, planPageId: plan.planPageId, approvalReasons: plan.approvalReasons });
  }

  async seal(endCursor: Cursor | null): Promise<PlanSummary> {
    return bookkeeping.sealPlan({ planId: this.planId, endCursor });
  }

  /** In place of finishSync (`dry-run-v2`): drop the staged pages; no run report, no alerts. */
  async finish(): Promise<void> {
    await bookkeeping.dropStagedPages({ syncId: this.syncId });
  }
}
