import { z } from 'zod';
import { ApprovalPolicySchema } from './approval';
import { PIPELINE_FAMILIES } from './queues';
import { PipelineScheduleSchema } from './schedules';
import { PipelineNameSchema } from './sync';

/**
 * A sync pair (config/pairs/<name>.json): two named sides kept in step field by field, through
 * one canonical entity. Checks that need the registry (systems, mappings, canonical paths) are
 * made by pipelines/load.ts; this schema checks what the file alone can tell.
 */

/** Why a side name is refused, or null: short lowercase names such as "crm"; "both" and "default" are reserved. */
function sideNameProblem(name: string): string | null {
  if (name === 'both' || name === 'default') return `"both" and "default" are reserved words, not side names`;
  return /^[a-z][a-z0-9-]{0,30}$/.test(name) ? null : 'expected a short lowercase side name such as "crm" or "erp"';
}

export const PairSideSchema = z
  .object({
    /** A system name from config/systems.json. */
    system: z.string().min(1),
    /** An entity of that system. */
    entity: z.string().min(1),
    /** A mapping (mappings/definitions/) from this side's native records into the pair's canonical entity. */
    mapping: z.string().min(1),
    /** May records be created on this side for records found only on the other one. @default true */
    create: z.boolean().default(true),
    /**
     * A canonical field whose value marks a record as soft-deleted (archived) on this side,
     * e.g. {"field": "active", "equals": false}. The reader may also flag deletes itself.
     */
    softDelete: z.object({ field: z.string().min(1), equals: z.unknown() }).strict().optional(),
  })
  .strict();
export type PairSide = z.infer<typeof PairSideSchema>;

export const NORMALISATIONS = ['trim', 'lower', 'whitespace'] as const;
export type Normalisation = (typeof NORMALISATIONS)[number];

/** First-link rules, tried in order: the canonical external key, or natural keys (normalised). */
export const MatchRuleSchema = z.discriminatedUnion('by', [
  z.object({ by: z.literal('externalKey') }).strict(),
  z
    .object({
      by: z.literal('fields'),
      /** Canonical paths whose values together form the natural key, e.g. ["name", "address.countryCode"]. */
      fields: z.array(z.string().min(1)).min(1, 'expected at least one canonical field path'),
      /** @default ["trim", "lower", "whitespace"] */
      normalise: z.array(z.enum(NORMALISATIONS)).default([...NORMALISATIONS]),
    })
    .strict(),
]);
export type MatchRule = z.infer<typeof MatchRuleSchema>;

export const CONFLICT_POLICIES = ['owner-wins', 'latest-wins', 'manual'] as const;
export type ConflictPolicy = (typeof CONFLICT_POLICIES)[number];

/**
 * Who may change a field, and how a change on both sides is settled. A field owned by one side
 * always settles owner-wins (`conflict` may be left out); a field owned by `both` needs
 * `latest-wins` (by the records' modified time) or `manual` (a person decides).
 */
export const FieldPolicySchema = z
  .object({
    owner: z.string().min(1),
    conflict: z.enum(CONFLICT_POLICIES).optional(),
  })
  .strict()
  .superRefine((f, ctx) => {
    if (f.owner === 'both' && (f.conflict === undefined || f.conflict === 'owner-wins')) {
      ctx.addIssue({
        code: 'custom',
        path: ['conflict'],
        message: 'a field owned by "both" needs "conflict": "latest-wins" or "manual" ("owner-wins" requires a single owner)',
      });
    }
    if (f.owner !== 'both' && f.conflict !== undefined && f.conflict !== 'owner-wins') {
      ctx.addIssue({
        code: 'custom',
        path: ['conflict'],
        message: `a field owned by one side settles "owner-wins"; use "owner": "both" for "${f.conflict}"`,
      });
    }
  })
  .transform((f) => ({ owner: f.owner, conflict: f.conflict ?? ('owner-wins' as ConflictPolicy) }));
export type FieldPolicy = z.infer<typeof FieldPolicySchema>;

export const DeletePolicySchema = z
  .object({
    /** What a delete on one side does to the other: nothing, archive it (`active: false`), or delete it. */
    policy: z.enum(['ignore', 'archive', 'delete']),
    /** A run deleting (or archiving) more than this percentage of a side waits for approval. @default 10 */
    maxPercent: z.number().min(0).max(100).default(10),
  })
  .strict();
export type DeletePolicy = z.infer<typeof DeletePolicySchema>;

/** When a run's plan needs a human (same meaning as a pipeline's `approval` limits). */
export const PairLimitsSchema = z
  .object({
    maxUpdates: z.number().int().min(0).optional(),
    maxCreates: z.number().int().min(0).optional(),
    /** Canonical field paths whose relative change is watched, e.g. "creditLimit.amountMinor". */
    watchFields: z.array(z.string().min(1)).default([]),
    /** Largest change of a watched field, in percent, that needs no approval. @default 20 */
    maxChangePercent: z.number().min(0).default(20),
    /** Who approves a gated plan; without it a gated plan is refused. */
    approval: ApprovalPolicySchema.optional(),
  })
  .strict();
export type PairLimits = z.infer<typeof PairLimitsSchema>;

export const PairSchema = z
  .object({
    name: PipelineNameSchema,
    description: z.string().optional(),
    family: z.enum(PIPELINE_FAMILIES as [string, ...string[]]),
    /** Exactly two sides by name, in the order used to break ties. */
    sides: z.record(z.string(), PairSideSchema),
    /** The canonical entity both sides map into (mappings/canonical.ts), e.g. "Customer". */
    canonical: z.string().min(1),
    /** First-link rules, tried in order. @default [{"by": "externalKey"}] */
    match: z.array(MatchRuleSchema).min(1).default([{ by: 'externalKey' }]),
    /** Canonical path → ownership; "default" covers every field not listed. */
    fields: z.record(z.string().min(1), FieldPolicySchema),
    deletes: DeletePolicySchema.default({ policy: 'ignore', maxPercent: 10 }),
    limits: PairLimitsSchema.default({ watchFields: [], maxChangePercent: 20 }),
    /** Records per page and side. @default 1000 */
    pageSize: z.number().int().min(1).max(10_000).default(1000),
    /** Pages per workflow run before continue-as-new. @default 50 */
    pagesPerRun: z.number().int().min(1).max(200).default(50),
    schedule: PipelineScheduleSchema.optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
    const names = Object.keys(p.sides);
    if (names.length !== 2) {
      ctx.addIssue({ code: 'custom', path: ['sides'], message: `expected exactly two sides, e.g. {"crm": {…}, "erp": {…}}; got ${names.length}` });
      return;
    }
    for (const n of names) {
      const problem = sideNameProblem(n);
      if (problem) ctx.addIssue({ code: 'custom', path: ['sides', n], message: problem });
    }
    if (!('default' in p.fields)) {
      ctx.addIssue({
        code: 'custom',
        path: ['fields'],
        message: `add a "default" entry for the fields not listed, e.g. "default": {"owner": "both", "conflict": "latest-wins"}`,
      });
    }
    for (const [path, f] of Object.entries(p.fields)) {
      if (f.owner !== 'both' && !names.includes(f.owner)) {
        ctx.addIssue({ code: 'custom', path: ['fields', path, 'owner'], message: `expected "${names[0]}", "${names[1]}" or "both", got "${f.owner}"` });
      }
    }
  });
export type Pair = z.infer<typeof PairSchema>;

/** The two side names in config order (the order that breaks ties). */
export function sideNamesOf(pair: Pick<Pair, 'sides'>): [string, string] {
  const [a, b] = Object.keys(pair.sides);
  return [a!, b!];
}
