import { defineQuery, defineSignal } from '@temporalio/workflow';
import { z } from 'zod';
import { CursorSchema } from './cursor';
import type { PlanSummary } from './plan';

/** The name pipelines are known by: lowercase words joined by dashes, e.g. `demo-accounts`. */
export const PipelineNameSchema = z
  .string({ error: 'expected the pipeline name as a string, e.g. "demo-accounts"' })
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'expected lowercase letters, digits and dashes, e.g. "demo-accounts"');

/** Records per page, as workflow inputs accept it (overriding a pipeline's or pair's pageSize). */
export const PageSizeSchema = z
  .number({ error: 'expected a whole number of records per page, 1 to 10000' })
  .int('expected a whole number of records per page, 1 to 10000')
  .min(1, 'expected at least 1 record per page')
  .max(10_000, 'expected at most 10000 records per page');

/** Pages per workflow run before continue-as-new, as workflow inputs accept it. */
export const PagesPerRunSchema = z
  .number({ error: 'expected a whole number of pages per run, 1 to 200' })
  .int()
  .min(1)
  .max(200, 'expected at most 200 pages per run (history stays under 2,000 events)');

export const SyncTotalsSchema = z.object({
  read: z.number().int(),
  created: z.number().int(),
  updated: z.number().int(),
  unchanged: z.number().int(),
  quarantined: z.number().int(),
  pages: z.number().int(),
  /**
   * Activity retries the sync needed (over fetch, map, plan and write: the sum of attempt − 1 of
   * each completed one): what transient faults, rate limits and dead workers cost it.
   */
  retries: z.number().int().default(0),
});
export type SyncTotals = z.infer<typeof SyncTotalsSchema>;

export const EMPTY_TOTALS: SyncTotals = { read: 0, created: 0, updated: 0, unchanged: 0, quarantined: 0, pages: 0, retries: 0 };

/** State carried across continue-as-new; not meant to be typed by people. */
export const ContinuationSchema = z.object({
  syncId: z.string(),
  startedAtMs: z.number(),
  runIndex: z.number().int().min(1),
  cursor: CursorSchema.nullable(),
  totals: SyncTotalsSchema,
  estimatedTotal: z.number().int().nullable().default(null),
  /** Approval decisions of earlier runs of this sync (the audit travels with the sync). */
  approvals: z.array(z.record(z.string(), z.unknown())).default([]),
});
export type Continuation = z.infer<typeof ContinuationSchema>;

/**
 * Input of the `syncPipeline` workflow, e.g.
 * `temporal workflow start --type syncPipeline --task-queue crm-erp-sync.sql --input '{"pipeline":"demo-accounts"}'`
 */
export const SyncPipelineInputSchema = z
  .object({
    /** Pipeline name, as in config/pipelines/<name>.json. */
    pipeline: PipelineNameSchema,
    /**
     * `incremental` (default) continues from the checkpoint; `full` re-reads everything;
     * `dry-run` reads from the checkpoint, plans every page and writes nothing: the plan is stored
     * (result `plan`: id, hash, counts) for `applyPlan`.
     */
    mode: z.enum(['incremental', 'full', 'dry-run'], { error: 'expected "incremental", "full" or "dry-run"' }).optional(),
    /** Records per page; overrides the pipeline's pageSize. */
    pageSize: PageSizeSchema.optional(),
    /** Pages per workflow run before continue-as-new (keeps each run's history small). */
    pagesPerRun: PagesPerRunSchema.optional(),
    /** Stop after this many pages in total (useful for trials). */
    maxPages: z.number({ error: 'expected a whole number of pages' }).int().min(1).optional(),
    /** Internal: state carried by continue-as-new. */
    continuation: ContinuationSchema.optional(),
  })
  .strict();
export type SyncPipelineInput = z.infer<typeof SyncPipelineInputSchema>;

export type SyncStatus =
  | 'starting'
  | 'running'
  | 'paused'
  | 'awaiting-approval'
  | 'cancelling'
  | 'completed'
  | 'cancelled'
  | 'rejected'
  | 'failed';

export interface SyncResult {
  pipeline: string;
  syncId: string;
  /** `rejected`: an approver (or the gate's timeout) refused a page's plan; nothing of it was written. */
  status: 'completed' | 'cancelled' | 'rejected';
  mode: 'incremental' | 'full' | 'dry-run';
  totals: SyncTotals;
  /** A dry run's stored plan (contracts/plan.ts): apply it with `applyPlan`. */
  plan?: PlanSummary;
  runs: number;
  durationMs: number;
  /** The checkpoint the sync ended on. */
  cursor: z.infer<typeof CursorSchema> | null;
  /** Every approval decision taken during the sync, with who and when. */
  approvals: Record<string, unknown>[];
}

export interface SyncProgress {
  pipeline: string;
  syncId: string;
  status: SyncStatus;
  step: string;
  totals: SyncTotals;
  runIndex: number;
  pagesThisRun: number;
  cursor: z.infer<typeof CursorSchema> | null;
  /** Records the source reported waiting when the sync began, when it can tell (else null). */
  estimatedTotal: number | null;
  pausedBy: string | null;
  /** The `reason` of the pause signal, while paused (null otherwise, or when none was given). */
  pausedReason: string | null;
  startedAtMs: number;
}

export const progressQuery = defineQuery<SyncProgress>('progress');

export interface ControlSignalArgs {
  /** Who asked (shown in progress and logs). */
  by?: string;
  reason?: string;
}
/** Pause after the page in flight; resume continues from the same cursor. */
export const pauseSignal = defineSignal<[ControlSignalArgs?]>('pause');
export const resumeSignal = defineSignal<[ControlSignalArgs?]>('resume');
/** Stop cleanly after the page in flight; the checkpoint stays consistent. */
export const cancelSignal = defineSignal<[ControlSignalArgs?]>('cancel');
