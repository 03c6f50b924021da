import { defineQuery } from '@temporalio/workflow';
import { z } from 'zod';
import { CursorSchema, type Cursor } from './cursor';
import { PagesPerRunSchema, PageSizeSchema, PipelineNameSchema, type SyncStatus } from './sync';

/**
 * Reconciliation of a pair (`reconcilePair`): read both sides in full, compare every linked
 * record field by field in canonical space, find hard deletes, orphans, natural-key duplicates
 * and first links by the pair's match rules, and report the drift (a JSON report in the state
 * store plus a readable summary); with `repair: true`, repair it through the normal planner and
 * approval gate.
 */

/** The categories of drift a report lists (each with its own items and count). */
export const DRIFT_CATEGORIES = ['missing', 'orphan', 'field', 'duplicate', 'ambiguous', 'matched'] as const;
export type DriftCategory = (typeof DRIFT_CATEGORIES)[number];

/** One item of drift. */
export interface DriftItem {
  category: DriftCategory;
  /**
   * `missing`: the side whose record is gone (the link says it existed: a hard delete);
   * `orphan`: the side holding a record no link knows and no rule matches;
   * `duplicate`: the side holding the records that share a natural key;
   * `ambiguous`: the side of the record that has several candidates.
   */
  side?: string;
  link?: string;
  /** Side name → that side's record key. */
  keys: Record<string, string>;
  /** `field`: the canonical field unit that differs. */
  field?: string;
  /** `field`: side name → value now. */
  values?: Record<string, unknown>;
  /** `field`: the sides whose value differs from the link's last synced value. */
  changedOn?: string[];
  /** `duplicate`: the records sharing the key; `ambiguous`: the competing records of the other side. */
  candidates?: string[];
  /** `duplicate`/`ambiguous`/`matched`: the match rule (index into the pair's `match`) and natural key. */
  rule?: number;
  matchKey?: string;
  note?: string;
}

export const ReconcileCountsSchema = z.object({
  /** Records read per side. */
  read: z.record(z.string(), z.number().int()),
  /** Linked records present on both sides and compared field by field. */
  compared: z.number().int(),
  /** Records a side's mapping refuses (quarantined by syncPair; not compared). */
  unmappable: z.record(z.string(), z.number().int()),
  /** Unlinked records archived on their own side (never created on the other one): not drift. */
  archivedUnlinked: z.record(z.string(), z.number().int()),
  /** Linked records skipped: tombstoned links, or archived on a side. */
  skipped: z.number().int(),
  /** Links whose record is gone on that side (hard deletes), per side. */
  missing: z.record(z.string(), z.number().int()),
  /** Records with no link and no match by the pair's rules, per side. */
  orphans: z.record(z.string(), z.number().int()),
  /** Field units that differ between linked records, and how many records hold them. */
  fieldDiffs: z.number().int(),
  recordsWithDiffs: z.number().int(),
  /** Groups of records of one side that share a natural key, per side. */
  duplicates: z.record(z.string(), z.number().int()),
  /** Unlinked records matched by the rules whose values agree: linked now, nothing written. */
  linkedByMatch: z.number().int(),
  /** Matched records whose values differ: linked by a repair, through the planner. */
  matchedWithDiffs: z.number().int(),
  /** Records held in quarantine because a rule found several candidates. */
  ambiguous: z.number().int(),
});
export type ReconcileCounts = z.infer<typeof ReconcileCountsSchema>;

export const emptyReconcileCounts = (sides: readonly string[]): ReconcileCounts => {
  const zero = () => Object.fromEntries(sides.map((s) => [s, 0])) as Record<string, number>;
  return {
    read: zero(), compared: 0, unmappable: zero(), archivedUnlinked: zero(), skipped: 0, missing: zero(), orphans: zero(),
    fieldDiffs: 0, recordsWithDiffs: 0, duplicates: zero(), linkedByMatch: 0, matchedWithDiffs: 0, ambiguous: 0,
  };
};

/** Total drift: what a clean pair reports as 0. */
export function driftTotal(c: ReconcileCounts): number {
  const sum = (r: Record<string, number>) => Object.values(r).reduce((n, v) => n + v, 0);
  return sum(c.missing) + sum(c.orphans) + c.recordsWithDiffs + sum(c.duplicates) + c.matchedWithDiffs + c.ambiguous;
}

/** What a repair wrote, per side. */
export interface RepairTotals {
  /** Records planned (drifted linked records, matched and orphan records). */
  planned: number;
  pages: number;
  created: Record<string, number>;
  updated: Record<string, number>;
  archived: Record<string, number>;
  deleted: Record<string, number>;
  quarantined: Record<string, number>;
  /** Records whose plan was written (each with its link and write ledger). */
  records: number;
}

