import { ApplicationFailure, CancellationScope, isCancellation, proxyActivities, proxyLocalActivities, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  EMPTY_REPLAY_TOTALS,
  ReplayQuarantineInputSchema,
  replayProgressQuery,
  type ReplayQuarantineInput,
  type ReplayResult,
  type ReplayTotals,
} from '../contracts/replay';
import { SA_ENTITY, SA_PIPELINE, SA_STATUS } from '../contracts/search-attributes';
import { ApprovalGate } from './approval';
import { parseWorkflowInput } from './input';
import { BOOKKEEPING, FETCH, START, TRANSFORM, WRITE } from './options';

const fetching = proxyActivities<Activities>(FETCH);
const transforming = proxyActivities<Activities>(TRANSFORM);
const writing = proxyActivities<Activities>(WRITE);
const starting = proxyLocalActivities<Activities>(START);
const bookkeeping = proxyActivities<Activities>(BOOKKEEPING);

const EXAMPLE_INPUT = '{"pipeline":"demo-accounts","rule":"countryCode"}';
const DEFAULT_PAGE_SIZE = 500;
/** Pages per run; a replay larger than this many pages fails rather than growing history without bound. */
const MAX_PAGES = 200;

/**
 * Quarantine replay: after a mapping or a source record was fixed, re-read the quarantined
 * records by key (the connector's read-by-keys, not the change feed) and run them through the
 * same map → validate → plan → (approval gate) → write steps as a sync. Written or unchanged
 * records are released; records that fail again stay with attempts + 1. The checkpoint is not
 * touched. Pages are claim checks, as in syncPipeline.
 */
export async function replayQuarantine(rawInput: ReplayQuarantineInput): Promise<ReplayResult> {
  const input = parseWorkflowInput(ReplayQuarantineInputSchema, rawInput, EXAMPLE_INPUT);
  const info = workflowInfo();
  const syncId = `${info.workflowId}@${info.firstExecutionRunId}`;
  const startedAtMs = Date.now();
  const totals: ReplayTotals = { ...EMPTY_REPLAY_TOTALS };
  let status = 'starting';
  let step = 'starting';
  const gate = new ApprovalGate();
  setHandler(replayProgressQuery, () => ({ pipeline: input.pipeline, syncId, status, step, totals: { ...totals } }));
  const setStatus = (s: string): void => {
    status = s;
    upsertSearchAttributes([{ key: SA_STATUS, value: s }]);
  };
  const finish = async (final: string): Promise<void> => {
    await CancellationScope.nonCancellable(async () => {
      step = 'finishing';
      await bookkeeping.finishSync({ pipeline: input.pipeline, syncId, status: final, startedAtMs, totals: { ...totals } });
      setStatus(final);
    });
  };

  try {
    const begin = await starting.beginSync({ pipeline: input.pipeline, mode: 'full', estimate: false });
    upsertSearchAttributes([
      { key: SA_PIPELINE, value: begin.pipeline },
      { key: SA_ENTITY, value: begin.targetEntity },
    ]);
    setStatus('running');
    const pageSize = input.pageSize ?? DEFAULT_PAGE_SIZE;
    let afterKey = '';
    let rejected = false;
    for (let seq = 0; ; seq++) {
      if (seq >= MAX_PAGES) {
        throw ApplicationFailure.create({
          type: 'InvalidInput',
          nonRetryable: true,
          message: `replay stopped after ${MAX_PAGES} pages of ${pageSize}; replay the rest again, or narrow it by rule or field`,
        });
      }
      const ref = { pipeline: begin.pipeline, syncId, seq };
      step = 'reading quarantined records';
      const fetched = await fetching.fetchQuarantined({
        ...ref,
        afterKey,
        limit: pageSize,
        ...(input.keys ? { keys: input.keys } : {}),
        ...(input.rule ? { rule: input.rule } : {}),
        ...(input.field ? { field: input.field } : {}),
      });
      totals.selected += fetched.selected;
      totals.missing += fetched.missing;
      totals.read += fetched.count;
      totals.pages += 1;
      if (fetched.count > 0) {
        step = 'mapping';
        const mapped = await transforming.mapPage({ ...ref, pageId: fetched.pageId });
        totals.quarantined += mapped.quarantined;
        if (mapped.valid > 0) {
          step = 'planning';
          const plan = await transforming.planPage({ ...ref, mappedPageId: mapped.mappedPageId });
          if (plan.approvalReasons.length > 0 && begin.approvalPolicy) {
            step = 'awaiting approval';
            setStatus('awaiting-approval');
            const outcome = await gate.request({
              gate: `${begin.pipeline} replay page ${seq + 1}`,
              planHash: plan.planHash,
              reasons: plan.approvalReasons,
              summary: `${plan.creates} creates and ${plan.updates} updates of ${begin.targetEntity} (quarantine replay)`,
              policy: begin.approvalPolicy,
            });
            if (!outcome.approved) {
              rejected = true;
              break;
            }
            setStatus('running');
          }
          totals.unchanged += plan.unchanged;
          if (plan.creates + plan.updates > 0) {
            step = 'writing';
            const written = await writing.writePage({ ...ref, planPageId: plan.planPageId, planHash: plan.planHash });
            totals.created += written.created;
            totals.updated += written.updated;
            totals.quarantined += written.quarantined;
          }
        }
      }
      await bookkeeping.dropStagedPages({ syncId });
      if (!fetched.hasMore || fetched.lastKey === null) break;
      afterKey = fetched.lastKey;
    }
    const final = rejected ? 'rejected' : 'completed';
    await finish(final);
    return {
      pipeline: begin.pipeline,
      syncId,
      status: final,
      totals,
      released: totals.created + totals.updated + totals.unchanged,
      durationMs: Date.now() - startedAtMs,
    };
  } catch (err) {
    await finish(isCancellation(err) ? 'cancelled' : 'failed');
    throw err;
  }
}
