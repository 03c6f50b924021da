import type {
  FilterOperatorEnum,
  SimplePublicObject,
  StandardError,
} from '@hubspot/api-client/lib/codegen/crm/objects';
import { nextCursor } from '../../contracts/cursor';
import type { Cursor } from '../../contracts/cursor';
import { SyncError } from '../../contracts/errors';
import type { Connector, FetchRequest, FetchResult, SourceRecord, WriteOutcome, WriteRequest } from '../types';
import { fieldOf, isApiException, typeForCategory } from './errors';
import { associationKey, lastWritePerKey, planAssociations } from './associations';
import type { AssociationPlan } from './associations';
import { describeEntity, HUBSPOT_ENTITIES } from './entities';
import type { AssociationRule, HubSpotEntity } from './entities';
import { readIncremental } from './incremental';
import type { SearchHit, WindowQuery } from './incremental';
import { HubSpotTransport } from './transport';
import type { TransportOptions } from './transport';

export const HUBSPOT_MAX_BATCH = 100;

export interface HubSpotConnectorOptions extends TransportOptions {
  /** Entities served; defaults to companies, contacts, products, deals, line_items. */
  entities?: Record<string, HubSpotEntity>;
  /** Search page size. @default 200 (HubSpot's maximum) */
  searchPageSize?: number;
  /** The app's burst limit, reported by describe(). @default 190 */
  rateLimitPer10s?: number;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function parseMs(value: string | null | undefined): number | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

function toHit(o: SimplePublicObject, modifiedProperty: string): SearchHit {
  const modifiedMs = parseMs(o.properties[modifiedProperty]) ?? parseMs(o.properties.hs_lastmodifieddate) ?? new Date(o.updatedAt).getTime();
  return { id: o.id, modifiedMs, properties: o.properties };
}

function toRecord(h: SearchHit): SourceRecord {
  // A plain copy of the client model's properties.
  return { key: h.id, modifiedAt: new Date(h.modifiedMs).toISOString(), data: { ...h.properties } };
}

export function createHubSpotConnector(options: HubSpotConnectorOptions): Connector {
  const transport = new HubSpotTransport(options);
  const entities = options.entities ?? HUBSPOT_ENTITIES;
  const pageSize = options.searchPageSize ?? 200;

  const entityOf = (name: string): HubSpotEntity => {
    const e = entities[name];
    if (!e) throw new SyncError('ConfigError', `HubSpot connector has no entity '${name}' (known: ${Object.keys(entities).join(', ')})`);
    return e;
  };
  const writable = (e: HubSpotEntity): { keyProperty: string; toProperties: (f: Record<string, unknown>) => Record<string, string> } => {
    if (!e.keyProperty || !e.toProperties) throw new SyncError('ConfigError', `HubSpot entity '${e.name}' is read-only`);
    return { keyProperty: e.keyProperty, toProperties: e.toProperties };
  };
  // hs_object_id is what pipelines reading HubSpot map to the canonical externalKey.
  const readProps = (e: HubSpotEntity): string[] => [...new Set(['hs_object_id', ...e.readProperties, e.modifiedProperty, 'hs_lastmodifieddate'])];

  async function searchWindow(e: HubSpotEntity, q: WindowQuery): Promise<SearchHit[]> {
    const res = await transport.call('search', `search ${e.objectType}`, (api) =>
      api.searchApi.doSearch(e.objectType, {
        filterGroups:
          q.filters.length > 0
            ? [{ filters: q.filters.map((f) => ({ propertyName: f.propertyName, operator: f.operator as FilterOperatorEnum, value: f.value })) }]
            : [],
        // The client types `sorts` as string[]; HubSpot takes {propertyName, direction} objects.
        sorts: [{ propertyName: q.sortProperty, direction: 'ASCENDING' }] as unknown as string[],
        properties: readProps(e),
        limit: q.limit,
        after: '0',
      }),
    );
    return res.results.map((o) => toHit(o, e.modifiedProperty));
  }

  /** `batch` holds each key once. */
  async function upsertChunk(e: HubSpotEntity, batch: WriteRequest[]): Promise<Map<string, WriteOutcome>> {
    const { keyProperty, toProperties } = writable(e);
    const inputs = batch.map((w) => ({
      id: w.externalKey,
      idProperty: keyProperty,
      objectWriteTraceId: w.externalKey,
      properties: { ...toProperties(w.fields), [keyProperty]: w.externalKey },
    }));
    const outcomes = new Map<string, WriteOutcome>();
    let res;
    try {
      res = await transport.call('general', `batch upsert ${e.objectType}`, (api) => api.batchApi.upsert(e.objectType, { inputs }));
    } catch (err) {
      // A one-record batch refused as a whole is that record's failure, not the call's.
      const only = inputs[0];
      if (inputs.length === 1 && only && err instanceof SyncError && (err.type === 'ValidationError' || err.type === 'Conflict')) {
        outcomes.set(only.id, { externalKey: only.id, ok: false, error: { type: err.type, message: err.message, ...(err.field ? { field: err.field } : {}) } });
        return outcomes;
      }
      throw err;
    }
    for (const r of res.results) {
      const key = r.objectWriteTraceId ?? r.properties[keyProperty];
      if (key !== undefined) outcomes.set(key, { externalKey: key, ok: true, targetKey: r.id, action: r._new ? 'created' : 'updated' });
    }
    const errors: StandardError[] = 'errors' in res && Array.isArray(res.errors) ? res.errors : [];
    for (const err of errors) {
      const keys = err.context?.objectWriteTraceId ?? err.context?.ids ?? [];
      const field = fieldOf(err);
      for (const key of keys) {
        outcomes.set(key, {
          externalKey: key,
          ok: false,
          error: { type: typeForCategory(err.category), message: transport.redact(err.message), ...(field ? { field } : {}) },
        });
      }
    }
    return outcomes;
  }

  /** Messages of a 207 body as the client hands it over (deserialized as an `Error`). */
  function reasonsOf(body: unknown): string[] {
    const b = (typeof body === 'object' && body !== null ? body : {}) as { message?: unknown; errors?: unknown };
    const list = Array.isArray(b.errors) ? (b.errors as { message?: unknown }[]).map((x) => x.message).filter((m): m is string => typeof m === 'string') : [];
    return list.length > 0 ? list : typeof b.message === 'string' ? [b.message] : [];
  }

  /** HubSpot ids of `objectType` records by the value of their unique property `keyProperty`. */
  async function idsByUniqueProperty(objectType: string, keyProperty: string, values: string[]): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    for (const part of chunks([...new Set(values)], HUBSPOT_MAX_BATCH)) {
      // Missing values come back as a 207 error entry, not a failure: they are simply absent.
      const res = await transport.call('general', `batch read ${objectType} by ${keyProperty}`, (api) =>
        api.batchApi.read(objectType, { inputs: part.map((id) => ({ id })), idProperty: keyProperty, properties: [keyProperty], propertiesWithHistory: [] }, false),
      );
      for (const o of res.results) {
        const key = o.properties[keyProperty];
        if (key) found.set(key, o.id);
      }
    }
    return found;
  }

