import {
  allHandlersFinished,
  CancellationScope,
  condition,
  ContinueAsNew,
  continueAsNew,
  log,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { applyProgressQuery, ApplyPlanInputSchema, EMPTY_APPLY_TOTALS, type ApplyPlanInput, type ApplyPlanResult, type ApplyTotals } from '../contracts/plan';
import { SA_PIPELINE, SA_STATUS } from '../contracts/search-attributes';
import { ApprovalGate } from './approval';
import { parseWorkflowInput } from './input';
import { DRY_RUN_V2 } from './dry-run';
import { BOOKKEEPING, WRITE } from './options';

const writing = proxyActivities<Activities>(WRITE);
const bookkeeping = proxyActivities<Activities>(BOOKKEEPING);

const EXAMPLE_INPUT = '{"planId":"plan-0123456789abcdef"}';
const MAX_KEYS = 100;
/** Apply activities per run before continue-as-new (input `chunksPerRun`). */
const CHUNKS_PER_RUN = 200;

/**
 * Apply a stored dry-run plan (activities/plan-store.ts): check it (ready, the reviewed hash),
 * ask the pipeline's approval gate when the plan crosses its limits, then write its items chunk
 * by chunk, each record only if the target still holds what the plan saw; what changed meanwhile
 * is reported, not overwritten. Finally the run report, and the checkpoint where safe. Since
 * `dry-run-v2` a large plan continues as new every `chunksPerRun` chunks, carrying its position
 * (the last item applied), totals and approvals; a continued run checks the plan again (same
 * hash) and does not ask for approval again.
 */
export async function applyPlan(rawInput: ApplyPlanInput): Promise<ApplyPlanResult> {
  const input = parseWorkflowInput(ApplyPlanInputSchema, rawInput, EXAMPLE_INPUT);
  const info = workflowInfo();
  const cont = input.continuation;
  const applyId = cont?.applyId ?? `${info.workflowId}@${info.firstExecutionRunId}`;
  const startedAtMs = cont?.startedAtMs ?? Date.now();
  const runIndex = cont?.runIndex ?? 1;
  const totals: ApplyTotals = { ...EMPTY_APPLY_TOTALS, ...cont?.totals };
  const changedMeanwhile: string[] = [...(cont?.changedMeanwhile ?? [])];
  const gate = new ApprovalGate();
  let status = 'starting';
  let step = 'checking the plan';
  setHandler(applyProgressQuery, () => ({ planId: input.planId, status, step, totals: { ...totals } }));
  const setStatus = (s: string) => {
    status = s;
    upsertSearchAttributes([{ key: SA_STATUS, value: s }]);
  };
  const approvals = (): Record<string, unknown>[] => [...(cont?.approvals ?? []), ...gate.state().decisions.map((d) => ({ ...d }))];
  const finish = (final: string) =>
    CancellationScope.nonCancellable(() => bookkeeping.finishApply({ planId: input.planId, applyId, status: final, startedAtMs, totals: { ...totals }, approvals: approvals() }));

  const planHash = cont?.planHash ?? input.planHash;
  const begin = await bookkeeping.beginApply({ planId: input.planId, ...(planHash ? { planHash } : {}) });
  upsertSearchAttributes([{ key: SA_PIPELINE, value: begin.name }]);
  setStatus('running');
  const result = (final: ApplyPlanResult['status'], checkpoint: ApplyPlanResult['checkpoint']): ApplyPlanResult => ({
    planId: begin.planId, planHash: begin.planHash, name: begin.name, applyId, status: final, totals, changedMeanwhile, checkpoint, approvals: approvals(), runs: runIndex,
  });
  try {
    if (begin.approvalReasons.length > 0 && begin.approvalPolicy && !cont) {
      step = 'awaiting approval';
      setStatus('awaiting-approval');
      const outcome = await gate.request({
        gate: `apply ${begin.planId}`,
        planHash: begin.planHash,
        reasons: begin.approvalReasons,
        summary: `${begin.counts.creates} creates and ${begin.counts.updates} updates of ${begin.targetEntity} (plan ${begin.planId})`,
        policy: begin.approvalPolicy,
      });
      if (!outcome.approved) {
        await finish('rejected');
        setStatus('rejected');
        return result('rejected', 'kept');
      }
      setStatus('running');
    }
    let afterSeq = cont?.afterSeq ?? -1;
    let chunks = 0;
    for (;;) {
      step = 'writing';
      const page = await writing.applyPlanPage({ planId: begin.planId, applyId, afterSeq, limit: input.chunkSize ?? 500 });
      for (const k of Object.keys(totals) as (keyof ApplyTotals)[]) totals[k] += page.totals[k];
      for (const k of page.changedKeys) if (changedMeanwhile.length < MAX_KEYS) changedMeanwhile.push(k);
      if (!page.hasMore) break;
      afterSeq = page.lastSeq;
      chunks += 1;
      if ((chunks >= (input.chunksPerRun ?? CHUNKS_PER_RUN) || workflowInfo().continueAsNewSuggested) && patched(DRY_RUN_V2)) {
        step = 'continuing as new';
        await condition(allHandlersFinished);
        const continuation = { applyId, planHash: begin.planHash, startedAtMs, runIndex: runIndex + 1, afterSeq, totals: { ...totals }, changedMeanwhile, approvals: approvals() };
        return await continueAsNew<typeof applyPlan>({ ...input, continuation });
      }
    }
    step = 'finishing';
    const fin = await finish('applied');
    setStatus('completed');
    if (totals.changedMeanwhile > 0) log.warn('records changed in the target since the plan were not overwritten', { planId: begin.planId, count: totals.changedMeanwhile });
    return result('applied', fin.checkpoint);
  } catch (err) {
    if (err instanceof ContinueAsNew) throw err; // the run ends, the apply goes on
    await finish('failed');
    setStatus('failed');
    throw err;
  }
}
