import { ActivityFailure, ApplicationFailure, condition, log, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  approvalDecisionSignal,
  approveUpdate,
  durationMs,
  pendingApprovalQuery,
  rejectUpdate,
  type ApprovalDecisionArgs,
  type ApprovalOutcome,
  type ApprovalPolicy,
  type ApprovalState,
  ALL_CONFLICTS,
  ConflictWinnersSchema,
  decisionPlanHash,
  type DecisionRecord,
  type GateConflicts,
  type PendingApproval,
} from '../contracts/approval';
import { claimsRefusal, decodeDecisionToken, DEFAULT_TOKEN_LIFETIME, type DecisionExpectation, type DecodedDecisionToken } from '../contracts/approval-token';
import { VERIFY } from './options';

const verifying = proxyActivities<Pick<Activities, 'verifyApprovalToken'>>(VERIFY);

/** What a workflow asks a gate to approve. */
export interface ApprovalRequest {
  gate: string;
  /** Hash of exactly the plan that will be applied when approved (contracts/approval planHash). */
  planHash: string;
  reasons: string[];
  summary: string;
  policy: ApprovalPolicy;
  /** `manual` conflicts to decide: an approval must then name their `winners`. */
  conflicts?: GateConflicts;
}

/** The failure type an update caller sees when its decision is refused. */
export const APPROVAL_REFUSED = 'ApprovalRefused';

/** Workflow time, ISO-8601. */
export const nowIso = (): string => new Date(Date.now()).toISOString();

type Decision = 'approve' | 'reject';

/** Who decided, once the arguments (and the token's claims, if any) passed every check. */
interface Decider {
  approver: string;
  planHash: string;
  comment: string | null;
  issuer: string | null;
  tokenId: string | null;
  /** The winners of the gate's conflicts (gates with conflicts only). */
  winners: Record<string, string> | null;
}

type Checked = { refusal: string; decider?: undefined; token?: undefined } | { refusal?: undefined; decider: Decider; token: DecodedDecisionToken | null };

/**
 * The approval gate of one workflow execution: install once (it registers the `approve` and
 * `reject` updates, the `approvalDecision` signal and the `pendingApproval` query), then
 * `request()` each time a plan needs a human. Every decision is logged with who and when,
 * including refused ones (refused updates are rejected by the validator before reaching
 * history; those a handler still sees, e.g. a second decision racing the first, are logged).
 *
 * Signed decisions (`token`): the validator checks everything that needs no key (structure,
 * issuer allowed on the gate, workflow/gate/plan/decision binding, expiry and lifetime against
 * workflow time, subject allowed, token id unused) and refuses before history. The signature
 * needs the issuer's key, which never enters the sandbox: the handler has the
 * `verifyApprovalToken` activity check it on the worker, and only a verified token decides; a
 * refused one is logged as refused (never as a decision) and the gate stays pending. Decisions
 * without a token take the same synchronous path as before, so recorded histories replay.
 */
export class ApprovalGate {
  private pending: PendingApproval | null = null;
  private outcome: ApprovalOutcome | null = null;
  private readonly decisions: DecisionRecord[] = [];

