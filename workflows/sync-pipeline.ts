import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  ContinueAsNew,
  continueAsNew,
  isCancellation,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { WritePageResult } from '../activities/sync-types';
import type { Cursor } from '../contracts/cursor';
import { SA_ENTITY, SA_PIPELINE, SA_RECORDS_READ, SA_STATUS } from '../contracts/search-attributes';
import {
  cancelSignal,
  EMPTY_TOTALS,
  pauseSignal,
  progressQuery,
  resumeSignal,
  SyncPipelineInputSchema,
  type SyncPipelineInput,
  type SyncProgress,
  type SyncResult,
  type SyncStatus,
  type SyncTotals,
} from '../contracts/sync';
import { alertOnFinish } from './alerts';
import { ApprovalGate } from './approval';
import { DRY_RUN_V2, PipelineDryRun } from './dry-run';
import { parseWorkflowInput } from './input';
import { BOOKKEEPING, FETCH, START, TRANSFORM, WRITE } from './options';
import {
  AHEAD_WRITE_OPTIONS,
  preparedPage,
  READ_AHEAD,
  READ_AHEAD_PATCH,
  ReadAhead,
  settleWrite,
  stagedPage,
  THROUGHPUT_PATCH,
  WRITE_AHEAD_PATCH,
  WriteAhead,
  writeHeld,
  type PlannedPage,
  type PreparedPage,
  type Writing,
} from './page-flow';

const fetching = proxyActivities<Activities>(FETCH);
const transforming = proxyActivities<Activities>(TRANSFORM);
const writing = proxyActivities<Activities>(WRITE);
const starting = proxyLocalActivities<Activities>(START);
const bookkeeping = proxyActivities<Activities>(BOOKKEEPING);

/** Continue-as-new before this many history events, whatever pagesPerRun says. */
const HISTORY_SOFT_LIMIT = 1500;
/** How often (workflow time) a running sync updates its records-read search attribute. */
const SA_EVERY_MS = 2000;
const EXAMPLE_INPUT = '{"pipeline":"demo-accounts"}';

/**
 * One pipeline run: load checkpoint → repeat { fetch page → map+validate → plan → write →
 * commit cursor } until the source has no more changes. Pages travel as claim checks; the next
 * page is fetched and mapped while the current one is written; every `pagesPerRun` pages the
 * workflow continues as new so no run's history grows large.
 */
