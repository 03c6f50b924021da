import { z } from 'zod';
import { CursorSchema, type Cursor } from './cursor';
import { PagesPerRunSchema, PageSizeSchema, PipelineNameSchema, type SyncStatus } from './sync';
import { defineQuery } from '@temporalio/workflow';
import type { PlanSummary } from './plan';

/** What one side of a pair saw and had written during a sync. */
export const PairSideTotalsSchema = z.object({
  /** Changed records read from this side. */
  read: z.number().int(),
  /** Records created on this side (for records only the other side had). */
  created: z.number().int(),
  /** Records on this side that received a patch (only the changed fields). */
  updated: z.number().int(),
  /** Records archived (or restored) on this side because the other side archived (restored) theirs. */
  archived: z.number().int(),
  deleted: z.number().int(),
  /** Values read back from this side that were our own earlier writes: not changes, not sent anywhere. */
  echoes: z.number().int(),
  /** Edits on this side to fields the other side owns: not propagated, the owner's value restored. */
  rejected: z.number().int(),
  quarantined: z.number().int(),
});
export type PairSideTotals = z.infer<typeof PairSideTotalsSchema>;

export const EMPTY_SIDE_TOTALS: PairSideTotals = { read: 0, created: 0, updated: 0, archived: 0, deleted: 0, echoes: 0, rejected: 0, quarantined: 0 };

export const PairTotalsSchema = z.object({
  sides: z.record(z.string(), PairSideTotalsSchema),
  /** Linked records where nothing was written. */
  unchanged: z.number().int(),
  /** Records linked for the first time (by external key) this sync. */
  linked: z.number().int(),
  /** Fields changed differently on both sides, settled by policy (or pending for a person). */
  conflicts: z.number().int(),
  /** `manual` conflicts left for a person: nothing was written for those fields. */
  pendingConflicts: z.number().int(),
  pages: z.number().int(),
  /** Activity attempts after the first that the sync's pages needed (0 in continuations from before it was counted). */
  retries: z.number().int().default(0),
});
export type PairTotals = z.infer<typeof PairTotalsSchema>;

/** One conflict or rejected edit, as shown in the result (the first few of a sync). */
export interface PairNotice {
  kind: 'conflict' | 'rejected' | 'ambiguous';
  link?: string;
  /** Side name → that side's key. */
  keys: Record<string, string>;
  field: string;
  /** Side name → value (empty for a `manual` conflict: see `labels`). */
  values: Record<string, unknown>;
  /** For a `manual` conflict: side name → short hash label of its value (values stay out of history). */
  labels?: Record<string, string>;
  /** The winning side, `pending`, or for a rejected edit the owner whose value was restored. */
  resolution: string;
  policy?: string;
  /** Who decided a `manual` conflict. */
  decidedBy?: string;
}

/** One approval gate on `manual` conflicts during a sync, and what came of it. */
export interface PairConflictGate {
  gate: string;
  side: string;
  /** Pending conflicts shown to the person. */
  conflicts: number;
  /** Settled by the decision and written; the rest stayed pending. */
  decided: number;
  pending: number;
  /** `approved`, `rejected` or `timeout` (nobody decided in time). */
  outcome: 'approved' | 'rejected' | 'timeout';
  decidedBy: string | null;
  via: string;
  at: string;
  /** Conflict id (or `all`) → winning side, as decided. */
  winners: Record<string, string>;
}

export const PairContinuationSchema = z.object({
  syncId: z.string(),
  startedAtMs: z.number(),
  runIndex: z.number().int().min(1),
  /** The side being read, and where each side's reading stands. */
  sideIndex: z.number().int().min(0).max(2),
  cursors: z.record(z.string(), CursorSchema.nullable()),
  totals: PairTotalsSchema,
  notices: z.array(z.record(z.string(), z.unknown())).default([]),
  approvals: z.array(z.record(z.string(), z.unknown())).default([]),
  conflictGates: z.array(z.record(z.string(), z.unknown())).default([]),
  /** `manual` conflicts (id@labels) already put to a person in this sync. */
  askedConflicts: z.array(z.string()).default([]),
});
export type PairContinuation = z.infer<typeof PairContinuationSchema>;

/**
 * Input of the `syncPair` workflow, e.g.
 * `temporal workflow start --type syncPair --task-queue crm-erp-sync.sql --input '{"pair":"demo-customers"}'`
 */
export const SyncPairInputSchema = z
  .object({
    /** Pair name, as in config/pairs/<name>.json. */
    pair: PipelineNameSchema,
    /**
     * `incremental` (default) reads each side's changes since its checkpoint; `full` reads both sides whole;
     * `dry-run` plans every page of both sides like `incremental`, writes nothing, and stores the plan
     * (apply it with the `applyPairPlan` workflow or `crm-erp-sync apply <planId>`).
     */
    mode: z.enum(['incremental', 'full', 'dry-run'], { error: 'expected "incremental", "full" or "dry-run"' }).optional(),
    /** Records per page and side; overrides the pair's pageSize. */
    pageSize: PageSizeSchema.optional(),
    /** Pages per workflow run before continue-as-new. */
    pagesPerRun: PagesPerRunSchema.optional(),
    /** Internal: state carried by continue-as-new. */
    continuation: PairContinuationSchema.optional(),
  })
  .strict();
export type SyncPairInput = z.infer<typeof SyncPairInputSchema>;

export interface SyncPairResult {
  pair: string;
  syncId: string;
  status: 'completed' | 'cancelled' | 'rejected';
  mode: 'incremental' | 'full' | 'dry-run';
  /** A dry run's stored plan (mode `dry-run`, completed). */
  plan?: PlanSummary;
  totals: PairTotals;
  /** The first conflicts, rejected edits and ambiguous first links of the sync (all are in the run report). */
  notices: PairNotice[];
  cursors: Record<string, Cursor | null>;
  runs: number;
  durationMs: number;
  approvals: Record<string, unknown>[];
  /** Every approval gate on `manual` conflicts, with who decided and how many were settled. */
  conflictGates: PairConflictGate[];
}

export interface PairProgress {
  pair: string;
  syncId: string;
  status: SyncStatus;
  step: string;
  /** The side whose changes are being read. */
  side: string | null;
  totals: PairTotals;
  runIndex: number;
  cursors: Record<string, Cursor | null>;
  pausedBy: string | null;
  startedAtMs: number;
}

/** The same query name as syncPipeline's, so `temporal workflow query --type progress` works on both. */
export const pairProgressQuery = defineQuery<PairProgress>('progress');

/** Checkpoint name of one side of a pair in the state store. */
export const pairCheckpoint = (pair: string, side: string): string => `pair:${pair}:${side}`;

/** What a pair page's write did on each side (side name → records). */
export interface PairWriteCounts {
  created: Record<string, number>;
  updated: Record<string, number>;
  deleted: Record<string, number>;
  quarantined: Record<string, number>;
}

/** A pair write that wrote nothing: zero on each side (where a write's counts start, and a stale page's answer). */
export function nothingWritten(sides: readonly string[]): PairWriteCounts {
  const zero = () => Object.fromEntries(sides.map((s) => [s, 0]));
  return { created: zero(), updated: zero(), deleted: zero(), quarantined: zero() };
}

/** A pair write's answer for a page planned against links that moved since: nothing written, planned again. */
export const staleWrite = (sides: readonly string[]): PairWriteCounts & { stale: true } => ({ ...nothingWritten(sides), stale: true });