  constructor() {
    const validator = (decision: Decision) => (args: ApprovalDecisionArgs): void => {
      const { refusal } = this.check(args, decision);
      if (refusal) throw ApplicationFailure.nonRetryable(refusal, APPROVAL_REFUSED);
    };
    const handler = (decision: Decision) => (args: ApprovalDecisionArgs): ApprovalOutcome | Promise<ApprovalOutcome> => {
      // Validators do not run on replay: check again (against replayed state, deterministically).
      const c = this.check(args, decision);
      if (c.refusal !== undefined) {
        this.record(decision, 'update', args, c.refusal);
        throw ApplicationFailure.nonRetryable(c.refusal, APPROVAL_REFUSED);
      }
      if (!c.token) return this.decide(decision, 'update', c.decider);
      return this.verified(decision, 'update', args, c.token).then((r) => {
        if (r.refusal !== undefined) throw ApplicationFailure.nonRetryable(r.refusal, APPROVAL_REFUSED);
        return this.decide(decision, 'update', r.decider);
      });
    };
    setHandler(approveUpdate, handler('approve'), { validator: validator('approve'), description: 'approve the pending plan' });
    setHandler(rejectUpdate, handler('reject'), { validator: validator('reject'), description: 'reject the pending plan' });
    setHandler(approvalDecisionSignal, (args) => {
      // A signal has no validator: refuse here (check() also covers a missing payload) and log it.
      const decision = args?.decision === 'reject' ? 'reject' : 'approve';
      const c = this.check(args, decision);
      if (c.refusal !== undefined) {
        log.warn('approval decision refused', { refusal: c.refusal, approver: args?.approver ?? null });
        this.record(decision, 'signal', args ?? null, c.refusal);
        return;
      }
      if (!c.token) {
        this.decide(decision, 'signal', c.decider);
        return;
      }
      return this.verified(decision, 'signal', args, c.token).then((r) => {
        if (r.refusal !== undefined) log.warn('approval decision refused', { refusal: r.refusal, approver: args.approver ?? null });
        else this.decide(decision, 'signal', r.decider);
      });
    });
    setHandler(pendingApprovalQuery, () => this.state());
  }

  state(): ApprovalState {
    return { pending: this.pending ? { ...this.pending } : null, decisions: this.decisions.map((d) => ({ ...d })) };
  }

  /** Wait for a decision on `req`, applying the gate's timeout policy. */
  async request(req: ApprovalRequest): Promise<ApprovalOutcome> {
    this.outcome = null;
    const open = (approvers: string[], stage: number, timeout: string): number => {
      const ms = durationMs(timeout);
      this.pending = {
        gate: req.gate, planHash: req.planHash, reasons: [...req.reasons], summary: req.summary, approvers: [...approvers],
        require: req.policy.require ?? 'name', issuers: req.policy.issuers ? [...req.policy.issuers] : null,
        tokenLifetimeSeconds: Math.floor(durationMs(req.policy.tokenLifetime ?? DEFAULT_TOKEN_LIFETIME) / 1000), stage,
        requestedAt: nowIso(), deadline: new Date(Date.now() + ms).toISOString(),
        ...(req.conflicts ? { conflicts: { sides: [...req.conflicts.sides], items: req.conflicts.items.map((c) => ({ ...c })), total: req.conflicts.total } } : {}),
      };
      return ms;
    };
    try {
      if (await condition(() => this.outcome !== null, open(req.policy.approvers, 1, req.policy.timeout))) return this.outcome!;
      const onTimeout = req.policy.onTimeout;
      if (onTimeout.action === 'escalate') {
        this.record('escalate', 'timer', null, null);
        if (await condition(() => this.outcome !== null, open(onTimeout.approvers, 2, onTimeout.timeout))) return this.outcome!;
      }
      this.record('timeout', 'timer', null, null);
      return { gate: req.gate, planHash: req.planHash, approved: false, decidedBy: null, comment: 'nobody decided in time', via: 'timer', escalated: onTimeout.action === 'escalate', at: nowIso() };
    } finally {
      this.pending = null;
    }
  }

