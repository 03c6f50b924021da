import type { EntityDescription, FetchRequest, FetchResult, SourceRecord, WriteOutcome, WriteRequest } from '../types';
import { createMany, isRecordRefusal, refusal, writeMany, type CreateItem, type LabelMap, type WriteItem } from './batch';
import type { Context, TrytonClient } from './client';
import { fetchIncremental } from './incremental';
import type { Lookups } from './lookups';
import { ids, type Row } from './values';

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
        error: { type: 'ValidationError', message: 'record was not processed' },
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

/** What an upsert does with one request. `target` is the id reported (default `id`). */
export type Plan =
  | { create: Record<string, unknown> }
  | { write: Record<string, unknown>; id: number; timestamp?: string; target?: number }
  | { unchanged: number };

export interface KeyedSpec<P = undefined> {
  client: TrytonClient;
  /** Model searched by external key and read; target keys are its ids. */
  model: string;
  /** Model created and written, when not `model` (products write their template). */
  writeModel?: string;
  fields: string[];
  context?: Context;
  labels: LabelMap;
  toRecord(row: Row): SourceRecord;
  /** Existing rows by external key (one search for the batch). */
  byKeys(keys: string[]): Promise<Map<string, Row>>;
  /** Reference data for the whole batch (one round trip, not one per record), given to `plan`. */
  prepare?(requests: WriteRequest[]): Promise<P>;
  /** The change for one request; throwing a record refusal refuses that request only. */
  plan(request: WriteRequest, current: Row | undefined, prepared: P): Promise<Plan>;
}

/** fetchChanges, read, findByExternalKeys and upsert of an entity keyed by a searchable field. */
export function keyedEntity<P = undefined>(spec: KeyedSpec<P>): Omit<EntityHandler, 'description' | 'delete'> {
  const { client, model, fields, context = {}, labels, toRecord, byKeys } = spec;
  const writeModel = spec.writeModel ?? model;
  return {
    fetchChanges: (request) => fetchIncremental(client, { model, fields, context, toRecord }, request),

    async read(keys) {
      const rows = await client.model<Row[]>(model, 'search_read', [[['id', 'in', ids(keys)]], 0, null, null, fields], context);
      return rows.map(toRecord);
    },

    async findByExternalKeys(externalKeys) {
      const found = await byKeys(externalKeys);
      return new Map([...found].map(([k, r]) => [k, String(r.id)]));
    },

    async upsert(batch) {
      const requests = uniqueByKey(batch);
      const existing = await byKeys(requests.map((r) => r.externalKey));
      const prepared = (await spec.prepare?.(requests)) as P;
      const outcomes = new Map<string, WriteOutcome>();
      const creates: CreateItem[] = [];
      const writes: WriteItem[] = [];
      const targets = new Map<string, number>();
      for (const r of requests) {
        const key = r.externalKey;
        try {
          const p = await spec.plan(r, existing.get(key), prepared);
          if ('create' in p) creates.push({ externalKey: key, values: p.create });
          else if ('unchanged' in p) outcomes.set(key, { externalKey: key, ok: true, targetKey: String(p.unchanged), action: 'updated' });
          else {
            writes.push({ externalKey: key, id: p.id, values: p.write, timestamp: p.timestamp });
            if (p.target !== undefined) targets.set(key, p.target);
          }
        } catch (err) {
          if (!isRecordRefusal(err)) throw err;
          outcomes.set(key, refusal(key, err, labels));
        }
      }
      const made = await createMany(client, writeModel, creates, labels);
      const createdKeys = [...made].filter(([, o]) => o.ok).map(([k]) => k);
      if (writeModel !== model && createdKeys.length) {
        // Created through another model: the target keys are the ids of `model`, found by key.
        for (const [k, r] of await byKeys(createdKeys)) targets.set(k, r.id);
      }
      const written = await writeMany(client, writeModel, writes, labels);
      for (const [k, o] of [...made, ...written]) {
        const target = targets.get(k);
        outcomes.set(k, o.ok && target !== undefined ? { ...o, targetKey: String(target) } : o);
      }
      return inOrder(batch, outcomes);
    },
  };
}
