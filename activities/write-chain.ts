/**
 * Write-ahead (workflows/page-flow.ts `WRITE_AHEAD_PATCH`): the workflow starts page N+1's write
 * while page N's is still running, on the same worker, so that no round trip through the server
 * separates two writes. Commits must stay in page order, so page N+1's write first waits here
 * until page N has committed its cursor. This is that wait, per sync and cursor (a pipeline, or
 * one side of a pair), in the worker's memory.
 *
 * A page N that ends without committing (its plan went stale, or its write failed) ends the wait
 * of N+1 with `abandoned`: N+1 writes nothing, and the workflow prepares it again after N.
 */
import { activityInfo, Context, log } from '@temporalio/activity';
import { isRetryableType, isSyncError } from '../contracts/errors';

/** How often a waiting write heartbeats (the SDK sends at most one per 80% of the heartbeat timeout). */
const BEAT_MS = 1000;
/** Results of committed pages kept per chain. */
const RESULTS_KEPT = 4;
/** Chains remembered (one per sync and cursor; a worker runs few syncs at a time). */
const MAX_CHAINS = 256;

interface Chain {
  /** The latest page committed by this process. */
  committed: number;
  /** What the last pages committed here answered (a late retry of one answers the same). */
  results: Map<number, unknown>;
  /** Writes that ended here without committing (`seq#writeNo`). */
  ended: Set<string>;
  wake: Set<() => void>;
}

export type WaitOutcome = 'committed' | 'abandoned';

/** What a chained write is told by the workflow (writePage, writePairPage). */
export interface ChainedRef {
  seq: number;
  planHash?: string;
  commit?: unknown;
  /** The write's number for its page (pages written again after a stale plan are another write). */
  writeNo?: number;
  /** Written ahead: the page (and its write) whose commit this one waits for. */
  after?: { seq: number; writeNo: number };
}

export class WriteChains {
  private readonly chains = new Map<string, Chain>();

  private chain(key: string): Chain {
    let c = this.chains.get(key);
    if (!c) {
      c = { committed: -1, results: new Map(), ended: new Set(), wake: new Set() };
      this.chains.set(key, c);
      while (this.chains.size > MAX_CHAINS) this.chains.delete(this.chains.keys().next().value!);
    }
    return c;
  }

  /** Page `seq` committed its cursor (answering `result`): the write waiting for it goes on. */
  committed(key: string, seq: number, result: unknown): void {
    const c = this.chain(key);
    c.committed = Math.max(c.committed, seq);
    c.results.set(seq, result);
    for (const s of c.results.keys()) if (s < seq - RESULTS_KEPT) c.results.delete(s);
    for (const w of c.wake) w();
  }

  /**
   * Write `writeNo` of page `seq` ended without committing: the write waiting for it writes
   * nothing. (The workflow numbers the writes it starts for a page: a page written again after a
   * stale plan is another write, which the page after it may wait for.)
   */
  ended(key: string, seq: number, writeNo = 0): void {
    const c = this.chain(key);
    if (c.committed >= seq) return;
    c.ended.add(`${seq}#${writeNo}`);
    for (const w of c.wake) w();
  }

  /**
   * What page `seq` answered when it committed here, if it did: a late retry of its write (the
   * completion was lost, and the page after it, written ahead, has committed and dropped its claim
   * check since) answers the same without writing again.
   */
  resultOf<R>(key: string, seq: number): R | undefined {
    return this.chains.get(key)?.results.get(seq) as R | undefined;
  }

  /** Has this process committed a page after `seq`? (A late retry of `seq` must not move the cursor back.) */
  committedAfter(key: string, seq: number): boolean {
    return (this.chains.get(key)?.committed ?? -1) > seq;
  }

  /** Forget a sync's chains (it finished or continued as new). */
  drop(syncId: string): void {
    for (const k of [...this.chains.keys()]) if (k.startsWith(`${syncId}\u0000`)) this.chains.delete(k);
  }

  /**
   * A page's write in its chain: a late retry of a page committed here answers what it answered
   * then; a write ahead waits for the page before it (and answers `stale()` without writing when
   * that page ended without committing); a write that ends without committing (stale, or failed
   * for good) ends the wait of the page after it; one that commits lets it go on. `write` commits
   * the cursor itself, and must not move it back when `committedAfter` says a later page has.
   */
  async run<R extends { stale?: boolean }>(key: string, ref: ChainedRef, write: () => Promise<R>, stale: () => R): Promise<R> {
    const done = ref.commit ? this.resultOf<{ planHash?: string; result: R }>(key, ref.seq) : undefined;
    if (done && done.planHash !== undefined && done.planHash === ref.planHash) return done.result;
    // Only the first attempt waits: a retry of a write ahead that had started writing goes on.
    if (ref.after !== undefined && activityInfo().heartbeatDetails === undefined) {
      if ((await this.waitFor(key, ref.after)) === 'abandoned') {
        log.info('the page before this one ended without committing; this one is prepared again', { seq: ref.seq });
        return stale();
      }
    }
    try {
      const written = await write();
      if (written.stale) this.ended(key, ref.seq, ref.writeNo);
      else if (ref.commit) this.committed(key, ref.seq, { planHash: ref.planHash, result: written });
      return written;
    } catch (err) {
      // A failure that will not be retried ends this write: the page written ahead of it, waiting
      // for its commit, writes nothing. (After a failure that is retried it goes on waiting.)
      if (isSyncError(err) && !isRetryableType(err.type)) this.ended(key, ref.seq, ref.writeNo);
      throw err;
    }
  }

  /**
   * Wait until page `after.seq` has committed in this process ('committed'), or its write
   * `after.writeNo` ended here without committing ('abandoned'). Only this process is asked: the workflow starts a write ahead only
   * on the worker that is writing the page before it, and cancels it when that page is written
   * elsewhere (from its claim check). Heartbeats while waiting, so that the cancellation arrives.
   */
  async waitFor(key: string, after: { seq: number; writeNo: number }): Promise<WaitOutcome> {
    const c = this.chain(key);
    const ctx = Context.current();
    for (;;) {
      if (c.committed >= after.seq) return 'committed';
      if (c.ended.has(`${after.seq}#${after.writeNo}`)) return 'abandoned';
      ctx.heartbeat();
      let wake!: () => void;
      const woken = new Promise<void>((resolve) => (wake = resolve));
      c.wake.add(wake);
      const timer = setTimeout(wake, BEAT_MS);
      try {
        await Promise.race([woken, ctx.cancelled]);
      } finally {
        clearTimeout(timer);
        c.wake.delete(wake);
      }
    }
  }
}
