/**
 * What a workflow test's activities did with pages, in the order the worker did it: the starts and
 * ends of prepares and writes, per side (one-way syncs use a single side). Shared by the read-ahead
 * and write-ahead tests, which steer a write until another call has happened (bounded, so that an
 * order the workflow does not produce fails the test's assertion instead of hanging it).
 */
export interface PageCall {
  kind: 'prepare' | 'write';
  side: string;
  seq: number;
  at: 'start' | 'end';
  /** A write that ended without writing or committing (its plan was stale). */
  stale?: boolean;
}

type Kind = PageCall['kind'];

export class PageCalls {
  readonly calls: PageCall[] = [];

  push(call: PageCall): void {
    this.calls.push(call);
  }

  /** Log `fn`'s start and end as a call of `kind` for page `seq` of `side`. */
  async around<R>(kind: Kind, side: string, seq: number, fn: () => Promise<R>): Promise<R> {
    this.push({ kind, side, seq, at: 'start' });
    const r = await fn();
    const stale = (r as { stale?: boolean } | null)?.stale === true;
    this.push({ kind, side, seq, at: 'end', ...(stale ? { stale } : {}) });
    return r;
  }

  /** Where the first such call is in the log (-1: none). */
  first(kind: Kind, side: string, seq: number, at: 'start' | 'end'): number {
    return this.calls.findIndex((c) => c.kind === kind && c.side === side && c.seq === seq && c.at === at);
  }

  /** How often page `seq` of `side` started a call of `kind`. */
  starts(kind: Kind, side: string, seq: number): number {
    return this.calls.filter((c) => c.kind === kind && c.side === side && c.seq === seq && c.at === 'start').length;
  }

  /** The ends of page `seq`'s writes in order: true for one that ended stale. */
  writeEnds(side: string, seq: number): boolean[] {
    return this.calls.filter((c) => c.kind === 'write' && c.side === side && c.seq === seq && c.at === 'end').map((c) => c.stale === true);
  }

  /** The pages of `side` whose writes wrote, in the order they ended. */
  written(side: string): number[] {
    return this.calls.filter((c) => c.kind === 'write' && c.side === side && c.at === 'end' && !c.stale).map((c) => c.seq);
  }

  /** Where the last write of `side` ended (-1: none). */
  lastWriteEnd(side: string): number {
    return this.calls.reduce((last, c, i) => (c.kind === 'write' && c.side === side && c.at === 'end' ? i : last), -1);
  }

  /**
   * Wait until such a call has been logged, at most `ms`. It does not fail by itself: when the call
   * never comes, the test's assertion on the order says so. The default bound stays below the
   * activities' heartbeat timeout (15 s), so that an activity steered to wait ends its own attempt
   * instead of timing out and being retried.
   */
  async until(kind: Kind, side: string, seq: number, at: 'start' | 'end', ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.first(kind, side, seq, at) < 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