/** One staged repair plan (a page of one side's drifted records), between planning and writing. */
export const RepairPlanRefSchema = z.object({
  side: z.string(),
  seq: z.number().int(),
  planPageId: z.string(),
  planHash: z.string(),
  ops: z.number().int(),
});
export type RepairPlanRef = z.infer<typeof RepairPlanRefSchema>;

export const RECONCILE_PHASES = ['scan', 'match', 'plan', 'write', 'report'] as const;
export type ReconcilePhase = (typeof RECONCILE_PHASES)[number];

export const ReconcileContinuationSchema = z.object({
  reconId: z.string(),
  startedAtMs: z.number(),
  runIndex: z.number().int().min(1),
  phase: z.enum(RECONCILE_PHASES),
  /** `scan`/`plan`: index of the side being read. */
  sideIndex: z.number().int().min(0).max(2),
  /** `scan`: where the side's keyset reading stands. */
  cursor: CursorSchema.nullable(),
  /** `plan`: last repair row planned on the side. */
  afterSeq: z.number().int(),
  pages: z.number().int(),
  counts: ReconcileCountsSchema,
  plans: z.array(RepairPlanRefSchema),
  /** `write`: plans written so far. */
  written: z.number().int(),
  writes: z.record(z.string(), z.record(z.string(), z.number().int())),
  repair: z.record(z.string(), z.unknown()).nullable(),
  gated: z.array(z.string()).default([]),
  approvals: z.array(z.record(z.string(), z.unknown())).default([]),
  /** Activity attempts after the first so far (0 in continuations from before it was counted). */
  retries: z.number().int().default(0),
});
export type ReconcileContinuation = z.infer<typeof ReconcileContinuationSchema>;

/**
 * Input of the `reconcilePair` workflow, e.g.
 * `temporal workflow start --type reconcilePair --task-queue crm-erp-sync.sql --input '{"pair":"demo-customers","repair":false}'`
 */
export const ReconcilePairInputSchema = z
  .object({
    /** Pair name, as in config/pairs/<name>.json. */
    pair: PipelineNameSchema,
    /** Repair the drift under the pair's policy (planner, limits, approval gate). @default false: report only. */
    repair: z.boolean({ error: 'expected true or false' }).optional(),
    /** Records per page and side; overrides the pair's pageSize. */
    pageSize: PageSizeSchema.optional(),
    /** Pages per workflow run before continue-as-new; overrides the pair's pagesPerRun. */
    pagesPerRun: PagesPerRunSchema.optional(),
    /** Internal: state carried by continue-as-new. */
    continuation: ReconcileContinuationSchema.optional(),
  })
  .strict();
export type ReconcilePairInput = z.infer<typeof ReconcilePairInputSchema>;

export interface ReconcilePairResult {
  pair: string;
  reconId: string;
  /** `rejected`: a repair crossed the pair's limits and was not approved (nothing written). */
  status: 'completed' | 'cancelled' | 'rejected';
  repair: boolean;
  counts: ReconcileCounts;
  /** Sum of the drift categories (0: both sides agree). */
  drift: number;
  /** The full JSON report in the state store (`store.loadPage(reportId)`). */
  reportId: string;
  /** Counts and the first items of each category, one per line. */
  summary: string;
  repaired: RepairTotals | null;
  /** Why the repair needed approval (empty: it did not). */
  gated: string[];
  approvals: Record<string, unknown>[];
  runs: number;
  durationMs: number;
  /** Activity attempts after the first that the reconciliation needed (faults it rode out). */
  retries: number;
}

/** The report stored in the state store. */
export interface ReconcileReport {
  pair: string;
  reconId: string;
  repair: boolean;
  startedAt: string;
  finishedAt: string;
  sides: [string, string];
  counts: ReconcileCounts;
  /** Category → items (at most REPORT_ITEMS_MAX each; `truncated` names the categories cut). */
  items: Record<DriftCategory, DriftItem[]>;
  truncated: DriftCategory[];
  repaired: RepairTotals | null;
}

export interface ReconcileProgress {
  pair: string;
  reconId: string;
  status: SyncStatus;
  phase: ReconcilePhase;
  step: string;
  side: string | null;
  counts: ReconcileCounts;
  pages: number;
  runIndex: number;
  cursor: Cursor | null;
  pausedBy: string | null;
  startedAtMs: number;
  /** Activity attempts after the first so far. */
  retries: number;
}

/** The same query name as syncPipeline's and syncPair's: `temporal workflow query --type progress` works on all. */
export const reconcileProgressQuery = defineQuery<ReconcileProgress>('progress');
