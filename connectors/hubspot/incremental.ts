import { compareCursors } from '../../contracts/cursor';
import type { Cursor } from '../../contracts/cursor';
import { SyncError } from '../../contracts/errors';

/**
 * Incremental reads over HubSpot search, which pages by integer offset and stops at 10,000
 * results. Offset paging also skips records when a record earlier in the result set is modified
 * mid-read (everything behind it shifts one place). So every request re-windows instead: filter
 * `modified >= last timestamp seen`, offset 0, ascending, and de-duplicate by id. A run of equal
 * timestamps that fills a whole page is read by id keyset (`modified = t AND hs_object_id > id`).
 * A page is cut only below the newest timestamp seen, whose run may be incomplete, then sorted by
 * (timestamp, key as string) as the Cursor contract orders records.
 */

export interface SearchFilter {
  propertyName: string;
  operator: 'GTE' | 'GT' | 'EQ';
  value: string;
}

export interface SearchHit {
  id: string;
  modifiedMs: number;
  properties: Record<string, string | null>;
}

export interface WindowQuery {
  filters: SearchFilter[];
  sortProperty: string;
  limit: number;
}

export type SearchWindow = (query: WindowQuery) => Promise<SearchHit[]>;

export interface IncrementalOptions {
  modifiedProperty: string;
  /** Search page size (HubSpot maximum 200). @default 200 */
  pageSize?: number;
}

export interface IncrementalPage {
  hits: SearchHit[];
  hasMore: boolean;
  /** Search requests spent. */
  requests: number;
}

/** A position in the Cursor order: canonical ISO timestamp, key compared as a string. */
function cursorAt(ms: number, key: string): Cursor {
  return { modifiedAt: new Date(ms).toISOString(), key };
}

export async function readIncremental(
  search: SearchWindow,
  options: IncrementalOptions,
  after: Cursor | null,
  limit: number,
): Promise<IncrementalPage> {
  const pageSize = options.pageSize ?? 200;
  const prop = options.modifiedProperty;
  const cursorMs = after === null ? null : Date.parse(after.modifiedAt);
  if (cursorMs !== null && Number.isNaN(cursorMs)) {
    throw new SyncError('InvalidInput', `cursor.modifiedAt is not an ISO timestamp: ${after?.modifiedAt ?? ''}`, { field: 'after.modifiedAt' });
  }
  // Normalised, so that a cursor written without milliseconds or with an offset compares right.
  const from = after === null || cursorMs === null ? null : cursorAt(cursorMs, after.key);
  const isAfterCursor = (h: SearchHit): boolean => from === null || compareCursors(cursorAt(h.modifiedMs, h.id), from) > 0;

  const buffer = new Map<string, SearchHit>();
  const add = (h: SearchHit): void => {
    if (!isAfterCursor(h)) return;
    const seen = buffer.get(h.id);
    if (!seen || h.modifiedMs >= seen.modifiedMs) buffer.set(h.id, h);
  };
  /** Every record with a timestamp below this has been seen. */
  let completeBelow = Number.NEGATIVE_INFINITY;
  let lower: { ms: number; inclusive: boolean } | null = cursorMs === null ? null : { ms: cursorMs, inclusive: true };
  let exhausted = false;
  let requests = 0;
  const complete = (): number => {
    let n = 0;
    for (const h of buffer.values()) if (h.modifiedMs < completeBelow) n++;
    return n;
  };

  while (!exhausted && complete() < limit) {
    const filters: SearchFilter[] = lower ? [{ propertyName: prop, operator: lower.inclusive ? 'GTE' : 'GT', value: String(lower.ms) }] : [];
    const hits = await search({ filters, sortProperty: prop, limit: pageSize });
    requests++;
    hits.forEach(add);
    const first = hits[0];
    const last = hits[hits.length - 1];
    if (hits.length < pageSize || !first || !last) {
      exhausted = true;
      completeBelow = Number.POSITIVE_INFINITY;
      break;
    }
    if (first.modifiedMs === last.modifiedMs) {
      requests += await readRun(search, prop, last.modifiedMs, pageSize, add);
      lower = { ms: last.modifiedMs, inclusive: false };
      completeBelow = last.modifiedMs + 1;
    } else {
      lower = { ms: last.modifiedMs, inclusive: true };
      completeBelow = last.modifiedMs;
    }
  }

  const ready = [...buffer.values()]
    .filter((h) => h.modifiedMs < completeBelow)
    .map((h) => ({ h, at: cursorAt(h.modifiedMs, h.id) }))
    .sort((a, b) => compareCursors(a.at, b.at))
    .map(({ h }) => h);
  return { hits: ready.slice(0, limit), hasMore: !exhausted || ready.length > limit, requests };
}

/** Reads every record whose timestamp equals `ms`, by ascending id keyset. */
async function readRun(search: SearchWindow, prop: string, ms: number, pageSize: number, add: (h: SearchHit) => void): Promise<number> {
  let lastId = '0';
  let requests = 0;
  for (;;) {
    const hits = await search({
      filters: [
        { propertyName: prop, operator: 'EQ', value: String(ms) },
        { propertyName: 'hs_object_id', operator: 'GT', value: lastId },
      ],
      sortProperty: 'hs_object_id',
      limit: pageSize,
    });
    requests++;
    hits.forEach(add);
    const last = hits[hits.length - 1];
    if (hits.length < pageSize || !last) return requests;
    lastId = last.id;
  }
}
