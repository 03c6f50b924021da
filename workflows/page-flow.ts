/**
 * Workflow-side plumbing of a pipeline page (workflow-safe: imports only the workflow SDK,
 * contracts and activity types). A page, however it was prepared, as one shape for the loop;
 * and the write routed to the worker that holds the page in memory, with the claim check as
 * the fallback when that worker is gone.
 */
import { ActivityCancellationType, TimeoutType, type ActivityOptions } from '@temporalio/common';
import { ActivityFailure, ApplicationFailure, CancellationScope, log, proxyActivities, TimeoutFailure } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { FetchPageResult, MapPageResult, PlanPageResult, PreparePageResult } from '../activities/sync-types';
import type { Cursor } from '../contracts/cursor';
import { WRITE } from './options';

/** Marks histories (syncPipeline, syncPair) whose pages are prepared in one activity and written with their commit. */
export const THROUGHPUT_PATCH = 'throughput-v1';

/** What the write of a page needs to know of its plan. */
export type PlannedPage = Omit<PlanPageResult, 'attempt'>;

/** One page, ready to be written: counts, where the next page starts, its plan (null: nothing valid). */
export interface PreparedPage {
  count: number;
  nextCursor: Cursor | null;
  hasMore: boolean;
  quarantined: number;
  /** Attempts after the first that preparing the page needed. */
  retries: number;
  plan: PlannedPage | null;
  /** The task queue of the worker holding the plan in memory (fused pages only). */
  heldBy?: string;
}

/** Attempts after the first that produced an activity's result (activities/attempt.ts). */
export const retriesOf = (result: object | null | undefined): number => ((result as { attempt?: number } | null | undefined)?.attempt ?? 1) - 1;

/** A page prepared by preparePage (`throughput-v1`). */
export function preparedPage(r: PreparePageResult): PreparedPage {
  return {
    count: r.count,
    nextCursor: r.nextCursor,
    hasMore: r.hasMore,
    quarantined: r.quarantined,
    retries: retriesOf(r),
    plan: r.plan,
    ...(r.heldBy ? { heldBy: r.heldBy } : {}),
  };
}

/** A page prepared by fetchPage, mapPage and planPage (histories from before `throughput-v1`). */
export function stagedPage(fetched: FetchPageResult, mapped: MapPageResult | null, plan: PlanPageResult | null): PreparedPage {
  return {
    count: fetched.count,
    nextCursor: fetched.nextCursor,
    hasMore: fetched.hasMore,
    quarantined: mapped?.quarantined ?? 0,
    retries: retriesOf(fetched) + retriesOf(mapped) + retriesOf(plan),
    plan,
  };
}

/**
 * How long a write waits to be picked up by the worker holding its page. That worker polls its
 * own queue all the time, so only a dead (or cut-off) worker lets this expire; then the page is
 * written from its claim check by any worker of the family. With the write's heartbeat timeout
 * (15 s), a worker that dies holding a page costs at most ~25 s.
 */
export const HELD_WRITE_START_TIMEOUT = '10 seconds';

type ActivityProxy = ReturnType<typeof proxyActivities<Activities>>;

const isScheduleToStartTimeout = (err: unknown): boolean =>
  err instanceof ActivityFailure && err.cause instanceof TimeoutFailure && err.cause.timeoutType === TimeoutType.SCHEDULE_TO_START;

/**
 * A page's write on the worker that holds its plan (`heldBy`), else on the workflow's own queue.
 * When the holder is gone its attempt is never started: after HELD_WRITE_START_TIMEOUT the write
 * is scheduled again on the family's queue, where any worker reads the plan from its claim check
 * (`onFallback` is told). Writes are idempotent (upserts by external key, creates remembered in
 * heartbeats), so a holder that died half-way through costs redoing its batches, never a duplicate.
 * `write` is told whether it goes to the holder (`held`); `options` add to the write's activity
 * options (a write started ahead waits for its cancellation to complete).
 */
export async function writeHeld<R>(
  heldBy: string | undefined,
  write: (activities: ActivityProxy, held: boolean) => Promise<R>,
  onFallback: () => void,
  options: Partial<ActivityOptions> = {},
): Promise<R> {
  if (heldBy) {
    try {
      return await write(proxyActivities<Activities>({ ...WRITE, ...options, taskQueue: heldBy, scheduleToStartTimeout: HELD_WRITE_START_TIMEOUT }), true);
    } catch (err) {
      if (!isScheduleToStartTimeout(err)) throw err;
      log.warn('the worker holding the page did not take its write: writing it from the claim check', { heldBy });
      onFallback();
    }
  }
  return write(proxyActivities<Activities>({ ...WRITE, ...options }), false);
}

/**
 * Marks syncPipeline histories with more than one page in flight: pages are prepared back to
 * back, up to READ_AHEAD ahead of the page being written, while writes (and with them the
 * commits) stay in page order. A page planned ahead of an earlier page's write is staged with
 * what it saw of its records' links and written with `check`: if an earlier page wrote one of
 * them meanwhile (a record that changed during the sync), writePage answers `stale` without
 * writing or committing, and the page is prepared again from the same cursor.
 */
export const READ_AHEAD_PATCH = 'throughput-v2';

/** Pages prepared (or being prepared) ahead of the one being written. */
export const READ_AHEAD = 2;

/**
 * The pages of a run prepared ahead, in order: one prepare at a time (a page starts where the
 * previous one ended), the next started as soon as the previous returned its cursor, as long as
 * fewer than `depth` pages wait and `allowed(seq)` says the run will still write that page.
 * Workflow code: everything here runs in the workflow's deterministic promise order.
 */
