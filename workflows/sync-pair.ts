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
import type { Cursor } from '../contracts/cursor';
import {
  EMPTY_SIDE_TOTALS,
  staleWrite,
  pairCheckpoint,
  pairProgressQuery,
  SyncPairInputSchema,
  type PairConflictGate,
  type PairNotice,
  type PairProgress,
  type PairTotals,
  type SyncPairInput,
  type SyncPairResult,
} from '../contracts/pair-sync';
import { SA_ENTITY, SA_PIPELINE, SA_RECORDS_READ, SA_STATUS } from '../contracts/search-attributes';
import { cancelSignal, pauseSignal, resumeSignal, type SyncStatus } from '../contracts/sync';
import { alertOnFinish } from './alerts';
import { ApprovalGate } from './approval';
import { parseWorkflowInput } from './input';
import { BOOKKEEPING, FETCH, START, TRANSFORM, WRITE } from './options';
import type { PreparePairPageResult, WritePairPageResult } from '../activities/pair';
import { AHEAD_WRITE_OPTIONS, READ_AHEAD, ReadAhead, retriesOf, settleWrite, THROUGHPUT_PATCH, WriteAhead, writeHeld, type Writing } from './page-flow';
import { PAIR_DRY_RUN_PATCH, PairDryRun } from './pair-dry-run';

const fetching = proxyActivities<Activities>(FETCH);
const transforming = proxyActivities<Activities>(TRANSFORM);
const writing = proxyActivities<Activities>(WRITE);
const starting = proxyLocalActivities<Activities>(START);
const bookkeeping = proxyActivities<Activities>(BOOKKEEPING);

const HISTORY_SOFT_LIMIT = 1500;

/**
 * Marks syncPair histories whose pages of a side are prepared back to back, up to READ_AHEAD
 * ahead of the page being written (workflows/page-flow.ts ReadAhead), never across sides: a
 * side's first page is read only once the other side's writes (whose echoes it holds) are done.
 * A page planned ahead is written with `check`; if an earlier write moved one of its links,
 * writePairPage answers `stale` and the page is prepared again from the same cursor.
 */
export const PAIR_READ_AHEAD_PATCH = 'pair-read-ahead';
/**
 * Marks syncPair histories that write ahead within a side (as syncPipeline does since
 * `throughput-v3`, workflows/page-flow.ts WriteAhead): while a page of a side is written on the
 * worker holding it, the side's next page is taken from the reader and its write started on the
 * same worker, where it waits until the page before has committed (activities/write-chain.ts).
 * Only a page that needs no approval and no conflict decision, held by the same worker.
 */
export const PAIR_WRITE_AHEAD_PATCH = 'pair-write-ahead';
const EXAMPLE_INPUT = '{"pair":"demo-customers"}';
/** Conflicts, rejected edits and ambiguous links kept in the result (the run report counts them all). */
const MAX_NOTICES = 50;
/** Conflicts remembered as already put to a person in this sync (carried across continue-as-new). */
const MAX_ASKED = 1000;
const askedKey = (c: { id: string; labels: Record<string, string> }): string => `${c.id}@${Object.values(c.labels).join('/')}`;

/**
 * Two-way sync of a pair: read each side's changes since its own checkpoint (first side, then
 * the second), plan each changed record against the other side's record now and their link
 * (ownership, conflicts, echoes, deletes), write only the changed fields on each side, then
 * commit that side's checkpoint. Our own writes come back as echoes in the other side's phase
 * and are not written again, so a second run with no outside change writes nothing.
 */
