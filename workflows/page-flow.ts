/**
 * Workflow-side plumbing of a pipeline page (workflow-safe: imports only the workflow SDK,
 * contracts and activity types). A page, however it was prepared, as one shape for the loop;
 * and the write routed to the worker that holds the page in memory, with the claim check as
 * the fallback when that worker is gone.
 */
import { TimeoutType } from '@temporalio/common';
import { ActivityFailure, log, proxyActivities, TimeoutFailure } from '@temporalio/workflow';
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
 */
export async function writeHeld<R>(heldBy: string | undefined, write: (activities: ActivityProxy) => Promise<R>, onFallback: () => void): Promise<R> {
  if (heldBy) {
    try {
      return await write(proxyActivities<Activities>({ ...WRITE, taskQueue: heldBy, scheduleToStartTimeout: HELD_WRITE_START_TIMEOUT }));
    } catch (err) {
      if (!isScheduleToStartTimeout(err)) throw err;
      log.warn('the worker holding the page did not take its write: writing it from the claim check', { heldBy });
      onFallback();
    }
  }
  return write(proxyActivities<Activities>(WRITE));
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
