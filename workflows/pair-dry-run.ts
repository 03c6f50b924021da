import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { Cursor } from '../contracts/cursor';
import { planIdOf, type PlanSummary } from '../contracts/plan';
import { BOOKKEEPING, TRANSFORM } from './options';

const recording = proxyActivities<Activities>(TRANSFORM);
const bookkeeping = proxyActivities<Activities>(BOOKKEEPING);

/** The patch a pair's dry run is behind (syncPair with `mode: "dry-run"`). */
export const PAIR_DRY_RUN_PATCH = 'pair-dry-run';

/**
 * The dry-run side of a syncPair (`mode: "dry-run"`, activities/pair-plan.ts): the plan is opened
 * at the sync's start, each planned page of either side is recorded where a sync would write it
 * (no approval waits, no conflict decisions asked), and the plan is sealed (hashed, counted) when
 * both sides are read. Nothing is written to either side; no checkpoint, link or ledger moves.
 */
export class PairDryRun {
  readonly planId: string;

  constructor(
    private readonly pair: string,
    private readonly syncId: string,
  ) {
    this.planId = planIdOf(syncId);
  }

  /** Once per dry run (not again after continue-as-new). */
  async open(): Promise<void> {
    await bookkeeping.openPairPlan({ planId: this.planId, name: this.pair, syncId: this.syncId });
  }

  /** In place of writePairPage: store the page's staged ops and `manual` conflicts as plan items. */
  async record(
    ref: { pair: string; syncId: string; seq: number; side: string },
    plan: { planPageId: string; approvalReasons: string[]; manual: { pageId: string } | null },
  ): Promise<void> {
    await recording.recordPairPlanPage({
      ...ref,
      planId: this.planId,
      planPageId: plan.planPageId,
      ...(plan.manual ? { conflictsPageId: plan.manual.pageId } : {}),
      approvalReasons: plan.approvalReasons,
    });
  }

  async seal(endCursors: Record<string, Cursor | null>): Promise<PlanSummary> {
    return bookkeeping.sealPairPlan({ planId: this.planId, endCursors });
  }
}
