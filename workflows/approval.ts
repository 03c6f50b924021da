import { ApplicationFailure, condition, log, setHandler } from '@temporalio/workflow';
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
  type DecisionRecord,
  type PendingApproval,
} from '../contracts/approval';

/** What a workflow asks a gate to approve. */
export interface ApprovalRequest {
  gate: string;
  /** Hash of exactly the plan that will be applied when approved (contracts/approval planHash). */
  planHash: string;
  reasons: string[];
  summary: string;
  policy: ApprovalPolicy;
}

/** The failure type an update caller sees when its decision is refused. */
export const APPROVAL_REFUSED = 'ApprovalRefused';

/** Workflow time, ISO-8601. */
export const nowIso = (): string => new Date(Date.now()).toISOString();

/**
 * The approval gate of one workflow execution: install once (it registers the `approve` and
 * `reject` updates, the `approvalDecision` signal and the `pendingApproval` query), then
 * `request()` each time a plan needs a human. Every decision is logged with who and when,
 * including refused ones (refused updates are rejected by the validator before reaching
 * history; those a handler still sees, e.g. a second decision racing the first, are logged).
 */
export class ApprovalGate {
  private pending: PendingApproval | null = null;
  private outcome: ApprovalOutcome | null = null;
  private readonly decisions: DecisionRecord[] = [];

  constructor() {
    const validator = (args: ApprovalDecisionArgs): void => {
      const refusal = this.refusal(args);
      if (refusal) throw ApplicationFailure.nonRetryable(refusal, APPROVAL_REFUSED);
    };
    const handler = (decision: 'approve' | 'reject') => (args: ApprovalDecisionArgs): ApprovalOutcome => {
      const refusal = this.refusal(args);
      if (refusal) {
        this.record(decision, 'update', args, refusal);
        throw ApplicationFailure.nonRetryable(refusal, APPROVAL_REFUSED);
      }
      return this.decide(decision, 'update', args);
    };
    setHandler(approveUpdate, handler('approve'), { validator, description: 'approve the pending plan' });
    setHandler(rejectUpdate, handler('reject'), { validator, description: 'reject the pending plan' });
    setHandler(approvalDecisionSignal, (args) => {
      // A signal has no validator: refuse here (refusal() also covers a missing payload) and log it.
      const decision = args?.decision === 'reject' ? 'reject' : 'approve';
      const refusal = this.refusal(args);
      if (refusal) {
        log.warn('approval decision refused', { refusal, approver: args?.approver ?? null });
        this.record(decision, 'signal', args ?? null, refusal);
        return;
      }
      this.decide(decision, 'signal', args);
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
        gate: req.gate, planHash: req.planHash, reasons: [...req.reasons], summary: req.summary, approvers: [...approvers], stage,
        requestedAt: nowIso(), deadline: new Date(Date.now() + ms).toISOString(),
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

  private refusal(args: ApprovalDecisionArgs): string | null {
    const p = this.pending;
    if (!args || typeof args.approver !== 'string' || !args.approver) return 'approver is required: pass {"approver":"<id>","planHash":"<hash>","comment":"…"}';
    if (typeof args.planHash !== 'string' || !args.planHash) return 'planHash is required: read it with the pendingApproval query';
    if (!p || this.outcome !== null) return `no approval is pending${p ? ` (gate "${p.gate}" is already decided)` : ''}`;
    if (args.planHash !== p.planHash) return `plan ${args.planHash} is not pending: gate "${p.gate}" waits on plan ${p.planHash}; query pendingApproval and decide on the current plan`;
    if (!p.approvers.includes(args.approver)) return `"${args.approver}" may not decide gate "${p.gate}"${p.stage > 1 ? ' after escalation' : ''}; allowed: ${p.approvers.join(', ')}`;
    return null;
  }

  private decide(decision: 'approve' | 'reject', via: 'update' | 'signal', args: ApprovalDecisionArgs): ApprovalOutcome {
    const p = this.pending!;
    const rec = this.record(decision, via, args, null);
    this.outcome = {
      gate: p.gate, planHash: p.planHash, approved: decision === 'approve', decidedBy: args.approver, comment: args.comment ?? null,
      via, escalated: p.stage > 1, at: rec.at,
    };
    return this.outcome;
  }

  private record(decision: DecisionRecord['decision'], via: DecisionRecord['via'], args: Partial<ApprovalDecisionArgs> | null, refusal: string | null): DecisionRecord {
    const rec: DecisionRecord = {
      gate: this.pending?.gate ?? '(none)', planHash: args?.planHash ?? this.pending?.planHash ?? '', decision, via,
      approver: typeof args?.approver === 'string' ? args.approver : null, comment: typeof args?.comment === 'string' ? args.comment : null,
      accepted: refusal === null, refusal, at: nowIso(),
    };
    this.decisions.push(rec);
    return rec;
  }
}
