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
import { planHash } from '../contracts/approval';
import type { Cursor } from '../contracts/cursor';
import {
  driftTotal,
  emptyReconcileCounts,
  ReconcilePairInputSchema,
  reconcileProgressQuery,
  type ReconcileCounts,
  type ReconcilePairInput,
  type ReconcilePairResult,
  type ReconcilePhase,
  type ReconcileProgress,
  type RepairPlanRef,
  type RepairTotals,
} from '../contracts/reconcile';
import { SA_ENTITY, SA_PIPELINE, SA_RECORDS_READ, SA_STATUS } from '../contracts/search-attributes';
import { cancelSignal, pauseSignal, resumeSignal, type SyncStatus } from '../contracts/sync';
import { repairRisks, type SideWrites } from '../mappings/two-way/drift';
import { ApprovalGate } from './approval';
import { parseWorkflowInput } from './input';
import { FETCH, START, TRANSFORM, WRITE } from './options';
import { retriesOf } from './page-flow';

const fetching = proxyActivities<Activities>(FETCH);
const transforming = proxyActivities<Activities>(TRANSFORM);
const writing = proxyActivities<Activities>(WRITE);
const starting = proxyLocalActivities<Activities>(START);

const HISTORY_SOFT_LIMIT = 1500;
const EXAMPLE_INPUT = '{"pair":"demo-customers","repair":false}';
/** Repair pages are numbered apart from the scan's pages (staged page names in the state store). */
const REPAIR_SEQ_BASE = 1_000_000;

/**
 * Reconciliation of a pair: read both sides in full (keyset pages, each page a claim check),
 * compare every linked record field by field in canonical space, find hard deletes (a link
 * whose record is gone), orphans (no link, no match), duplicates by the pair's match rules,
 * and first links by those rules (values agree → linked, nothing written; ambiguous →
 * quarantine). The drift report is a JSON document in the state store; the result holds its id
 * and a readable summary. With `repair: true` the drifted records are planned and written by
 * syncPair's own planner and writer (ownership, delete policy), the whole repair behind the
 * approval gate when it crosses the pair's limits.
 *
 * Phases: scan (first side, then second) → match → [plan → (gate) → write] → report.
 */
