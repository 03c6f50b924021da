import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { z } from 'zod';
import { stableHash } from './stable-json';

const UNIT_MS: Record<string, number> = {
  ms: 1, millisecond: 1, s: 1000, sec: 1000, second: 1000, m: 60_000, min: 60_000, minute: 60_000,
  h: 3_600_000, hr: 3_600_000, hour: 3_600_000, d: 86_400_000, day: 86_400_000, w: 604_800_000, week: 604_800_000,
};

/** Milliseconds of "2 days", "36h", "15 minutes", "1.5 hours"; NaN when not understood. */
export function durationMs(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+?)s?\s*$/i.exec(text);
  const unit = m ? UNIT_MS[m[2]!.toLowerCase()] : undefined;
  return m && unit !== undefined ? Math.round(Number(m[1]) * unit) : Number.NaN;
}

/** A duration such as "2 days", "36h" or "15 minutes". */
export const DurationSchema = z.string().refine((t) => durationMs(t) > 0, 'expected a duration such as "2 days", "36h" or "15 minutes"');

/** Who may decide, and for how long the gate waits for them. */
export const ApprovalStageSchema = z
  .object({
    /** Identities (or group members) allowed to decide at this stage. */
    approvers: z.array(z.string().min(1)).min(1, 'expected at least one approver'),
    /** How long this stage waits for a decision. */
    timeout: DurationSchema,
  })
  .strict();

/** How a gate knows who decided: `name` trusts the `approver` the caller sends (the embedded demo);
 * `signed` accepts only decisions carrying a token signed by one of the gate's `issuers`. */
export const APPROVAL_REQUIREMENTS = ['name', 'signed'] as const;
export type ApprovalRequirement = (typeof APPROVAL_REQUIREMENTS)[number];

/** The policy's fields, without the cross-field rule (orders merge a partial policy with defaults). */
export const ApprovalPolicyFieldsSchema = ApprovalStageSchema.extend({
  onTimeout: z.discriminatedUnion('action', [
    z.object({ action: z.literal('reject') }).strict(),
    z.object({ action: z.literal('escalate'), approvers: z.array(z.string().min(1)).min(1), timeout: DurationSchema }).strict(),
  ]),
  /** `name` (default) or `signed`: see APPROVAL_REQUIREMENTS. */
  require: z.enum(APPROVAL_REQUIREMENTS).optional(),
  /** Issuers whose signed decisions this gate accepts (`iss` of the token); required with `signed`. */
  issuers: z.array(z.string().min(1)).min(1, 'expected at least one issuer').optional(),
  /** Longest lifetime (exp − iat) of a decision token. @default "10 minutes" */
  tokenLifetime: DurationSchema.optional(),
}).strict();

/** A `signed` policy must say whose signatures it trusts. */
export function policyRefusal(p: { require?: ApprovalRequirement | undefined; issuers?: string[] | undefined }): string | null {
  return p.require === 'signed' && !p.issuers?.length ? 'a "signed" policy needs "issuers": the issuers whose decision tokens the gate accepts' : null;
}

/**
 * The gate's policy: the first stage's approvers decide; when nobody answers within its timeout
 * the gate either rejects, or escalates to the next approver group with its own timeout.
 */
export const ApprovalPolicySchema = ApprovalPolicyFieldsSchema.superRefine((p, ctx) => {
  const refusal = policyRefusal(p);
  if (refusal) ctx.addIssue({ code: 'custom', path: ['issuers'], message: refusal });
});
export type ApprovalPolicy = z.infer<typeof ApprovalPolicySchema>;

/**
 * What an approver sends: who, why, and the hash of the plan they looked at. With a `token` (a
 * signed decision, contracts/approval-token.ts) `approver` and `planHash` may be left out: they
 * are the token's `sub` and `plan`, and when given must equal them.
 */
export interface ApprovalDecisionArgs {
  approver?: string;
  comment?: string;
  /** The `planHash` shown by the `pendingApproval` query; a stale hash is refused. */
  planHash?: string;
  /** A decision token (JWT) from a trusted issuer; required by `require: "signed"` gates. */
  token?: string;
  /**
   * For a gate that holds `manual` conflicts (PendingApproval.conflicts): which side wins, per
   * conflict id, or for all of them: `{"all": "erp"}`, `{"crm:42:email": "crm", "all": "erp"}`.
   * A conflict named by neither stays pending. Required to approve such a gate.
   */
  winners?: Record<string, string>;
}