  /**
   * After an upsert batch: resolve each written record's association target by its unique
   * property and write the default associations in one v4 batch call. Returns the outcomes that
   * change to ok:false (target missing, or the association refused).
   */
  async function associateChunk(e: HubSpotEntity, rule: AssociationRule, batch: WriteRequest[], written: Map<string, WriteOutcome>): Promise<Map<string, WriteOutcome>> {
    const keys = batch.filter((w) => written.get(w.externalKey)?.ok).map((w) => associationKey(rule, w.fields)).filter((k): k is string => k !== undefined);
    if (keys.length === 0) return new Map();
    const targets = await idsByUniqueProperty(rule.toObjectType, rule.toKeyProperty, keys);
    const plan = planAssociations(rule, batch, written, targets);
    if (plan.inputs.length === 0) return plan.failures;
    // The client declares only a 200 for this endpoint and throws on HubSpot's 207 partial
    // success, with the results dropped: a 207 is retried pair by pair to learn which ones failed.
    const associate = (inputs: AssociationPlan['inputs']) =>
      transport.callAssociations(`batch associate ${e.objectType} → ${rule.toObjectType}`, async (api) => {
        try {
          const res = await api.batchApi.createDefault(e.objectType, rule.toObjectType, {
            inputs: inputs.map((i) => ({ _from: { id: i.fromId }, to: { id: i.toId } })),
          });
          return { done: new Set(res.results.map((r) => `${r._from.id}→${r.to.id}`)), reasons: (res.errors ?? []).map((x) => x.message) };
        } catch (err) {
          if (isApiException(err) && err.code === 207) return { done: undefined, reasons: reasonsOf(err.body) };
          throw err;
        }
      });
    const fail = (i: AssociationPlan['inputs'][number], reasons: string[]): void => {
      plan.failures.set(i.externalKey, {
        externalKey: i.externalKey,
        ok: false,
        error: {
          type: 'ValidationError',
          field: rule.field,
          message: transport.redact(
            `HubSpot refused the ${e.objectType} → ${rule.toObjectType} association ${i.fromId} → ${i.toId}: ${reasons.join('; ') || 'no result returned'}`,
          ),
        },
      });
    };
    const all = await associate(plan.inputs);
    if (all.done) {
      for (const i of plan.inputs) if (!all.done.has(`${i.fromId}→${i.toId}`)) fail(i, all.reasons);
    } else {
      for (const i of plan.inputs) {
        try {
          const one = await associate([i]);
          if (!one.done?.has(`${i.fromId}→${i.toId}`)) fail(i, one.reasons);
        } catch (err) {
          if (err instanceof SyncError && (err.type === 'ValidationError' || err.type === 'NotFound')) fail(i, [err.message]);
          else throw err;
        }
      }
    }
    return plan.failures;
  }

