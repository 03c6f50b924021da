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
import { Context } from '@temporalio/activity';

/** How often a waiting write heartbeats (the SDK sends at most one per 80% of the heartbeat timeout). */
const BEAT_MS = 1000;
/** Chains remembered (one per sync and cursor; a worker runs few syncs at a time). */
const MAX_CHAINS = 256;

interface Chain {
  /** The latest page committed by this process. */
  committed: number;
  /** Pages that ended here without committing. */
  ended: Set<number>;
  wake: Set<() => void>;
}

export type WaitOutcome = 'committed' | 'abandoned';

export class WriteChains {
  private readonly chains = new Map<string, Chain>();

  private chain(key: string): Chain {
    let c = this.chains.get(key);
    if (!c) {
      c = { committed: -1, ended: new Set(), wake: new Set() };
      this.chains.set(key, c);
      while (this.chains.size > MAX_CHAINS) this.chains.delete(this.chains.keys().next().value!);
    }
    return c;
  }

  /** Page `seq` committed its cursor: the write waiting for it goes on. */
  committed(key: string, seq: number): void {
    const c = this.chain(key);
    c.committed = Math.max(c.committed, seq);
    for (const w of c.wake) w();
  }

  /** Page `seq` ended without committing: the write waiting for it writes nothing. */
  ended(key: string, seq: number): void {
    const c = this.chain(key);
    if (c.committed >= seq) return;
    c.ended.add(seq);
    for (const w of c.wake) w();
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
   * Wait until page `afterSeq` has committed in this process ('committed'), or ended here without
   * committing ('abandoned'). Only this process is asked: the workflow starts a write ahead only
   * on the worker that is writing the page before it, and cancels it when that page is written
   * elsewhere (from its claim check). Heartbeats while waiting, so that the cancellation arrives.
   */
  async waitFor(key: string, afterSeq: number): Promise<WaitOutcome> {
    const c = this.chain(key);
    const ctx = Context.current();
    for (;;) {
      if (c.committed >= afterSeq) return 'committed';
      if (c.ended.has(afterSeq)) return 'abandoned';
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