export class ReadAhead<P extends { hasMore: boolean; nextCursor: Cursor | null } = PreparedPage> {
  private readonly pages = new Map<number, Promise<P>>();
  /** The next page to prepare and where it starts; null while one is prepared or at the end. */
  private tail: { seq: number; after: Cursor | null } | null = null;
  private busy = false;
  private resetting = false;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly prepare: (seq: number, after: Cursor | null) => Promise<P>,
    private readonly depth: number,
    private readonly allowed: (seq: number) => boolean,
  ) {}

  /** Page `seq` (starting at `after` when it was not read ahead); prepares the next ones meanwhile. */
  async take(seq: number, after: Cursor | null): Promise<P> {
    let page = this.pages.get(seq);
    if (!page) {
      await this.reset();
      page = this.start(seq, after);
    }
    this.pages.delete(seq);
    this.pump();
    return page;
  }

  /** Forget the pages read ahead (after one was found stale, or before the run ends), once the prepare in flight is done. */
  async reset(): Promise<void> {
    this.resetting = true;
    this.tail = null;
    await this.running;
    this.resetting = false;
    this.pages.clear();
  }

  private start(seq: number, after: Cursor | null): Promise<P> {
    this.busy = true;
    this.tail = null;
    const page = this.prepare(seq, after);
    this.pages.set(seq, page);
    this.running = page.then(
      (p) => {
        this.busy = false;
        if (this.resetting) return;
        this.tail = p.hasMore ? { seq: seq + 1, after: p.nextCursor } : null;
        this.pump();
      },
      () => {
        this.busy = false; // the failure surfaces where the page is taken
      },
    );
    page.catch(() => undefined);
    return page;
  }

  private pump(): void {
    if (this.busy || this.resetting || !this.tail || this.pages.size >= this.depth || !this.allowed(this.tail.seq)) return;
    void this.start(this.tail.seq, this.tail.after);
  }
}

/**
 * Marks histories (syncPipeline, syncPair) that write ahead: while page N is written on the
 * worker holding it, page N+1's write is already started on the same worker, where it waits in
 * memory until N has committed (activities/write-chain.ts). No round trip through the server
 * separates two writes; commits stay in page order. The write ahead is abandoned (cancelled, and
 * its page written again in order) when page N goes stale, fails, or is written elsewhere from
 * its claim check.
 */
export const WRITE_AHEAD_PATCH = 'throughput-v3';

/** A page's write in flight: its result, and whether it went to the claim check on another worker. */
export interface Writing<R> {
  done: Promise<R>;
  fellBack: boolean;
}

/**
 * The page after the one being written: taken from the reader, and written ahead when `start`
 * says it may be (else `writing` is null and the loop writes it in its turn). Workflow code.
 */
export class WriteAhead<P, R> {
  /** Cancels the write ahead (and waits until its activity has stopped: WAIT_CANCELLATION_COMPLETED). */
  private readonly scope = new CancellationScope();
  private abandoned = false;
  /** The write ahead has answered. */
  private settled = false;
  readonly writing: Promise<Writing<R> | null>;

  constructor(
    readonly seq: number,
    readonly page: Promise<P>,
    start: (page: P) => Writing<R> | null,
  ) {
    this.writing = page.then((p) => (this.abandoned ? null : this.scope.run(async () => start(p))));
    this.writing.then(
      (w) => w?.done.then(
        () => (this.settled = true),
        () => (this.settled = true),
      ),
      () => undefined, // a failed prepare surfaces where the page is taken
    );
  }

  /**
   * Give the write ahead up and wait until it has stopped. When the page before it ended on the
   * same worker (stale, or failed), that worker already tells the write ahead, which answers
   * `stale` at once without writing: it is not cancelled (`cancel` false; an answer arriving with
   * the one that made the workflow give it up must not be cancelled either, the server no longer
   * knows the activity and the workflow task would fail). When the page before was written
   * elsewhere (from its claim check), the write ahead waits for a commit that will not come on its
   * worker: it is cancelled (`cancel` true), and the workflow waits until it has stopped.
   */
  async abandon(cancel: boolean): Promise<void> {
    this.abandoned = true;
    if (cancel && !this.settled) this.scope.cancel();
    const written = await this.writing.catch(() => null);
    if (written) await written.done.catch(() => undefined);
  }
}

/**
 * Wait for page `seq`'s write, with `ahead` (or null) the write started after it, and say what
 * becomes of that one. When the write fails, the write ahead waits for a commit that will not
 * come: after a failure that is not retried (on this page's worker) it has already been told and
 * answers on its own, otherwise it is cancelled; then the failure is thrown. When the write ends
 * without committing (stale) or was made elsewhere from its claim check, the write ahead is
 * stopped: with a stale page it goes too (null; both are prepared again), else its page is kept
 * and written in its turn. Workflow code.
 */
export async function settleWrite<P, R extends { stale?: boolean }>(
  seq: number,
  current: Writing<R>,
  ahead: WriteAhead<P, R> | null,
): Promise<{ written: R; ahead: WriteAhead<P, R> | null }> {
  let written: R;
  try {
    written = await current.done;
  } catch (err) {
    const told = !current.fellBack && err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.nonRetryable;
    await ahead?.abandon(!told);
    throw err;
  }
  if (!ahead || !(written.stale === true || current.fellBack)) return { written, ahead };
  const page = ahead.page;
  await ahead.abandon(current.fellBack);
  return { written, ahead: written.stale === true ? null : new WriteAhead(seq + 1, page, () => null) };
}

/** Activity options of a write started ahead: the workflow goes on only once a cancelled one has stopped. */
export const AHEAD_WRITE_OPTIONS: Partial<ActivityOptions> = { cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED };
