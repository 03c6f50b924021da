/**
 * The next page of a sync, fetched and mapped by the worker that is preparing the page before it,
 * while that page is planned and staged (preparePage). Pages are prepared one after another (each
 * starts where the previous one ended), so without this a page's fetch and mapping wait for the
 * previous page's planning; with it they overlap, on the mapping thread and the source's I/O.
 *
 * Only a read moves earlier: the page is planned (against the links as they are then), staged and
 * quarantined when its own preparePage takes it. A prefetched page is the source as it was a moment
 * earlier; a record changed since then has a later change stamp and comes in a later page, exactly
 * as if the fetch had run then. A page is taken once; one prepared again (its plan went stale) is
 * fetched again. A worker that did not prepare a sync's previous page does not prefetch for it (the
 * next prepare is likely to go elsewhere), and a prefetched page older than PREFETCH_TTL_MS is not used.
 */

/** Oldest prefetched page still used (a paused sync fetches again when it resumes). */
export const PREFETCH_TTL_MS = 30_000;
/** Syncs remembered (a worker runs few at a time). */
const MAX_SYNCS = 64;

interface Entry<T> {
  seq: number;
  /** What the page was asked with (pipeline, cursor, page size): only the same request gets it. */
  request: string;
  at: number;
  value: Promise<T>;
}

export class PagePrefetch<T> {
  /** Per sync: its prefetched page, if any. */
  private readonly pages = new Map<string, Entry<T>>();
  /** Per sync: the last page this worker prepared. */
  private readonly lastHere = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * Page `seq` of `syncId` starting at `after`, if this worker fetched it ahead and it is recent
   * (`page`; handed out once), and whether to fetch the page after it ahead (`ahead`): this worker
   * fetched this one ahead, prepared the one before it, or sees this sync for the first time.
   */
  take(syncId: string, seq: number, request: string): { page: Promise<T> | null; ahead: boolean } {
    const last = this.lastHere.get(syncId);
    this.remember(this.lastHere, syncId, seq);
    if (last !== undefined && seq <= last) {
      // A page prepared again (its plan went stale, or an attempt failed): read everything afresh.
      this.pages.delete(syncId);
      return { page: null, ahead: false };
    }
    const e = this.pages.get(syncId);
    if (e?.seq === seq) this.pages.delete(syncId);
    const page = e && e.seq === seq && e.request === request && this.now() - e.at <= PREFETCH_TTL_MS ? e.value : null;
    return { page, ahead: page !== null || last === undefined || last === seq - 1 };
  }

  put(syncId: string, seq: number, request: string, value: Promise<T>): void {
    value.catch(() => undefined); // a failed prefetch is only a miss: the page is fetched when prepared
    this.remember(this.pages, syncId, { seq, request, at: this.now(), value });
  }

  /** Forget a sync (it finished or continued as new). */
  drop(syncId: string): void {
    this.pages.delete(syncId);
    this.lastHere.delete(syncId);
  }

  private remember<V>(m: Map<string, V>, key: string, v: V): void {
    m.delete(key);
    m.set(key, v);
    while (m.size > MAX_SYNCS) m.delete(m.keys().next().value!);
  }
}
