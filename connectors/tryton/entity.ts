import type { EntityDescription, FetchRequest, FetchResult, SourceRecord, WriteOutcome, WriteRequest } from '../types';
import type { TrytonClient } from './client';
import type { Lookups } from './lookups';

/** One entity of the Tryton connector (customers, products, salesOrders, invoices). */
export interface EntityHandler {
  description: EntityDescription;
  fetchChanges(request: FetchRequest): Promise<FetchResult>;
  read(keys: string[]): Promise<SourceRecord[]>;
  upsert(batch: WriteRequest[]): Promise<WriteOutcome[]>;
  findByExternalKeys(externalKeys: string[]): Promise<Map<string, string>>;
  delete(targetKeys: string[]): Promise<void>;
}

export interface EntityDeps {
  client: TrytonClient;
  lookups: Lookups;
  /** Prefix of party codes that carry a CRM external key. */
  customerCodePrefix: string;
}

/** Outcomes in request order, from a map keyed by external key. */
export function inOrder(batch: WriteRequest[], outcomes: Map<string, WriteOutcome>): WriteOutcome[] {
  return batch.map(
    (r) =>
      outcomes.get(r.externalKey) ?? {
        externalKey: r.externalKey,
        ok: false,
        error: { type: 'ValidationError', message: 'record was not processed (duplicate externalKey in batch?)' },
      },
  );
}

/**
 * One request per external key: when a batch repeats a key, the last occurrence (the newest
 * change) is written and every occurrence gets its outcome.
 */
export function uniqueByKey(batch: WriteRequest[]): WriteRequest[] {
  const last = new Map<string, WriteRequest>();
  for (const r of batch) last.set(r.externalKey, r);
  return [...last.values()];
}
