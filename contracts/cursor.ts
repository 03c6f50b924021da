import { z } from 'zod';

/**
 * Incremental read position: the last (modifiedAt, key) pair seen. Equal timestamps are ordered
 * by key so a page boundary inside a run of equal timestamps never skips or repeats a record.
 */
export const CursorSchema = z.object({
  /** ISO-8601 timestamp with milliseconds, UTC. */
  modifiedAt: z.string().min(1),
  /** The source key of the last record at `modifiedAt`, compared as a string. */
  key: z.string(),
});
export type Cursor = z.infer<typeof CursorSchema>;

/** Total order on cursors: timestamp first, then key. */
export function compareCursors(a: Cursor, b: Cursor): number {
  if (a.modifiedAt !== b.modifiedAt) return a.modifiedAt < b.modifiedAt ? -1 : 1;
  if (a.key === b.key) return 0;
  return a.key < b.key ? -1 : 1;
}

/** Pure reducer: the cursor after seeing `record`. Never moves backwards. */
export function nextCursor(current: Cursor | null, record: Cursor): Cursor {
  if (current === null) return { modifiedAt: record.modifiedAt, key: record.key };
  return compareCursors(record, current) > 0 ? { modifiedAt: record.modifiedAt, key: record.key } : current;
}

/** The position a run starts from: the checkpoint moved back by the lookback window. */
export function applyLookback(checkpoint: Cursor | null, lookbackMs: number): Cursor | null {
  if (checkpoint === null || lookbackMs <= 0) return checkpoint;
  const t = Date.parse(checkpoint.modifiedAt);
  if (Number.isNaN(t)) return checkpoint;
  return { modifiedAt: new Date(t - lookbackMs).toISOString(), key: '' };
}