export async function syncPipeline(rawInput: SyncPipelineInput): Promise<SyncResult> {
  const input = parseWorkflowInput(SyncPipelineInputSchema, rawInput, EXAMPLE_INPUT);
  // Decided in the first workflow task, before the local activity that loads the checkpoint: on
  // replay a local activity's result can arrive an activation earlier than it ran, and a patch
  // asked after it would be answered before its marker is known (a non-determinism error).
  const fused = patched(THROUGHPUT_PATCH);
  const readAhead = fused && patched(READ_AHEAD_PATCH);
  const writeAhead = readAhead && patched(WRITE_AHEAD_PATCH);
  const info = workflowInfo();
  const cont = input.continuation;
  const syncId = cont?.syncId ?? `${info.workflowId}@${info.firstExecutionRunId}`;
  const startedAtMs = cont?.startedAtMs ?? Date.now();
  const runIndex = cont?.runIndex ?? 1;
  const totals: SyncTotals = { ...EMPTY_TOTALS, ...cont?.totals };

  let status: SyncStatus = 'starting';
  let step = 'starting';
  let paused = false;
  let pausedBy: string | null = null;
  let pausedReason: string | null = null;
  let stopRequested = false;
  let cursor: Cursor | null = cont?.cursor ?? null;
  let pagesThisRun = 0;
  let estimatedTotal: number | null = cont?.estimatedTotal ?? null;
  const earlierApprovals = cont?.approvals ?? [];
  const gate = new ApprovalGate();
  const approvals = (): Record<string, unknown>[] => [...earlierApprovals, ...gate.state().decisions.map((d) => ({ ...d }))];
  let rejected = false;
  // A dry run plans every page and writes nothing (workflows/dry-run.ts, activities/plan-store.ts).
  const dryRun = input.mode === 'dry-run' && patched('dry-run') ? new PipelineDryRun(input.pipeline, syncId) : null;
  // Since `dry-run-v2` a dry run stores its plan and nothing else (no quarantine, run report or link refresh).
  const pure = dryRun && patched(DRY_RUN_V2) ? dryRun : null;

  const setStatus = (s: SyncStatus): void => {
    status = s;
    upsertSearchAttributes([{ key: SA_STATUS, value: s }]);
  };

  setHandler(progressQuery, (): SyncProgress => ({
    pipeline: input.pipeline,
    syncId,
    status,
    step,
    totals: { ...totals },
    runIndex,
    pagesThisRun,
    cursor,
    estimatedTotal,
    pausedBy,
    pausedReason,
    startedAtMs,
  }));
  setHandler(pauseSignal, (args) => {
    paused = true;
    pausedBy = args?.by ?? 'unknown';
    pausedReason = args?.reason ?? null;
    log.info('pause requested', { by: pausedBy, reason: args?.reason });
  });
  setHandler(resumeSignal, (args) => {
    paused = false;
    pausedBy = null;
    pausedReason = null;
    log.info('resume requested', { by: args?.by ?? 'unknown' });
  });
  setHandler(cancelSignal, (args) => {
    stopRequested = true;
    log.info('stop requested', { by: args?.by ?? 'unknown', reason: args?.reason });
  });

  const finish = async (final: 'completed' | 'cancelled' | 'rejected' | 'failed'): Promise<void> => {
    await CancellationScope.nonCancellable(async () => {
      step = 'finishing';
      if (pure) {
        await pure.finish();
        setStatus(final);
        return;
      }
      await bookkeeping.finishSync({ pipeline: input.pipeline, syncId, status: final, startedAtMs, totals: { ...totals }, approvals: approvals() });
      setStatus(final);
      await alertOnFinish({ pipeline: input.pipeline, syncId, status: final, totals: { ...totals } });
    });
  };

  try {
    step = 'loading checkpoint';
    const begin = await starting.beginSync({
      pipeline: input.pipeline,
      ...(input.mode && input.mode !== 'dry-run' ? { mode: input.mode } : {}),
      ...(input.pageSize ? { pageSize: input.pageSize } : {}),
      ...(input.pagesPerRun ? { pagesPerRun: input.pagesPerRun } : {}),
      ...(cont ? { estimate: false } : {}),
    });
    if (!cont) {
      cursor = begin.startCursor;
      estimatedTotal = begin.estimatedTotal;
    }
    upsertSearchAttributes([
      { key: SA_PIPELINE, value: begin.pipeline },
      { key: SA_ENTITY, value: begin.targetEntity },
    ]);
    setStatus('running');
    if (dryRun && !cont) await dryRun.open();

    const ref = (seq: number) => ({ pipeline: begin.pipeline, syncId, seq });
    // Since `throughput-v1` a page is two activities: preparePage (fetch, map, validate, plan;
    // the plan kept in the preparing worker's memory, staged once as the claim check) and
    // writePage on that worker's own queue, which commits the cursor once the writes are durable.
    // Before it: fetch, map, plan, write and commit were five activities (histories replay so).
    // Fetch, map and plan a page. The next page is prepared while the current one is written:
    // planning ahead of the previous write is safe because writes are upserts by external key.
    const prepare = async (seq: number, after: Cursor | null): Promise<PreparedPage> => {
      if (fused) return preparedPage(await fetching.preparePage({ ...ref(seq), after, limit: begin.pageSize, ...(pure ? { dryRunPlanId: pure.planId } : {}), ...(readAhead ? { seen: true } : {}) }));
      const fetched = await fetching.fetchPage({ ...ref(seq), after, limit: begin.pageSize });
      if (fetched.count === 0) return stagedPage(fetched, null, null);
      const mapped = await transforming.mapPage({ ...ref(seq), pageId: fetched.pageId });
      if (mapped.valid === 0) return stagedPage(fetched, mapped, null);
      const plan = await transforming.planPage({ ...ref(seq), mappedPageId: mapped.mappedPageId });
      return stagedPage(fetched, mapped, plan);
    };
    /**
     * Start writing a planned page; in fused runs the write commits the page's cursor too. `after`
     * (write-ahead): the page it is written ahead of, whose commit it waits for on the same worker.
     */
    const writesOf = new Map<number, number>(); // write-ahead: the writes started per page, numbered
    const startWrite = (seq: number, page: PreparedPage, plan: PlannedPage, after?: number): Writing<WritePageResult> => {
      const writeNo = (writesOf.get(seq) ?? 0) + 1;
      if (writeAhead) writesOf.set(seq, writeNo);
      const args = {
        ...ref(seq),
        planPageId: plan.planPageId,
        planHash: plan.planHash,
        ...(readAhead ? { check: true } : {}),
        ...(writeAhead ? { writeNo } : {}),
      };
      if (!fused) return { done: writing.writePage(args), fellBack: false };
      const w: Writing<WritePageResult> = { done: Promise.resolve(null as unknown as WritePageResult), fellBack: false };
      w.done = writeHeld(
        page.heldBy,
        (a, held) =>
          after === undefined
            ? a.writePage({ ...args, commit: { cursor: page.nextCursor } })
            : held
              ? a.writePage({ ...args, commit: { cursor: page.nextCursor }, after: { seq: after, writeNo: writesOf.get(after) ?? 0 } })
              : // A write ahead whose worker is gone is not written from its claim check now: that could
                // race the page before it, written elsewhere too. It answers stale; the page is prepared again.
                Promise.resolve({ created: 0, updated: 0, quarantined: 0, stale: true }),
        () => {
          totals.retries += 1;
          w.fellBack = true;
        },
        after !== undefined ? AHEAD_WRITE_OPTIONS : {},
      );
      return w;
    };
    /** Count a finished write; in fused runs it committed the page's cursor (true), unless its plan was stale. */
    const account = (written: WritePageResult): boolean | 'stale' => {
      if (written.stale) return 'stale';
      totals.created += written.created;
      totals.updated += written.updated;
      totals.quarantined += written.quarantined;
      totals.retries += retriesOf(written);
      return fused;
    };
    let recordsReadAt = Date.now();
    // Since `throughput-v2` pages are prepared back to back, up to READ_AHEAD ahead of the write
    // (workflows/page-flow.ts ReadAhead), only pages this run will still write.
    const runFirst = totals.pages;
    const reader = readAhead
      ? new ReadAhead(prepare, READ_AHEAD, (s) =>
          !paused && !stopRequested && s - runFirst < begin.pagesPerRun && (input.maxPages === undefined || s < input.maxPages) &&
          !workflowInfo().continueAsNewSuggested && workflowInfo().historyLength <= HISTORY_SOFT_LIMIT)
      : null;
    let next: Promise<PreparedPage> | null = reader ? null : prepare(totals.pages, cursor);
    // Since `throughput-v3`: the next page, taken from the reader while this one is written, and its write started ahead.
    let ahead: WriteAhead<PreparedPage, WritePageResult> | null = null;
    for (;;) {
      step = 'fetching';
      const mine = ahead?.seq === totals.pages ? ahead : null;
      if (ahead && !mine) await ahead.abandon(true);
      ahead = null;
      const page: PreparedPage = mine ? await mine.page : reader ? await reader.take(totals.pages, cursor) : await (next ?? prepare(totals.pages, cursor));
      const plan = page.plan;
      next = null;
      const seq = totals.pages;
      const reachedMax = input.maxPages !== undefined && seq + 1 >= input.maxPages;
      const more = page.hasMore && !reachedMax;
      const runFull =
        pagesThisRun + 1 >= begin.pagesPerRun || workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > HISTORY_SOFT_LIMIT;
      if (!reader && more && !runFull && !paused && !stopRequested) {
        next = prepare(seq + 1, page.nextCursor); // overlap: read ahead while writing
        next.catch(() => undefined); // a failure surfaces when it is awaited
      }

      totals.read += page.count;
      totals.retries += page.retries;
      totals.quarantined += page.quarantined;
      let committed: boolean | 'stale' = false;
      if (plan) {
        if (plan.approvalReasons.length > 0 && begin.approvalPolicy && !dryRun) {
          step = 'awaiting approval';
          setStatus('awaiting-approval');
          const outcome = await gate.request({
            gate: `${begin.pipeline} page ${seq + 1}`,
            planHash: plan.planHash,
            reasons: plan.approvalReasons,
            summary: `${plan.creates} creates and ${plan.updates} updates of ${begin.targetEntity}`,
            policy: begin.approvalPolicy,
          });
          if (!outcome.approved) {
            // Nothing of this page is written and its cursor is not committed: the next run
            // reads the same changes and asks again.
            rejected = true;
            break;
          }
          setStatus('running');
        }
        totals.unchanged += plan.unchanged;
        if (dryRun) {
          // A dry run records the page's plan where a sync would write it; no checkpoint moves.
          step = 'recording the plan';
          if (plan.creates + plan.updates > 0) await dryRun.record(ref(seq), plan);
        } else if (plan.creates + plan.updates > 0 || (reader && plan.planPageId)) {
          step = 'writing';
          const current = (await mine?.writing) ?? startWrite(seq, page, plan);
          // Write-ahead: take the next page now and start its write on the same worker, where it
          // waits for this page's commit. Only a page that needs no approval and is held there.
          if (writeAhead && reader && page.heldBy && more && !runFull && !paused && !stopRequested) {
            const holder = page.heldBy;
            ahead = new WriteAhead(seq + 1, reader.take(seq + 1, page.nextCursor), (n) => {
              const p = n.plan;
              const eligible = !paused && !stopRequested && n.heldBy === holder && p !== null && p.planPageId !== '' && !(p.approvalReasons.length > 0 && begin.approvalPolicy);
              return eligible ? startWrite(seq + 1, n, p, seq) : null;
            });
          }
          const settled: { written: WritePageResult; ahead: WriteAhead<PreparedPage, WritePageResult> | null } = await settleWrite(seq, current, ahead);
          ahead = settled.ahead;
          committed = account(settled.written);
        }
      }
      if (committed === 'stale') {
        // An earlier page in flight wrote a record of this one: nothing of it was written or
        // committed. Prepare it again from the same cursor (the pages read ahead go too).
        totals.read -= page.count;
        totals.quarantined -= page.quarantined;
        totals.unchanged -= plan?.unchanged ?? 0;
        totals.retries += 1;
        await reader?.reset();
        continue;
      }
      if (page.count > 0 && !committed && !dryRun) {
        step = 'committing checkpoint';
        await bookkeeping.commitCheckpoint({ pipeline: begin.pipeline, syncId, seq, cursor: page.nextCursor });
      }
      if (page.count > 0) cursor = page.nextCursor;
      totals.pages += 1;
      pagesThisRun += 1;
      // Since `throughput-v1` the records-read search attribute is updated at most every
      // SA_EVERY_MS of workflow time (and at the end of a run): one visibility write per page was
      // a measurable share of the server's work per page.
      if (!fused || !more || runFull || paused || stopRequested || Date.now() - recordsReadAt >= SA_EVERY_MS) {
        upsertSearchAttributes([{ key: SA_RECORDS_READ, value: totals.read }]);
        recordsReadAt = Date.now();
      }

      if (!more) break;
      // A page written ahead is seen through first (its write is in flight); then the run stops.
      if (stopRequested && !ahead) break;
      if (paused) {
        setStatus('paused');
        step = 'paused';
        await condition(() => !paused || stopRequested);
        if (stopRequested && !ahead) break;
        setStatus('running');
      }
      if (runFull) {
        step = 'continuing as new';
        await reader?.reset();
        await bookkeeping.dropStagedPages({ syncId });
        await condition(allHandlersFinished);
        return await continueAsNew<typeof syncPipeline>({
          ...input,
          continuation: { syncId, startedAtMs, runIndex: runIndex + 1, cursor, totals, estimatedTotal, approvals: approvals() },
        });
      }
    }

    await reader?.reset(); // no prepare left running when the run ends
    const final = rejected ? 'rejected' : stopRequested ? 'cancelled' : 'completed';
    const planned = dryRun && final === 'completed' ? await dryRun.seal(cursor) : null;
    await finish(final);
    return {
      pipeline: input.pipeline,
      syncId,
      status: final,
      mode: dryRun ? 'dry-run' : begin.mode,
      ...(planned ? { plan: planned } : {}),
      totals,
      runs: runIndex,
      durationMs: Date.now() - startedAtMs,
      cursor,
      approvals: approvals(),
    };
  } catch (err) {
    // continueAsNew() throws to end the run: not a failure. (Before this patch every run ended by
    // continue-as-new was first "finished" as failed: a failed run report and a failed status.)
    if (err instanceof ContinueAsNew && patched('continue-as-new-is-not-a-failure')) throw err;
    const failedStep = step;
    if (isCancellation(err)) {
      await finish('cancelled');
      throw err;
    }
    await finish('failed');
    throw describeFailure(err, failedStep);
  }
}

/** Retries an activity needed before the attempt that returned `result`. */
const retriesOf = (result: { attempt?: number } | null): number => (result?.attempt ?? 1) - 1;

/** Surface the root cause's type and message on the workflow failure, with the step it hit. */
function describeFailure(err: unknown, step: string): unknown {
  if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) {
    return ApplicationFailure.create({
      type: err.cause.type ?? 'Transient',
      nonRetryable: true,
      message: `${step} failed: ${err.cause.message}`,
      cause: err,
    });
  }
  return err;
}