export async function reconcilePair(rawInput: ReconcilePairInput): Promise<ReconcilePairResult> {
  const input = parseWorkflowInput(ReconcilePairInputSchema, rawInput, EXAMPLE_INPUT);
  const info = workflowInfo();
  const cont = input.continuation;
  const repair = input.repair ?? false;
  const reconId = cont?.reconId ?? `${info.workflowId}@${info.firstExecutionRunId}`;
  const startedAtMs = cont?.startedAtMs ?? Date.now();
  const runIndex = cont?.runIndex ?? 1;
  let phase: ReconcilePhase = cont?.phase ?? 'scan';
  let sideIndex = cont?.sideIndex ?? 0;
  let cursor: Cursor | null = cont?.cursor ?? null;
  let afterSeq = cont?.afterSeq ?? 0;
  let pages = cont?.pages ?? 0;
  let counts: ReconcileCounts = cont?.counts ?? emptyReconcileCounts([]);
  const plans: RepairPlanRef[] = [...(cont?.plans ?? [])];
  let written = cont?.written ?? 0;
  /** Activity attempts after the first that the reconciliation needed. */
  let retries = cont?.retries ?? 0;
  const writes: SideWrites = (cont?.writes ?? {}) as SideWrites;
  let repaired: RepairTotals | null = (cont?.repair ?? null) as RepairTotals | null;
  let gated: string[] = [...(cont?.gated ?? [])];
  let side: string | null = null;
  let status: SyncStatus = 'starting';
  let step = 'starting';
  let paused = false;
  let pausedBy: string | null = null;
  let stopRequested = false;
  let rejected = false;
  let pagesThisRun = 0;
  const gate = new ApprovalGate();
  const earlierApprovals = cont?.approvals ?? [];
  const approvals = (): Record<string, unknown>[] => [...earlierApprovals, ...gate.state().decisions.map((d) => ({ ...d }))];

  const setStatus = (s: SyncStatus): void => {
    status = s;
    upsertSearchAttributes([{ key: SA_STATUS, value: s }]);
  };
  setHandler(reconcileProgressQuery, (): ReconcileProgress => ({
    pair: input.pair, reconId, status, phase, step, side, counts, pages, runIndex, cursor, pausedBy, startedAtMs, retries,
  }));
  setHandler(pauseSignal, (args) => {
    paused = true;
    pausedBy = args?.by ?? 'unknown';
    log.info('pause requested', { by: pausedBy, reason: args?.reason });
  });
  setHandler(resumeSignal, (args) => {
    paused = false;
    pausedBy = null;
    log.info('resume requested', { by: args?.by ?? 'unknown' });
  });
  setHandler(cancelSignal, (args) => {
    stopRequested = true;
    log.info('stop requested', { by: args?.by ?? 'unknown', reason: args?.reason });
  });

  /** Between pages: honour pause and cancel. False when the run should stop. */
  const checkpoint = async (): Promise<boolean> => {
    if (stopRequested) return false;
    if (paused) {
      setStatus('paused');
      step = 'paused';
      await condition(() => !paused || stopRequested);
      if (stopRequested) return false;
      setStatus('running');
    }
    return true;
  };
  const runFull = (pagesPerRun: number) =>
    pagesThisRun >= pagesPerRun || workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > HISTORY_SOFT_LIMIT;
  const carryOn = async (): Promise<never> => {
    step = 'continuing as new';
    await condition(allHandlersFinished);
    return continueAsNew<typeof reconcilePair>({
      ...input,
      continuation: {
        reconId, startedAtMs, runIndex: runIndex + 1, phase, sideIndex, cursor, afterSeq, pages, counts, plans, written, retries,
        writes: writes as Record<string, Record<string, number>>,
        repair: repaired as unknown as Record<string, unknown> | null,
        gated,
        approvals: approvals(),
      },
    });
  };
  const finish = async (final: 'completed' | 'cancelled' | 'rejected' | 'failed') =>
    CancellationScope.nonCancellable(async () => {
      step = 'writing the report';
      phase = 'report';
      const done = await transforming.finishReconcile({ pair: input.pair, reconId, repair, status: final, startedAtMs, counts, repaired, retries });
      setStatus(final);
      return done;
    });

  try {
    step = 'loading the pair';
    const begin = await starting.beginReconcile({
      pair: input.pair,
      ...(input.pageSize ? { pageSize: input.pageSize } : {}),
      ...(input.pagesPerRun ? { pagesPerRun: input.pagesPerRun } : {}),
    });
    const [sa, sb] = begin.sides;
    if (!cont) counts = emptyReconcileCounts(begin.sides);
    upsertSearchAttributes([
      { key: SA_PIPELINE, value: begin.pair },
      { key: SA_ENTITY, value: begin.sides.map((s) => begin.entities[s]).join(' ⇄ ') },
    ]);
    setStatus('running');
    const add = (r: Record<string, number>, s: string, n: number) => (r[s] = (r[s] ?? 0) + n);

    // 1. Both sides in full, keyset pages in (modifiedAt, key) order.
    while (phase === 'scan' && sideIndex < 2) {
      side = begin.sides[sideIndex]!;
      step = `reading ${side}`;
      const seq = pages;
      const fetched = await fetching.fetchPairPage({ pair: begin.pair, syncId: reconId, seq, side, after: cursor, limit: begin.pageSize });
      retries += retriesOf(fetched);
      if (fetched.count > 0) {
        step = `comparing ${side}`;
        const c = await transforming.reconcilePage({ pair: begin.pair, reconId, side, seq, pageId: fetched.pageId, first: sideIndex === 0 });
        retries += retriesOf(c);
        counts = {
          ...counts,
          compared: counts.compared + c.compared,
          skipped: counts.skipped + c.skipped,
          fieldDiffs: counts.fieldDiffs + c.fieldDiffs,
          recordsWithDiffs: counts.recordsWithDiffs + c.recordsWithDiffs,
        };
        add(counts.read, side, c.read);
        add(counts.unmappable, side, c.unmappable);
        add(counts.archivedUnlinked, side, c.archivedUnlinked);
        for (const [s, n] of Object.entries(c.missing)) add(counts.missing, s, n);
      }
      cursor = fetched.nextCursor;
      pages += 1;
      pagesThisRun += 1;
      upsertSearchAttributes([{ key: SA_RECORDS_READ, value: Object.values(counts.read).reduce((n, v) => n + v, 0) }]);
      if (!fetched.hasMore) {
        sideIndex += 1;
        cursor = null;
      }
      if (sideIndex === 2) phase = 'match';
      if (!(await checkpoint())) break;
      if (runFull(begin.pagesPerRun)) return await carryOn();
    }
    side = null;

    // 2. First links by the pair's match rules over what no link knows.
    if (phase === 'match' && !stopRequested) {
      step = 'matching unlinked records';
      const m = await transforming.matchUnlinked({ pair: begin.pair, reconId });
      retries += retriesOf(m);
      counts = { ...counts, linkedByMatch: m.linkedByMatch, matchedWithDiffs: m.matchedWithDiffs, ambiguous: m.ambiguous, orphans: m.orphans };
      phase = repair ? 'plan' : 'report';
      sideIndex = 0;
      afterSeq = 0;
      if (repair) repaired = { planned: 0, pages: 0, created: {}, updated: {}, archived: {}, deleted: {}, quarantined: {}, records: 0 };
    }

    // 3. Repair: plan the drifted records of each side with syncPair's planner (staged plans).
    while (phase === 'plan' && sideIndex < 2 && !stopRequested) {
      side = begin.sides[sideIndex]!;
      step = `planning the repair of ${side}`;
      const seq = REPAIR_SEQ_BASE + pages;
      const staged = await transforming.stageRepairPage({ pair: begin.pair, reconId, side, seq, afterSeq, limit: begin.pageSize });
      retries += retriesOf(staged);
      if (staged.count > 0) {
        const plan = await transforming.planPairPage({
          pair: begin.pair, syncId: reconId, seq, side, pageId: staged.pageId,
          ...(staged.matchesPageId ? { matchesPageId: staged.matchesPageId } : {}),
        });
        retries += retriesOf(plan);
        repaired!.planned += plan.planned;
        repaired!.pages += 1;
        for (const [s, w] of Object.entries(plan.writes)) {
          const t = (writes[s] ??= { creates: 0, updates: 0, archives: 0, deletes: 0 });
          t.creates += w.creates;
          t.updates += w.updates;
          t.archives += w.archives;
          t.deletes += w.deletes;
          add(repaired!.archived, s, w.archives);
        }
        for (const [s, n] of Object.entries(plan.quarantined)) add(repaired!.quarantined, s, n);
        if (plan.ops > 0) plans.push({ side, seq, planPageId: plan.planPageId, planHash: plan.planHash, ops: plan.ops });
      }
      afterSeq = staged.lastSeq;
      pages += 1;
      pagesThisRun += 1;
      if (!staged.hasMore) {
        sideIndex += 1;
        afterSeq = 0;
      }
      if (sideIndex === 2) {
        // The whole repair, weighed against the sides as read: one decision for all its pages.
        gated = repairRisks(begin.limits, writes, counts.read);
        if (gated.length > 0) {
          if (!begin.approvalPolicy) {
            log.warn('repair crosses the pair limits and the pair names no approvers: nothing is written', { reasons: gated });
            rejected = true;
          } else {
            step = 'awaiting approval';
            setStatus('awaiting-approval');
            const summary = Object.entries(writes)
              .map(([s, w]) => `${s}: ${w.creates} creates, ${w.updates} updates, ${w.archives} archives, ${w.deletes} deletes`)
              .join('; ');
            const outcome = await gate.request({
              gate: `${begin.pair} repair (${plans.length} pages)`,
              planHash: planHash(plans.map((p) => p.planHash)),
              reasons: gated,
              summary,
              policy: begin.approvalPolicy,
            });
            rejected = !outcome.approved;
            if (!rejected) setStatus('running');
          }
        }
        phase = rejected ? 'report' : 'write';
      }
      if (!(await checkpoint())) break;
      if (runFull(begin.pagesPerRun)) return await carryOn();
    }

    // 4. Write the staged plans: creates, patches, archives and deletes, then links and ledger.
    while (phase === 'write' && !stopRequested) {
      if (written >= plans.length) {
        phase = 'report';
        break;
      }
      const p = plans[written]!;
      side = p.side;
      step = `repairing (${p.side} page ${written + 1} of ${plans.length})`;
      const w = await writing.writePairPage({ pair: begin.pair, syncId: reconId, seq: p.seq, side: p.side, planPageId: p.planPageId, planHash: p.planHash });
      retries += retriesOf(w);
      for (const s of [sa, sb]) {
        add(repaired!.created, s, w.created[s] ?? 0);
        add(repaired!.updated, s, w.updated[s] ?? 0);
        add(repaired!.deleted, s, w.deleted[s] ?? 0);
        add(repaired!.quarantined, s, w.quarantined[s] ?? 0);
      }
      written += 1;
      pagesThisRun += 1;
      if (!(await checkpoint())) break;
      if (runFull(begin.pagesPerRun) && written < plans.length) return await carryOn();
    }
    if (repaired) repaired.records = plans.slice(0, written).reduce((n, p) => n + p.ops, 0);
    side = null;

    const final = rejected ? 'rejected' : stopRequested ? 'cancelled' : 'completed';
    const done = await finish(final);
    counts = done.counts;
    return {
      pair: input.pair,
      reconId,
      status: final,
      repair,
      counts,
      drift: driftTotal(counts),
      reportId: done.reportId,
      summary: done.summary,
      repaired,
      gated,
      approvals: approvals(),
      runs: runIndex,
      durationMs: Date.now() - startedAtMs,
      retries,
    };
  } catch (err) {
    // continueAsNew() throws to end the run: not a failure. (Before this patch the run was
    // "finished" as failed first, which for a reconciliation dropped every row found so far.)
    if (err instanceof ContinueAsNew && patched('continue-as-new-is-not-a-failure')) throw err;
    const failedStep = step;
    if (isCancellation(err)) {
      await finish('cancelled');
      throw err;
    }
    await finish('failed').catch(() => undefined);
    if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) {
      throw ApplicationFailure.create({ type: err.cause.type ?? 'Transient', nonRetryable: true, message: `${failedStep} failed: ${err.cause.message}`, cause: err });
    }
    throw err;
  }
}
