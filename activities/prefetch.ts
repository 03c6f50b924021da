/**
 * The next pages of a sync, prepared in the background by the worker that prepared the page before
 * them. Pages are prepared one after another (each starts where the previous one ended), and the
 * workflow asks for each through a round trip to the server; without this the worker would wait
 * for every such round trip (and for its mapping thread) with nothing else to do. With it, up to
 * `depth` pages after the last one asked for are prepared here in the background, and a preparePage
 * for one of them that comes to this worker takes it ready. Each is fetched as soon as the page
 * before it has been fetched (its cursor is known: `onFetched`), so that one page's fetch runs
 * while the one before it is mapped (on a mapping thread) and planned.
 *
 * A page prepared in the background is exactly a page prepared early: planned against the links
 * as they were then, staged, held. The workflow prepares pages ahead of their writes anyway, and
 * each write checks its plan against the links first (`check`), so a page planned earlier is no
 * different from one read ahead. A page is taken once; a page prepared again (its plan went stale,
 * or an attempt failed) is read afresh, and the pages after it are prepared again too. A worker
 * that did not prepare a sync's previous page does not prepare ahead for it (the next one is likely
 * to go elsewhere); a page older than PREFETCH_TTL_MS is not used.
 */
import type { Cursor } from '../contracts/cursor';

/** Oldest page prepared in the background that is still used (a paused sync reads again when it resumes). */
export const PREFETCH_TTL_MS = 30_000;
/** Pages prepared in the background after the last one asked for. */
export const PREFETCH_DEPTH = 2;
/** Syncs remembered (a worker runs few at a time). */
const MAX_SYNCS = 64;

interface Prepared {
  hasMore: boolean;
  nextCursor: Cursor | null;
}

interface Entry<T> {
  /** What the page was asked with (pipeline, cursor, page size): only the same request gets it. */
  request: string;
  at: number;
  value: Promise<T>;
  /** Where the page ends, known once it is fetched (before it is mapped and planned). */
  fetched?: Prepared;
}

/** Prepare page `seq` from `after`; `onFetched` is told where it ends as soon as it is fetched. */
export type PrepareAhead<T> = (seq: number, after: Cursor | null, onFetched: (f: Prepared) => void) => Promise<T>;

export class PagePrefetch<T extends Prepared> {
  /** Per sync: the pages prepared (or being prepared) in the background, by seq. */
  private readonly pages = new Map<string, Map<number, Entry<T>>>();
  /** Per sync: the last page asked for here, and what it answered once known. */
  private readonly lastHere = new Map<string, { seq: number; result?: T }>();

  constructor(
    private readonly depth = PREFETCH_DEPTH,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Page `seq` of `syncId`, asked with `request`, if it was prepared here in the background and is
   * recent (`page`; handed out once), and whether to prepare ahead of it (`ahead`): this worker
   * prepared it in the background, prepared the page before it, or sees this sync for the first time.
   */
  take(syncId: string, seq: number, request: string): { page: Promise<T> | null; ahead: boolean } {
    const last = this.lastHere.get(syncId)?.seq;
    this.remember(this.lastHere, syncId, { seq });
    const entries = this.pages.get(syncId);
    if (last !== undefined && seq <= last) {
      // A page prepared again (its plan went stale, or an attempt failed): read everything afresh.
      this.pages.delete(syncId);
      return { page: null, ahead: false };
    }
    const e = entries?.get(seq);
    if (entries) for (const s of [...entries.keys()]) if (s <= seq) entries.delete(s);
    const page = e && e.request === request && this.now() - e.at <= PREFETCH_TTL_MS ? e.value : null;
    return { page, ahead: page !== null || last === undefined || last === seq - 1 };
  }

  /**
   * Page `seq` was prepared here and answered `result`: keep up to `depth` pages after it prepared
   * in the background with `prepare`, each fetched from the cursor of the one before once that
   * one is fetched.
   * `request` says what each is asked with (it must match the workflow's later request).
   */
  runAhead(syncId: string, seq: number, result: T, prepare: PrepareAhead<T>, request: (seq: number, after: Cursor | null) => string): void {
    const last = this.lastHere.get(syncId);
    if (last?.seq !== seq) return; // a later page has been asked for since
    last.result = result;
    this.extend(syncId, prepare, request);
  }

  /** Forget a sync (it finished or continued as new). */
  drop(syncId: string): void {
    this.pages.delete(syncId);
    this.lastHere.delete(syncId);
  }

  private extend(syncId: string, prepare: PrepareAhead<T>, request: (seq: number, after: Cursor | null) => string): void {
    const last = this.lastHere.get(syncId);
    if (!last?.result) return;
    let entries = this.pages.get(syncId);
    if (!entries) this.remember(this.pages, syncId, (entries = new Map()));
    let prev: Prepared = last.result;
    for (let s = last.seq + 1; s <= last.seq + this.depth; s++) {
      if (!prev.hasMore) return;
      const e = entries.get(s);
      if (e) {
        if (!e.fetched) return; // being fetched: the chain goes on when it is
        prev = e.fetched;
        continue;
      }
      const after = prev.nextCursor;
      const onFetched = (f: Prepared): void => {
        if (entry.fetched) return;
        entry.fetched = { hasMore: f.hasMore, nextCursor: f.nextCursor };
        if (this.pages.get(syncId)?.get(s) === entry) this.extend(syncId, prepare, request);
      };
      const entry: Entry<T> = {
        request: request(s, after),
        at: this.now(),
        // Started once the current activity's result is on its way.
        value: new Promise<void>((resolve) => setImmediate(resolve)).then(() => prepare(s, after, onFetched)),
      };
      entries.set(s, entry);
      entry.value.then(
        (r) => onFetched(r),
        () => undefined, // a failed page is only a miss: it is prepared when asked for
      );
      return;
    }
  }

  private remember<V>(m: Map<string, V>, key: string, v: V): void {
    m.delete(key);
    m.set(key, v);
    while (m.size > MAX_SYNCS) m.delete(m.keys().next().value!);
  }
}