  /**
   * Every check that needs no key, against the pending gate: the validator's, the handler's and
   * the signal's. For a token, its claims stand for `approver` and `planHash`.
   */
  private check(args: ApprovalDecisionArgs | undefined, decision: Decision): Checked {
    const p = this.pending;
    if (!args || typeof args !== 'object') return { refusal: 'a decision is required: pass {"approver":"<id>","planHash":"<hash>","comment":"…"} or {"token":"<decision token>"}' };
    const comment = typeof args.comment === 'string' ? args.comment : null;
    if (args.token === undefined) {
      if (typeof args.approver !== 'string' || !args.approver) return { refusal: 'approver is required: pass {"approver":"<id>","planHash":"<hash>","comment":"…"}' };
      if (typeof args.planHash !== 'string' || !args.planHash) return { refusal: 'planHash is required: read it with the pendingApproval query' };
    }
    if (!p || this.outcome !== null) return { refusal: `no approval is pending${p ? ` (gate "${p.gate}" is already decided)` : ''}` };
    const w = winnersOf(args.winners, decision, p);
    if ('refusal' in w) return { refusal: w.refusal };
    const winners = w.winners;
    if (args.token === undefined) {
      if (p.require === 'signed') {
        return { refusal: `gate "${p.gate}" requires a signed decision: pass {"token":"<decision token>"} issued by ${p.issuers?.join(', ') ?? 'a trusted issuer'}; a name alone is not accepted` };
      }
      if (args.planHash !== p.planHash) return { refusal: stalePlan(args.planHash!, p) };
      if (!p.approvers.includes(args.approver!)) return { refusal: notAllowed(args.approver!, p) };
      return { decider: { approver: args.approver!, planHash: args.planHash!, comment, issuer: null, tokenId: null, winners }, token: null };
    }
    const token = decodeDecisionToken(args.token);
    if ('error' in token) return { refusal: token.error };
    const c = token.claims;
    if (args.approver !== undefined && args.approver !== c.sub) return { refusal: `approver "${String(args.approver)}" is not the token's subject "${c.sub}"` };
    // With winners the token signs the plan bound to them (decisionPlanHash); planHash, if given, is the gate's.
    if (args.planHash !== undefined && args.planHash !== (winners ? p.planHash : c.plan)) return { refusal: `planHash ${String(args.planHash)} is not the token's plan ${c.plan}` };
    const refusal = claimsRefusal(c, this.expectation(p, decision, winners));
    if (refusal) return { refusal };
    if (this.decisions.some((d) => d.tokenId === c.jti && d.issuer === c.iss)) return { refusal: `token ${c.jti} of "${c.iss}" was already used` };
    return { decider: { approver: c.sub, planHash: winners ? p.planHash : c.plan, comment, issuer: c.iss, tokenId: c.jti, winners }, token };
  }

  private expectation(p: PendingApproval, decision: Decision, winners: Record<string, string> | null = null): DecisionExpectation {
    return {
      workflowId: workflowInfo().workflowId, gate: p.gate, planHash: winners ? decisionPlanHash(p.planHash, winners) : p.planHash, decision, approvers: [...p.approvers], issuers: p.issuers,
      nowMs: Date.now(), openedAtMs: Date.parse(p.requestedAt), maxLifetimeSeconds: p.tokenLifetimeSeconds, stage: p.stage,
    };
  }

  /** Verify a token's signature on the worker, then check the gate again: it may have moved on meanwhile. */
  private async verified(decision: Decision, via: 'update' | 'signal', args: ApprovalDecisionArgs, token: DecodedDecisionToken): Promise<Checked> {
    const p = this.pending!;
    const c = token.claims;
    let refusal: string | null;
    try {
      const w = winnersOf(args.winners, decision, p);
      const r = await verifying.verifyApprovalToken({ token: args.token!, expect: this.expectation(p, decision, 'winners' in w ? w.winners : null) });
      refusal = r.ok ? null : r.reason;
    } catch (err) {
      refusal = `the decision token could not be verified: ${err instanceof ActivityFailure && err.cause ? err.cause.message : 'verification failed'}`;
    }
    const again = refusal === null ? this.check(args, decision) : { refusal };
    if (again.refusal !== undefined) {
      this.record(decision, via, { approver: c.sub, planHash: c.plan, comment: args.comment }, again.refusal, { issuer: c.iss, tokenId: c.jti, gate: p.gate });
    }
    return again;
  }

  private decide(decision: Decision, via: 'update' | 'signal', d: Decider): ApprovalOutcome {
    const p = this.pending!;
    const rec = this.record(decision, via, d, null, d.issuer ? { issuer: d.issuer, tokenId: d.tokenId } : undefined);
    this.outcome = {
      gate: p.gate, planHash: p.planHash, approved: decision === 'approve', decidedBy: d.approver, comment: d.comment,
      ...(d.issuer ? { issuer: d.issuer } : {}), via, escalated: p.stage > 1, at: rec.at,
      ...(d.winners ? { winners: { ...d.winners } } : {}),
    };
    return this.outcome;
  }

