import { CancellationScope, log, proxyActivities, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { applyProgressQuery, ApplyPlanInputSchema, EMPTY_APPLY_TOTALS, type ApplyPlanInput, type ApplyPlanResult, type ApplyTotals } from '../contracts/plan';
import { SA_PIPELINE, SA_STATUS } from '../contracts/search-attributes';
import { ApprovalGate } from './approval';
import { parseWorkflowInput } from './input';
import { BOOKKEEPING, WRITE } from './options';

const writing = proxyActivities<Activities>(WRITE);
const bookkeeping = proxyActivities<Activities>(BOOKKEEPING);

const EXAMPLE_INPUT = '{"planId":"plan-0123456789abcdef"}';
const MAX_KEYS = 100;

/**
 * Apply a pair's stored dry-run plan (activities/pair-plan.ts): check it (ready, the reviewed
 * hash), ask the pair's approval gate when the plan crosses its limits, then write its records
 * chunk by chunk through the pair's own write step (links and write ledger as a sync leaves
 * them), each record only if both sides still hold what the plan saw; what changed meanwhile is
 * reported, not overwritten. The pair's checkpoints are kept.
 */
export async function applyPairPlan(rawInput: ApplyPlanInput): Promise<ApplyPlanResult> {
  const input = parseWorkflowInput(ApplyPlanInputSchema, rawInput, EXAMPLE_INPUT);
  const info = workflowInfo();
  const applyId = `${info.workflowId}@${info.firstExecutionRunId}`;
  const startedAtMs = Date.now();
  const totals: ApplyTotals = { ...EMPTY_APPLY_TOTALS };
  const changedMeanwhile: string[] = [];
  const gate = new ApprovalGate();
  let status = 'starting';
  let step = 'checking the plan';
  setHandler(applyProgressQuery, () => ({ planId: input.planId, status, step, totals: { ...totals } }));
  const setStatus = (s: string) => {
    status = s;
    upsertSearchAttributes([{ key: SA_STATUS, value: s }]);
  };
  const approvals = () => gate.state().decisions.map((d) => ({ ...d }));
  const finish = (final: string) =>
    CancellationScope.nonCancellable(() => bookkeeping.finishPairApply({ planId: input.planId, applyId, status: final, startedAtMs, totals: { ...totals }, approvals: approvals() }));

  const begin = await bookkeeping.beginPairApply({ planId: input.planId, ...(input.planHash ? { planHash: input.planHash } : {}) });
  upsertSearchAttributes([{ key: SA_PIPELINE, value: begin.name }]);
  setStatus('running');
  const result = (final: ApplyPlanResult['status']): ApplyPlanResult => ({
    planId: begin.planId, planHash: begin.planHash, name: begin.name, applyId, status: final, totals, changedMeanwhile, checkpoint: 'kept', approvals: approvals(), runs: 1,
  });
  try {
    if (begin.approvalReasons.length > 0 && begin.approvalPolicy) {
      step = 'awaiting approval';
      setStatus('awaiting-approval');
      const c = begin.counts;
      const outcome = await gate.request({
        gate: `apply ${begin.planId}`,
        planHash: begin.planHash,
        reasons: begin.approvalReasons,
        summary: `${c.creates} creates, ${c.updates} updates and ${c.deletes} deletes across ${begin.sides} (plan ${begin.planId})`,
        policy: begin.approvalPolicy,
      });
      if (!outcome.approved) {
        await finish('rejected');
        setStatus('rejected');
        return result('rejected');
      }
      setStatus('running');
    }
    let afterSeq = -1;
    for (;;) {
      step = 'writing';
      const page = await writing.applyPairPlanPage({ planId: begin.planId, applyId, afterSeq, limit: input.chunkSize ?? 500 });
      for (const k of Object.keys(totals) as (keyof ApplyTotals)[]) totals[k] += page.totals[k];
      for (const k of page.changedKeys) if (changedMeanwhile.length < MAX_KEYS) changedMeanwhile.push(k);
      if (!page.hasMore) break;
      afterSeq = page.lastSeq;
    }
    step = 'finishing';
    await finish('applied');
    setStatus('completed');
    if (totals.changedMeanwhile > 0) log.warn('records changed since the plan were not overwritten', { planId: begin.planId, count: totals.changedMeanwhile });
    return result('applied');
  } catch (err) {
    await finish('failed');
    setStatus('failed');
    throw err;
  }
}