/** The key of `winners` that decides every conflict not named by its id. */
export const ALL_CONFLICTS = 'all';

/**
 * One `manual` conflict as a person is shown it: which record (keys), which field, and a short
 * label of each side's value (the first 8 hex digits of its stableHash), never the values: those
 * stay in the systems and the staged page, and the activity that applies the decision reads them.
 */
export interface ConflictChoice {
  /** `<side>:<key>:<field>` (the pair's first side when the record has a key there), e.g. `crm:42:email`; the key of `winners`. */
  id: string;
  keys: Record<string, string>;
  field: string;
  /** Side → short hash label of that side's value now. */
  labels: Record<string, string>;
}

/** The conflicts a gate decides: the sides that may win, the first conflicts by id, and how many in all. */
export interface GateConflicts {
  sides: string[];
  items: ConflictChoice[];
  total: number;
}

export const ConflictWinnersSchema = z.record(z.string().min(1), z.string().min(1), { error: 'expected "winners" as an object: {"all": "<side>"} or {"<conflict id>": "<side>", …}' });

/**
 * What a decision token must sign as `plan` when it carries `winners`: the gate's planHash bound
 * to the choice, so a signed approval cannot be replayed with other winners.
 */
export function decisionPlanHash(gatePlanHash: string, winners: Record<string, string>): string {
  return stableHash({ plan: gatePlanHash, winners });
}

/** The signal form carries the decision in the payload (fire-and-forget). */
export interface ApprovalSignalArgs extends ApprovalDecisionArgs {
  decision: 'approve' | 'reject';
}

export interface DecisionRecord {
  gate: string;
  planHash: string;
  decision: 'approve' | 'reject' | 'timeout' | 'escalate';
  /** `update`, `signal` or `timer` (a timeout policy decided). */
  via: 'update' | 'signal' | 'timer';
  approver: string | null;
  comment: string | null;
  /** The token's issuer when the decision was signed (absent in records from before signed decisions). */
  issuer?: string | null;
  /** The token's `jti` (never the token itself). */
  tokenId?: string | null;
  /** The winners of `manual` conflicts the decision named (gates with conflicts only). */
  winners?: Record<string, string>;
  /** False when the decision was refused (not allowed, stale plan, nothing pending). */
  accepted: boolean;
  refusal: string | null;
  /** Workflow time, ISO-8601. */
  at: string;
}

export interface PendingApproval {
  gate: string;
  planHash: string;
  /** Why the gate is closed, e.g. "amount 12000.00 EUR above limit 10000.00". */
  reasons: string[];
  /** A short, human summary of the plan being approved. */
  summary: string;
  approvers: string[];
  /** `signed`: only a decision token is accepted (see `issuers`); `name`: the approver's name is. */
  require: ApprovalRequirement;
  /** Issuers whose decision tokens the gate accepts; null: any issuer the worker has a key for. */
  issuers: string[] | null;
  /** Longest accepted token lifetime, seconds. */
  tokenLifetimeSeconds: number;
  /** 1 for the first approver group, 2 after escalation. */
  stage: number;
  requestedAt: string;
  deadline: string;
  /** `manual` conflicts this gate decides: approve with `winners`. */
  conflicts?: GateConflicts;
}

export interface ApprovalState {
  pending: PendingApproval | null;
  decisions: DecisionRecord[];
}

export interface ApprovalOutcome {
  gate: string;
  planHash: string;
  approved: boolean;
  decidedBy: string | null;
  /** Issuer of the decision token, when signed. */
  issuer?: string | null;
  comment: string | null;
  /** `timeout` when the policy decided for nobody. */
  via: DecisionRecord['via'];
  escalated: boolean;
  at: string;
  /** For a gate with conflicts: the winners of an approval. */
  winners?: Record<string, string>;
}

/** Synchronous decisions: the caller learns at once whether it was accepted, or why not. */
export const approveUpdate = defineUpdate<ApprovalOutcome, [ApprovalDecisionArgs]>('approve');
export const rejectUpdate = defineUpdate<ApprovalOutcome, [ApprovalDecisionArgs]>('reject');
/** Fire-and-forget decisions; refused ones are recorded in the decision log. */
export const approvalDecisionSignal = defineSignal<[ApprovalSignalArgs]>('approvalDecision');
export const pendingApprovalQuery = defineQuery<ApprovalState>('pendingApproval');

/** Deterministic 64-bit FNV-1a hash of a plan (pure, usable inside workflows). */
export function planHash(plan: unknown): string {
  return stableHash(plan);
}
