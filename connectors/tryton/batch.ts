import { isSyncError, type SyncError } from '../../contracts/errors';
import type { WriteOutcome } from '../types';
import type { Context, TrytonClient } from './client';

/** Errors that concern the records sent, not the call: isolate them per record. */
const PER_RECORD = new Set(['ValidationError', 'Conflict', 'NotFound', 'MappingError']);

export function isRecordRefusal(err: unknown): err is SyncError {
  return isSyncError(err) && PER_RECORD.has(err.type);
}

/** Maps Tryton's field labels (as quoted in its messages) to canonical field paths. */
export type LabelMap = Record<string, string>;

export function refusal(externalKey: string, err: SyncError, labels: LabelMap = {}): WriteOutcome {
  const field = err.field === undefined ? undefined : (labels[err.field] ?? err.field);
  return { externalKey, ok: false, error: { type: err.type, message: err.message, ...(field ? { field } : {}) } };
}

export interface CreateItem {
  externalKey: string;
  values: Record<string, unknown>;
}
export interface WriteItem {
  externalKey: string;
  id: number;
  values: Record<string, unknown>;
  /** `_timestamp` read with the record, for optimistic locking. */
  timestamp?: string;
}

/**
 * Creates all items in one call; when Tryton refuses the batch (one transaction, so nothing was
 * written), retries record by record so that only the bad records come back as refusals.
 */
export async function createMany(
  client: TrytonClient, model: string, items: CreateItem[], labels: LabelMap, context: Context = {},
): Promise<Map<string, WriteOutcome>> {
  return allOrOneByOne(items, labels, async (batch) => {
    const ids = await client.model<number[]>(model, 'create', [batch.map((i) => i.values)], context);
    return batch.map((item, n) => created(item.externalKey, ids[n]));
  });
}

/**
 * Run `call` on all items at once; when Tryton refuses a record (which fails the whole call),
 * retry one by one so that only the refused records come back as `ok: false`.
 */
async function allOrOneByOne<T extends { externalKey: string }>(
  items: T[], labels: LabelMap, call: (batch: T[]) => Promise<WriteOutcome[]>,
): Promise<Map<string, WriteOutcome>> {
  const out = new Map<string, WriteOutcome>();
  if (items.length === 0) return out;
  try {
    for (const o of await call(items)) out.set(o.externalKey, o);
    return out;
  } catch (err) {
    if (!isRecordRefusal(err)) throw err;
    if (items.length === 1 && items[0]) {
      out.set(items[0].externalKey, refusal(items[0].externalKey, err, labels));
      return out;
    }
  }
  for (const item of items) {
    for (const [k, v] of await allOrOneByOne([item], labels, call)) out.set(k, v);
  }
  return out;
}

function created(externalKey: string, id: number | undefined): WriteOutcome {
  if (id === undefined) throw new Error('Tryton returned fewer ids than records created');
  return { externalKey, ok: true, targetKey: String(id), action: 'created' };
}

/** Writes all items in one call (one value group per record), falling back to one by one. */
export async function writeMany(
  client: TrytonClient, model: string, items: WriteItem[], labels: LabelMap, context: Context = {},
): Promise<Map<string, WriteOutcome>> {
  return allOrOneByOne(items, labels, async (batch) => {
    const args: unknown[] = batch.flatMap((i) => [[i.id], i.values]);
    const stamps = Object.fromEntries(batch.filter((i) => i.timestamp !== undefined).map((i) => [`${model},${i.id}`, i.timestamp]));
    await client.model(model, 'write', args, Object.keys(stamps).length ? { ...context, _timestamp: stamps } : context);
    return batch.map((i): WriteOutcome => ({ externalKey: i.externalKey, ok: true, targetKey: String(i.id), action: 'updated' }));
  });
}
