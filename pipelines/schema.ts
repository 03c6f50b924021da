import { z } from 'zod';
import { PipelineNameSchema } from '../contracts/sync';
import { PIPELINE_FAMILIES } from '../contracts/queues';
import { PipelineScheduleSchema } from '../contracts/schedules';
import { ApprovalPolicySchema } from '../contracts/approval';

/**
 * When a page's plan needs a human: more updates (or creates) than a limit, or a watched field
 * (a price, a credit limit) changing by more than a percentage on any record.
 */
export const SyncApprovalSchema = z
  .object({
    maxUpdates: z.number().int().min(0).optional(),
    maxCreates: z.number().int().min(0).optional(),
    /** Canonical field paths whose relative change is watched, e.g. "listPrice.amountMinor". */
    watchFields: z.array(z.string().min(1)).default([]),
    /** Largest change of a watched field, in percent, that needs no approval. */
    maxChangePercent: z.number().min(0).default(20),
    policy: ApprovalPolicySchema,
  })
  .strict();
export type SyncApproval = z.infer<typeof SyncApprovalSchema>;

const EndpointSchema = z
  .object({
    /** A system name from config/systems.json. */
    system: z.string().min(1),
    /** An entity of that system (a table, an object type). */
    entity: z.string().min(1),
  })
  .strict();

/** A pipeline file (config/pipelines/<name>.json): one named, one-way sync. */
export const PipelineSchema = z
  .object({
    name: PipelineNameSchema,
    description: z.string().optional(),
    /** Decides the task queue (contracts/queues.ts). */
    family: z.enum(PIPELINE_FAMILIES as [string, ...string[]]),
    source: EndpointSchema,
    target: EndpointSchema,
    /** A mapping name from mappings/definitions/. */
    mapping: z.string().min(1),
    mode: z.enum(['incremental', 'full']).default('incremental'),
    /** Records per page (one fetch, one batch write). @default 1000 */
    pageSize: z.number().int().min(1).max(10_000).default(1000),
    /** Pages per workflow run before continue-as-new. @default 50 */
    pagesPerRun: z.number().int().min(1).max(200).default(50),
    /** Re-read this far behind the checkpoint at each run, for late commits. @default 0 */
    lookbackSeconds: z.number().int().min(0).max(7 * 24 * 3600).default(0),
    /** Run on a Temporal Schedule (applied by `npm run schedules`). */
    schedule: PipelineScheduleSchema.optional(),
    /** Hold a page's plan for approval when it crosses these limits. */
    approval: SyncApprovalSchema.optional(),
  })
  .strict();
export type Pipeline = z.infer<typeof PipelineSchema>;
