/**
 * Dry run → approve → apply: a `syncPipeline` started with `mode: "dry-run"` fetches, maps and
 * plans every page, writes nothing to either system, moves no checkpoint or link, and stores the
 * plan (creates, updates with field-level before/after) in the state store under a plan id with
 * a plan hash. `applyPlan` writes exactly that plan later, hash-checked record by record against
 * the target's current state. History carries ids, counts and keys, never record values.
 */
import { defineQuery } from '@temporalio/workflow';
import { z } from 'zod';
import { stableHash } from './stable-json';

/** The `mode` of a dry run (syncPipeline input). */
export const DRY_RUN = 'dry-run';

/** A dry run's plan id: derived from its sync id, so it survives continue-as-new unchanged. */
export const planIdOf = (syncId: string): string => `plan-${stableHash(syncId)}`;

export const PlanIdSchema = z
  .string({ error: 'expected the plan id as a string, e.g. "plan-0123456789abcdef" (from the dry run\'s result or `crm-erp-sync plan`)' })
  .regex(/^plan-[0-9a-f]{16}$/, 'expected a plan id such as "plan-0123456789abcdef" (from the dry run\'s result or `crm-erp-sync plan`)');

const count = z.number().int().min(0);
export const ApplyTotalsSchema = z.object({
  /** Records written (created + updated). */
  written: count,
  created: count,
  updated: count,
  /** Records the target already held as planned (an apply retried after its write): links updated, nothing written. */
  alreadyApplied: count,
  /** Records the target changed after the plan was made: reported, not overwritten. */
  changedMeanwhile: count,
  /** Records quarantined: the plan's quarantine items, and records the target refused (with the reason). */
  quarantined: count,
});
export type ApplyTotals = z.infer<typeof ApplyTotalsSchema>;

/** What an applyPlan run hands to the next by continue-as-new (`dry-run-v2`). */
export const ApplyContinuationSchema = z
  .object({
    applyId: z.string(),
    /** The hash checked by the first run: later runs apply only that plan. */
    planHash: z.string(),
    startedAtMs: z.number(),
    runIndex: z.number().int().min(1),
    /** The last plan item applied (items are applied in seq order). */
    afterSeq: z.number().int(),
    totals: ApplyTotalsSchema,
    changedMeanwhile: z.array(z.string()),
    /** The approval decisions of the first run (later runs do not ask again). */
    approvals: z.array(z.record(z.string(), z.unknown())),
  })
  .strict();
export type ApplyContinuation = z.infer<typeof ApplyContinuationSchema>;

/**
 * Input of the `applyPlan` workflow, e.g.
 * `temporal workflow start --type applyPlan --task-queue crm-erp-sync.sql --input '{"planId":"plan-0123456789abcdef"}'`
 */
export const ApplyPlanInputSchema = z
  .object({
    planId: PlanIdSchema,
    /** The hash the caller reviewed: the apply fails (Conflict) when the stored plan's is another. */
    planHash: z.string({ error: 'expected the plan hash as a string' }).regex(/^[0-9a-f]{16}$/, 'expected the 16 hex digits of the plan hash').optional(),
    /** Plan items per apply activity. @default 500 */
    chunkSize: z.number({ error: 'expected a whole number of items, 1 to 5000' }).int().min(1).max(5000).optional(),
    /** Apply activities per workflow run before continue-as-new (keeps each run's history small). @default 200 */
    chunksPerRun: z.number({ error: 'expected a whole number of chunks, 1 to 1000' }).int().min(1).max(1000).optional(),
    /** Internal: state carried by continue-as-new. */
    continuation: ApplyContinuationSchema.optional(),
  })
  .strict();
export type ApplyPlanInput = z.infer<typeof ApplyPlanInputSchema>;

export interface PlanCounts {
  creates: number;
  updates: number;
  deletes: number;
  conflicts: number;
  /** Records the mapping or validation refuses: quarantined when the plan is applied, not before. */
  quarantined: number;
}

/** What a dry run's result says of the plan it stored. */
export interface PlanSummary {
  planId: string;
  planHash: string;
  kind: 'pipeline' | 'pair';
  name: string;
  counts: PlanCounts;
  /** Why applying it needs approval (the pipeline's limits); empty: it does not. */
  approvalReasons: string[];
}

export const EMPTY_APPLY_TOTALS: ApplyTotals = { written: 0, created: 0, updated: 0, alreadyApplied: 0, changedMeanwhile: 0, quarantined: 0 };

export interface ApplyPlanResult {
  planId: string;
  planHash: string;
  name: string;
  applyId: string;
  /** `rejected`: the approval gate refused (or timed out); nothing was written. */
  status: 'applied' | 'rejected';
  totals: ApplyTotals;
  /** Source keys of the records changed in the target since the plan (the first 100; the run report has all). */
  changedMeanwhile: string[];
  /** `advanced` to where the dry run read up to, or `kept` (another sync moved it since the plan). */
  checkpoint: 'advanced' | 'kept';
  approvals: Record<string, unknown>[];
  /** Workflow runs the apply took (continue-as-new every `chunksPerRun` chunks). */
  runs: number;
}

export interface ApplyProgress {
  planId: string;
  status: string;
  step: string;
  totals: ApplyTotals;
}
export const applyProgressQuery = defineQuery<ApplyProgress>('progress');
