import { defineQuery } from '@temporalio/workflow';
import { z } from 'zod';
import { PipelineNameSchema } from './sync';

/**
 * Input of the `replayQuarantine` workflow: re-read quarantined source records by key and run
 * them through map, validate, plan and write now, e.g.
 * `temporal workflow start --type replayQuarantine --task-queue crm-erp-sync.sql --input '{"pipeline":"demo-accounts","rule":"countryCode"}'`
 * Without `keys`, every open entry of the pipeline matching `rule` and `field` is replayed.
 */
export const ReplayQuarantineInputSchema = z
  .object({
    pipeline: PipelineNameSchema,
    /** Only these source keys (still only open entries). */
    keys: z.array(z.string().min(1)).max(10_000, 'expected at most 10000 keys; filter by rule or field instead').optional(),
    /** Only entries quarantined by this rule, e.g. "countryCode". */
    rule: z.string().min(1).optional(),
    /** Only entries quarantined on this field, e.g. "address.countryCode". */
    field: z.string().min(1).optional(),
    /** Records per page. @default 500 */
    pageSize: z.number().int().min(1).max(10_000).optional(),
  })
  .strict();
export type ReplayQuarantineInput = z.infer<typeof ReplayQuarantineInputSchema>;

export interface ReplayTotals {
  /** Open entries selected for replay. */
  selected: number;
  /** Of those, records the source still has (read by key). */
  read: number;
  /** Selected entries whose source record is gone (left in quarantine). */
  missing: number;
  created: number;
  updated: number;
  /** Mapped equal to what the target already holds: nothing written, released. */
  unchanged: number;
  /** Failed again (attempts + 1). */
  quarantined: number;
  pages: number;
}

export const EMPTY_REPLAY_TOTALS: ReplayTotals = { selected: 0, read: 0, missing: 0, created: 0, updated: 0, unchanged: 0, quarantined: 0, pages: 0 };

export interface ReplayResult {
  pipeline: string;
  syncId: string;
  status: 'completed' | 'rejected';
  totals: ReplayTotals;
  /** Entries released from quarantine: written or found unchanged. */
  released: number;
  durationMs: number;
}

export interface ReplayProgress {
  pipeline: string;
  syncId: string;
  status: string;
  step: string;
  totals: ReplayTotals;
}

export const replayProgressQuery = defineQuery<ReplayProgress>('progress');