export async function syncPair(rawInput: SyncPairInput): Promise<SyncPairResult> {
  const input = parseWorkflowInput(SyncPairInputSchema, rawInput, EXAMPLE_INPUT);
  // Decided in the first workflow task, before the local activity that loads the checkpoint: on
  // replay a local activity's result can arrive an activation earlier than it ran, and a patch
  // asked after it would be answered before its marker is known (a non-determinism error).
  const fused = patched(THROUGHPUT_PATCH);
  const info = workflowInfo();
  const cont = input.continuation;
  const syncId = cont?.syncId ?? `${info.workflowId}@${info.firstExecutionRunId}`;
  const startedAtMs = cont?.startedAtMs ?? Date.now();
  const runIndex = cont?.runIndex ?? 1;
  // A dry run plans every page of both sides and writes nothing (workflows/pair-dry-run.ts).
  const dryRun = input.mode === 'dry-run' && patched(PAIR_DRY_RUN_PATCH) ? new PairDryRun(input.pair, syncId) : null;
  const dry = dryRun ? { dryRun: true } : {};
  const readAhead = fused && !dryRun && patched(PAIR_READ_AHEAD_PATCH);
  const writeAhead = readAhead && patched(PAIR_WRITE_AHEAD_PATCH);
  let totals: PairTotals = cont?.totals ?? { sides: {}, unchanged: 0, linked: 0, conflicts: 0, pendingConflicts: 0, pages: 0, retries: 0 };
  const notices: PairNotice[] = [...((cont?.notices ?? []) as unknown as PairNotice[])];
  let cursors: Record<string, Cursor | null> = { ...(cont?.cursors ?? {}) };
  let sideIndex = cont?.sideIndex ?? 0;
  let side: string | null = null;
  let status: SyncStatus = 'starting';
  let step = 'starting';
  let paused = false;
  let pausedBy: string | null = null;
  let stopRequested = false;
  let rejected = false;
  let pagesThisRun = 0;
  const gate = new ApprovalGate();
  const asked = new Set<string>(cont?.askedConflicts ?? []);
  const conflictGates: PairConflictGate[] = [...((cont?.conflictGates ?? []) as unknown as PairConflictGate[])];
  const earlierApprovals = cont?.approvals ?? [];
  const approvals = (): Record<string, unknown>[] => [...earlierApprovals, ...gate.state().decisions.map((d) => ({ ...d }))];

  const setStatus = (s: SyncStatus): void => {
    status = s;
    upsertSearchAttributes([{ key: SA_STATUS, value: s }]);
  };
  setHandler(pairProgressQuery, (): PairProgress => ({
    pair: input.pair,
    syncId,
    status,
    step,
    side,
    totals,
    runIndex,
    cursors,
    pausedBy,
    startedAtMs,
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

  const flatTotals = (): Record<string, number> => {
    const out: Record<string, number> = { unchanged: totals.unchanged, linked: totals.linked, conflicts: totals.conflicts, pendingConflicts: totals.pendingConflicts, pages: totals.pages, retries: totals.retries };
    for (const [s, t] of Object.entries(totals.sides)) for (const [k, v] of Object.entries(t)) out[`${s}.${k}`] = v;
    return out;
  };
  const finish = async (final: 'completed' | 'cancelled' | 'rejected' | 'failed'): Promise<void> => {
    await CancellationScope.nonCancellable(async () => {
      step = 'finishing';
      await bookkeeping.finishSync({ pipeline: input.pair, syncId, status: final, startedAtMs, totals: flatTotals(), approvals: approvals() });
      setStatus(final);
      await alertOnFinish({ pipeline: input.pair, syncId, status: final, totals: flatTotals() });
    });
  };

  try {
    step = 'loading checkpoints';
    const begin = await starting.beginPair({
      pair: input.pair,
      ...(input.mode && input.mode !== 'dry-run' ? { mode: input.mode } : {}),
      ...(input.pageSize ? { pageSize: input.pageSize } : {}),
      ...(input.pagesPerRun ? { pagesPerRun: input.pagesPerRun } : {}),
    });
    if (!cont) cursors = { ...begin.cursors };
    if (dryRun && !cont) await dryRun.open();
    const sideTotals = (s: string) => (totals.sides[s] ??= { ...EMPTY_SIDE_TOTALS });
    for (const s of begin.sides) sideTotals(s);
    upsertSearchAttributes([
      { key: SA_PIPELINE, value: begin.pair },
      { key: SA_ENTITY, value: begin.sides.map((s) => begin.entities[s]).join(' ⇄ ') },
    ]);
    setStatus('running');

    // Since `throughput-v1` a page is preparePairPage (fetch and plan; the plan held in the worker's
    // memory) and writePairPage on that worker's own queue, committing the side's cursor with the
    // write. Before it: fetch, plan, write and commit were four activities (histories replay so).
    // Since `pair-read-ahead` the pages of a side are prepared ahead of its writes (one reader per side).
    const runFirst = totals.pages;
    let reader: { side: string; pages: ReadAhead<PreparePairPageResult> } | null = null;
    const readerFor = async (s: string): Promise<ReadAhead<PreparePairPageResult>> => {
      if (reader?.side === s) return reader.pages;
      await reader?.pages.reset();
      const pages = new ReadAhead<PreparePairPageResult>(
        (seq, after) => fetching.preparePairPage({ pair: begin.pair, syncId, seq, side: s, after, limit: begin.pageSize, seen: true }),
        READ_AHEAD,
        (seq) => !paused && !stopRequested && seq - runFirst < begin.pagesPerRun && !workflowInfo().continueAsNewSuggested && workflowInfo().historyLength <= HISTORY_SOFT_LIMIT,
      );
      reader = { side: s, pages };
      return pages;
    };
    /** Forget the pages read ahead, once the prepare in flight is done. */
    const resetReader = async (): Promise<void> => {
      await reader?.pages.reset();
    };
    /**
     * Start the write of a side's page on the worker holding its plan (`pair-write-ahead`); it
     * commits the side's cursor. `after`: the page it is written ahead of, whose commit it waits for.
     */
    const writesOf = new Map<number, number>(); // the writes started per page, numbered
    const startWrite = (
      at: { seq: number; side: string; nextCursor: Cursor | null },
      plan: { planPageId: string; planHash: string },
      heldBy: string | undefined,
      after?: number,
    ): Writing<WritePairPageResult> => {
      const writeNo = (writesOf.get(at.seq) ?? 0) + 1;
      writesOf.set(at.seq, writeNo);
      const args = { pair: begin.pair, syncId, seq: at.seq, side: at.side, planPageId: plan.planPageId, planHash: plan.planHash, check: true, writeNo, commit: { cursor: at.nextCursor } };
      const w: Writing<WritePairPageResult> = { done: Promise.resolve(staleWrite(begin.sides)), fellBack: false };
      w.done = writeHeld(
        heldBy,
        (a, held) =>
          after === undefined
            ? a.writePairPage(args)
            : held
              ? a.writePairPage({ ...args, after: { seq: after, writeNo: writesOf.get(after) ?? 0 } })
              : // A write ahead whose worker is gone is not written from its claim check now (it could
                // race the page before it, written elsewhere too): it answers stale, and is prepared again.
                Promise.resolve(staleWrite(begin.sides)),
        () => {
          totals.retries += 1;
          w.fellBack = true;
        },
        after !== undefined ? AHEAD_WRITE_OPTIONS : {},
      );
      return w;
    };
    /** The side's next page, taken from the reader while this one is written, and its write started ahead. */
    let ahead: WriteAhead<PreparePairPageResult, WritePairPageResult> | null = null;
    while (sideIndex < begin.sides.length) {
      side = begin.sides[sideIndex]!;
      const seq = totals.pages;
      const ref = { pair: begin.pair, syncId, seq, side };
      step = `reading ${side}`;
      const after = cursors[side] ?? null;
      // What the page adds to the result, taken back if its write finds the plan stale.
      const before = readAhead ? { totals: JSON.parse(JSON.stringify(totals)) as PairTotals, notices: notices.length } : null;
      const mine: WriteAhead<PreparePairPageResult, WritePairPageResult> | null = ahead?.seq === seq ? ahead : null;
      if (ahead && !mine) await ahead.abandon(true);
      ahead = null;
      const prepared: PreparePairPageResult | null = mine
        ? await mine.page
        : readAhead
        ? await (await readerFor(side)).take(seq, after)
        : fused
          ? await fetching.preparePairPage({ ...ref, after, limit: begin.pageSize, ...dry })
          : null;
      const fetched: Omit<PreparePairPageResult, 'plan' | 'heldBy'> = prepared ?? (await fetching.fetchPairPage({ ...ref, after, limit: begin.pageSize }));
      let heldBy: string | undefined = prepared?.heldBy;
      sideTotals(side).read += fetched.count;
      totals.retries += retriesOf(fetched);
      if (fetched.count > 0) {
        step = `planning ${side}`;
        let plan = prepared?.plan ?? (await transforming.planPairPage({ ...ref, pageId: fetched.pageId, ...dry }));
        totals.retries += retriesOf(plan); // 0 for a plan that came with its page (counted above)
        // `manual` conflicts wait for a person at the approval gate, then the page is planned
        // again with the decision (the activity reads the values; history holds ids and labels).
        // A conflict already put to a person in this sync (same values) is not asked again in the
        // other side's phase: a rejected or timed-out one stays pending until the next sync.
        const fresh = plan.manual ? plan.manual.total > plan.manual.items.length || plan.manual.items.some((c) => !asked.has(askedKey(c))) : false;
        if (plan.manual && fresh && begin.approvalPolicy && !dryRun && patched('manual-conflict-decisions')) {
          const manual = plan.manual;
          step = `awaiting conflict decisions (${side} changes)`;
          setStatus('awaiting-approval');
          const outcome = await gate.request({
            gate: `${begin.pair} page ${seq + 1}: ${manual.total} manual conflict(s) (${side} changes)`,
            planHash: manual.hash,
            reasons: [`${manual.total} field(s) changed differently on both sides under "manual": choose the winning side`],
            summary: manual.items.map((c) => `${c.id}: ${Object.entries(c.labels).map(([s, l]) => `${s} #${l}`).join(' vs ')}`).join('; '),
            policy: begin.approvalPolicy,
            conflicts: { sides: [...begin.sides], items: manual.items, total: manual.total },
          });
          const winners = outcome.approved ? (outcome.winners ?? {}) : {};
          if (outcome.approved && Object.keys(winners).length > 0) {
            step = `applying conflict decisions (${side} changes)`;
            plan = await transforming.planPairPage({ ...ref, pageId: fetched.pageId, decisions: { conflictsPageId: manual.pageId, winners, decidedBy: outcome.decidedBy ?? 'unknown' } });
            totals.retries += retriesOf(plan);
            heldBy = undefined; // planned again on whichever worker took it: written from the claim check
          }
          for (const c of manual.items) if (asked.size < MAX_ASKED) asked.add(askedKey(c));
          conflictGates.push({
            gate: outcome.gate, side, conflicts: manual.total, decided: outcome.approved ? plan.decidedConflicts : 0, pending: plan.pendingConflicts,
            outcome: outcome.approved ? 'approved' : outcome.via === 'timer' ? 'timeout' : 'rejected',
            decidedBy: outcome.decidedBy, via: outcome.via, at: outcome.at, winners,
          });
          setStatus('running');
        }
        totals = { ...totals, unchanged: totals.unchanged + plan.unchanged, linked: totals.linked + plan.linked };
        totals.conflicts += plan.conflicts;
        totals.pendingConflicts += plan.pendingConflicts;
        for (const [s, n] of Object.entries(plan.echoes)) sideTotals(s).echoes += n;
        for (const [s, n] of Object.entries(plan.rejected)) sideTotals(s).rejected += n;
        for (const [s, n] of Object.entries(plan.quarantined)) sideTotals(s).quarantined += n;
        for (const n of plan.notices) if (notices.length < MAX_NOTICES) notices.push(n);

        if (plan.approvalReasons.length > 0 && begin.approvalPolicy && !dryRun) {
          step = 'awaiting approval';
          setStatus('awaiting-approval');
          const summary = Object.entries(plan.writes)
            .map(([s, w]) => `${s}: ${w.creates} creates, ${w.updates} updates, ${w.archives} archives, ${w.deletes} deletes`)
            .join('; ');
          const outcome = await gate.request({
            gate: `${begin.pair} page ${seq + 1} (${side} changes)`,
            planHash: plan.planHash,
            reasons: plan.approvalReasons,
            summary,
            policy: begin.approvalPolicy,
          });
          if (!outcome.approved) {
            // Nothing of this page is written and the side's cursor stays: the next run asks again.
            rejected = true;
            break;
          }
          setStatus('running');
        }
        let committed = false;
        let stale = false;
        if (dryRun) {
          // A dry run records the page's plan where a sync would write it; no checkpoint moves.
          step = `recording the plan (${side} changes)`;
          if (plan.ops > 0 || plan.manual) await dryRun.record(ref, plan);
        } else if (plan.ops > 0 || readAhead) {
          // Under `pair-read-ahead` a page with nothing to write goes through the write too: its check
          // covers a plan made before an earlier write, and it commits the cursor (one activity either way).
          step = `writing (${side} changes)`;
          const args = { ...ref, planPageId: plan.planPageId, planHash: plan.planHash, ...(readAhead ? { check: true } : {}) };
          let written: WritePairPageResult;
          if (writeAhead) {
            const current = (await mine?.writing) ?? startWrite({ seq, side, nextCursor: fetched.nextCursor }, plan, heldBy);
            const runFullAfter = pagesThisRun + 1 >= begin.pagesPerRun || workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > HISTORY_SOFT_LIMIT;
            if (heldBy && fetched.hasMore && !runFullAfter && !paused && !stopRequested) {
              const holder: string = heldBy;
              const at = side;
              ahead = new WriteAhead(seq + 1, (await readerFor(side)).take(seq + 1, fetched.nextCursor), (n): Writing<WritePairPageResult> | null => {
                const p = n.plan;
                const eligible: boolean = !paused && !stopRequested && n.heldBy === holder && n.count > 0 && p !== null && !p.manual && !(p.approvalReasons.length > 0 && begin.approvalPolicy);
                return eligible && p ? startWrite({ seq: seq + 1, side: at, nextCursor: n.nextCursor }, p, holder, seq) : null;
              });
            }
            const settled: { written: WritePairPageResult; ahead: WriteAhead<PreparePairPageResult, WritePairPageResult> | null } = await settleWrite(seq, current, ahead);
            ahead = settled.ahead;
            written = settled.written;
          } else {
            written = fused
              ? await writeHeld(heldBy, (a) => a.writePairPage({ ...args, commit: { cursor: fetched.nextCursor } }), () => (totals.retries += 1))
              : await writing.writePairPage(args);
          }
          totals.retries += retriesOf(written);
          committed = fused;
          stale = written.stale === true;
          for (const s of stale ? [] : begin.sides) {
            const t = sideTotals(s);
            t.created += written.created[s] ?? 0;
            t.updated += written.updated[s] ?? 0;
            t.deleted += written.deleted[s] ?? 0;
            t.quarantined += written.quarantined[s] ?? 0;
            t.archived += plan.writes[s]?.archives ?? 0;
          }
        }
        if (stale && before) {
          // An earlier page of this side moved a link this plan compared with: nothing of it was
          // written or committed. Prepare it again from the same cursor (the pages read ahead go too).
          const retries = totals.retries + 1;
          totals = { ...before.totals, retries };
          notices.length = before.notices;
          await resetReader();
          continue;
        }
        if (!committed && !dryRun) {
          step = 'committing checkpoint';
          await bookkeeping.commitCheckpoint({ pipeline: pairCheckpoint(begin.pair, side), syncId, seq, cursor: fetched.nextCursor });
        }
      }
      cursors = { ...cursors, [side]: fetched.nextCursor };
      totals.pages += 1;
      pagesThisRun += 1;
      upsertSearchAttributes([{ key: SA_RECORDS_READ, value: Object.values(totals.sides).reduce((n, t) => n + t.read, 0) }]);
      if (!fetched.hasMore) sideIndex += 1;

      // A page written ahead is seen through first (its write is in flight); then the run stops.
      if (stopRequested && !ahead) break;
      if (paused) {
        setStatus('paused');
        step = 'paused';
        await condition(() => !paused || stopRequested);
        if (stopRequested && !ahead) break;
        setStatus('running');
      }
      // A run with a page written ahead goes on to that page (it was started only when the run was not full).
      const runFull = !ahead && (pagesThisRun >= begin.pagesPerRun || workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > HISTORY_SOFT_LIMIT);
      if (runFull && sideIndex < begin.sides.length) {
        step = 'continuing as new';
        await resetReader();
        await bookkeeping.dropStagedPages({ syncId });
        await condition(allHandlersFinished);
        return await continueAsNew<typeof syncPair>({
          ...input,
          continuation: {
            syncId,
            startedAtMs,
            runIndex: runIndex + 1,
            sideIndex,
            cursors,
            totals,
            notices: notices as unknown as Record<string, unknown>[],
            approvals: approvals(),
            conflictGates: conflictGates as unknown as Record<string, unknown>[],
            askedConflicts: [...asked],
          },
        });
      }
    }

    await resetReader(); // no prepare left running when the run ends
    const final = rejected ? 'rejected' : stopRequested ? 'cancelled' : 'completed';
    side = null;
    const planned = dryRun && final === 'completed' ? await dryRun.seal(cursors) : null;
    await finish(final);
    return {
      pair: input.pair,
      syncId,
      status: final,
      mode: dryRun ? 'dry-run' : begin.mode,
      ...(planned ? { plan: planned } : {}),
      totals,
      notices,
      cursors,
      runs: runIndex,
      durationMs: Date.now() - startedAtMs,
      approvals: approvals(),
      conflictGates,
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
    await finish('failed');
    if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) {
      throw ApplicationFailure.create({ type: err.cause.type ?? 'Transient', nonRetryable: true, message: `${failedStep} failed: ${err.cause.message}`, cause: err });
    }
    throw err;
  }
}