  private record(
    decision: DecisionRecord['decision'],
    via: DecisionRecord['via'],
    args: { approver?: unknown; planHash?: unknown; comment?: unknown; winners?: unknown } | null,
    refusal: string | null,
    signed?: { issuer: string; tokenId: string | null; gate?: string },
  ): DecisionRecord {
    const rec: DecisionRecord = {
      gate: signed?.gate ?? this.pending?.gate ?? '(none)', planHash: typeof args?.planHash === 'string' ? args.planHash : this.pending?.planHash ?? '', decision, via,
      approver: typeof args?.approver === 'string' ? args.approver : null, comment: typeof args?.comment === 'string' ? args.comment : null,
      // Only signed decisions carry these, so records of name decisions stay as they were.
      ...(signed ? { issuer: signed.issuer, tokenId: signed.tokenId } : {}),
      // Only decisions on gates with conflicts carry winners (ids and side names, never values).
      ...(args?.winners && typeof args.winners === 'object' ? { winners: { ...(args.winners as Record<string, string>) } } : {}),
      accepted: refusal === null, refusal, at: nowIso(),
    };
    this.decisions.push(rec);
    return rec;
  }
}

const stalePlan = (planHash: string, p: PendingApproval): string =>
  `plan ${planHash} is not pending: gate "${p.gate}" waits on plan ${p.planHash}; query pendingApproval and decide on the current plan`;
const notAllowed = (approver: string, p: PendingApproval): string =>
  `"${approver}" may not decide gate "${p.gate}"${p.stage > 1 ? ' after escalation' : ''}; allowed: ${p.approvers.join(', ')}`;

/**
 * The `winners` of a decision, checked against the pending gate: required to approve a gate with
 * conflicts, refused anywhere else; every key is `all` or a conflict id the gate shows, every
 * value one of the gate's sides.
 */
function winnersOf(raw: unknown, decision: Decision, p: PendingApproval): { winners: Record<string, string> | null } | { refusal: string } {
  const c = p.conflicts;
  const example = c ? `{"${ALL_CONFLICTS}": "${c.sides[1] ?? c.sides[0]}"} or {"${c.items[0]?.id ?? '<conflict id>'}": "${c.sides[0]}"}` : '';
  if (raw === undefined) {
    if (c && decision === 'approve') return { refusal: `gate "${p.gate}" decides ${c.total} manual conflict(s): approve with "winners": ${example} (ids from the pendingApproval query)` };
    return { winners: null };
  }
  if (!c) return { refusal: `gate "${p.gate}" has no conflicts to decide: leave "winners" out` };
  if (decision === 'reject') return { refusal: 'a rejection names no winners: leave "winners" out (the conflicts stay pending)' };
  const parsed = ConflictWinnersSchema.safeParse(raw);
  if (!parsed.success) return { refusal: `winners: ${parsed.error.issues[0]?.message ?? 'invalid'}; e.g. ${example}` };
  const winners = parsed.data;
  if (Object.keys(winners).length === 0) return { refusal: `winners is empty: name a side for all conflicts or for some, e.g. ${example}` };
  const ids = new Set(c.items.map((i) => i.id));
  for (const [id, side] of Object.entries(winners)) {
    if (id !== ALL_CONFLICTS && !ids.has(id)) {
      return { refusal: `winners: unknown conflict "${id}"; the pendingApproval query lists the ids${c.total > c.items.length ? ` of the first ${c.items.length} of ${c.total} (use "${ALL_CONFLICTS}" for the rest)` : ''}` };
    }
    if (!c.sides.includes(side)) return { refusal: `winners: "${side}" for "${id}" is not a side; expected ${c.sides.map((s) => `"${s}"`).join(' or ')}` };
  }
  return { winners };
}