  return {
    describe: () => ({
      system: 'hubspot',
      kind: 'crm',
      entities: Object.values(entities).map(describeEntity),
      maxBatchSize: HUBSPOT_MAX_BATCH,
      rateLimitPerSecond: (options.rateLimitPer10s ?? 190) / 10,
      requestTimeoutMs: transport.requestTimeoutMs,
    }),

    async fetchChanges(entity: string, request: FetchRequest): Promise<FetchResult> {
      const e = entityOf(entity);
      if (!Number.isInteger(request.limit) || request.limit < 1) {
        throw new SyncError('InvalidInput', `limit must be a positive integer, got ${request.limit}`, { field: 'limit' });
      }
      const page = await readIncremental((q) => searchWindow(e, q), { modifiedProperty: e.modifiedProperty, pageSize }, request.after, request.limit);
      const records = page.hits.map(toRecord);
      const last = records.reduce<Cursor | null>(nextCursor, null);
      return { records, nextCursor: last ?? request.after, hasMore: page.hasMore };
    },

    async read(entity: string, keys: string[]): Promise<SourceRecord[]> {
      const e = entityOf(entity);
      const out: SourceRecord[] = [];
      for (const part of chunks([...new Set(keys)], HUBSPOT_MAX_BATCH)) {
        const res = await transport.call('general', `batch read ${e.objectType}`, (api) =>
          api.batchApi.read(e.objectType, { inputs: part.map((id) => ({ id })), properties: readProps(e), propertiesWithHistory: [] }, false),
        );
        out.push(...res.results.map((o) => toRecord(toHit(o, e.modifiedProperty))));
      }
      return out;
    },

    async upsert(entity: string, batch: WriteRequest[]): Promise<WriteOutcome[]> {
      const e = entityOf(entity);
      writable(e);
      const outcomes = new Map<string, WriteOutcome>();
      for (const part of chunks(lastWritePerKey(batch), HUBSPOT_MAX_BATCH)) {
        const written = await upsertChunk(e, part);
        if (e.association) for (const [k, v] of await associateChunk(e, e.association, part, written)) written.set(k, v);
        for (const [k, v] of written) outcomes.set(k, v);
      }
      return batch.map(
        (w) =>
          outcomes.get(w.externalKey) ?? {
            externalKey: w.externalKey,
            ok: false,
            error: { type: 'Transient', message: 'HubSpot batch upsert returned neither a result nor an error for this record' },
          },
      );
    },

    async findByExternalKeys(entity: string, externalKeys: string[]): Promise<Map<string, string>> {
      const e = entityOf(entity);
      const { keyProperty } = writable(e);
      return idsByUniqueProperty(e.objectType, keyProperty, externalKeys);
    },

    async delete(entity: string, targetKeys: string[]): Promise<void> {
      const e = entityOf(entity);
      writable(e);
      for (const part of chunks([...new Set(targetKeys)], HUBSPOT_MAX_BATCH)) {
        await transport.call('general', `batch archive ${e.objectType}`, (api) => api.batchApi.archive(e.objectType, { inputs: part.map((id) => ({ id })) }));
      }
    },

    close: () => {
      transport.close();
      return Promise.resolve();
    },
  };
}
