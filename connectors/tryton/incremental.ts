import { compareCursors, type Cursor } from '../../contracts/cursor';
import type { FetchRequest, FetchResult, SourceRecord } from '../types';
import type { Context, TrytonClient } from './client';
import { modifiedAt, type Row } from './values';

export interface IncrementalSpec {
  model: string;
  fields: string[];
  /** Extra domain, e.g. `[['type', '=', 'out']]`. */
  domain?: unknown[];
  context?: Context;
  toRecord(row: Row): SourceRecord;
}

type Part = { rows: Row[]; boundMs: number };

const msOf = (row: Row): number => modifiedAt(row).getTime();

/**
 * One page of changes ordered by (modifiedAt, key). A record's modifiedAt is
 * COALESCE(write_date, create_date), which Tryton cannot sort on, so we run two sorted queries
 * (never-written rows by create_date; written rows by write_date) and merge them. Both use `>=`
 * on the cursor's millisecond (Tryton stores µs, the cursor keeps ms) and rows at or before the
 * cursor are dropped by the cursor's own order, so equal timestamps are neither skipped nor
 * repeated. A truncated query is only trusted below its last millisecond ("bound").
 */
export async function fetchIncremental(client: TrytonClient, spec: IncrementalSpec, req: FetchRequest): Promise<FetchResult> {
  const limit = Math.max(1, req.limit);
  let fromMs = req.after ? Date.parse(req.after.modifiedAt) : null;
  for (;;) {
    const [a, b] = await Promise.all([
      queryPart(client, spec, 'create_date', [['write_date', '=', null]], fromMs, limit),
      queryPart(client, spec, 'write_date', [['write_date', '!=', null]], fromMs, limit),
    ]);
    const boundMs = Math.min(a.boundMs, b.boundMs);
    const byKey = new Map<string, SourceRecord>();
    for (const row of [...a.rows, ...b.rows]) {
      if (msOf(row) >= boundMs) continue;
      const rec = spec.toRecord(row);
      if (req.after && compareCursors(cursorOf(rec), req.after) <= 0) continue;
      const seen = byKey.get(rec.key);
      if (!seen || seen.modifiedAt < rec.modifiedAt) byKey.set(rec.key, rec);
    }
    const sorted = [...byKey.values()].sort((x, y) => compareCursors(cursorOf(x), cursorOf(y)));
    const records = sorted.slice(0, limit);
    const truncated = boundMs !== Number.POSITIVE_INFINITY;
    const last = records[records.length - 1];
    if (records.length > 0 || !truncated) {
      return { records, nextCursor: last ? cursorOf(last) : req.after, hasMore: truncated || sorted.length > limit };
    }
    // Everything up to the bound was at or before the cursor: move past it and read on.
    fromMs = boundMs;
  }
}

function cursorOf(r: SourceRecord): Cursor {
  return { modifiedAt: r.modifiedAt, key: r.key };
}

async function queryPart(
  client: TrytonClient,
  spec: IncrementalSpec,
  dateField: 'create_date' | 'write_date',
  base: unknown[],
  fromMs: number | null,
  limit: number,
): Promise<Part> {
  const fields = [...new Set([...spec.fields, 'create_date', 'write_date'])];
  const since = fromMs === null ? [] : [[dateField, '>=', new Date(fromMs)]];
  const domain = [...base, ...(spec.domain ?? []), ...since];
  const order = [[dateField, 'ASC'], ['id', 'ASC']];
  const rows = await client.model<Row[]>(spec.model, 'search_read', [domain, 0, limit + 1, order, fields], spec.context);
  const last = rows[rows.length - 1];
  if (rows.length <= limit || !last) return { rows, boundMs: Number.POSITIVE_INFINITY };
  const lastMs = msOf(last);
  const below = rows.filter((r) => msOf(r) < lastMs);
  if (below.length > 0) return { rows: below, boundMs: lastMs };
  // The whole page shares one millisecond: read that millisecond completely.
  const group = await client.model<Row[]>(
    spec.model,
    'search_read',
    [[...base, ...(spec.domain ?? []), [dateField, '>=', new Date(lastMs)], [dateField, '<', new Date(lastMs + 1)]], 0, null, order, fields],
    spec.context,
  );
  return { rows: group, boundMs: lastMs + 1 };
}
