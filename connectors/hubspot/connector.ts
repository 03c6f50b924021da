import type {
  FilterOperatorEnum,
  SimplePublicObject,
  StandardError,
} from '@hubspot/api-client/lib/codegen/crm/objects';
import { compareCursors, nextCursor } from '../../contracts/cursor';
import type { Cursor } from '../../contracts/cursor';
import { SyncError } from '../../contracts/errors';
import type { Connector, FetchRequest, FetchResult, NativeInsert, NativePatch, NativeWriter, SourceRecord, WriteOutcome, WriteRequest, WriteView } from '../types';
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

function toRecord(h: SearchHit, deleted = false): SourceRecord {
  // A plain copy of the client model's properties.
  return { key: h.id, modifiedAt: new Date(h.modifiedMs).toISOString(), data: { ...h.properties }, ...(deleted ? { deleted: true } : {}) };
}

/** An archived record as a hit: it changed when it was archived. */
function archivedHit(o: SimplePublicObject, modifiedProperty: string): SearchHit {
  const hit = toHit(o, modifiedProperty);
  const at = o.archivedAt ? new Date(o.archivedAt).getTime() : NaN;
  return Number.isNaN(at) ? hit : { ...hit, modifiedMs: Math.max(at, hit.modifiedMs) };
}

const hitCursor = (h: SearchHit): Cursor => ({ modifiedAt: new Date(h.modifiedMs).toISOString(), key: h.id });

/** A native value as a HubSpot property value: text; null clears ('') on update and is left out on create. */
function propertyText(name: string, v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  throw new SyncError('ConfigError', `HubSpot property "${name}" needs a text, number or boolean value, got ${JSON.stringify(v)} (mapping write section)`, { field: name });
}
function toPropertyValues(values: Record<string, unknown>, mode: 'create' | 'update'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, v] of Object.entries(values)) {
    if (v === null || v === undefined) {
      if (mode === 'update') out[name] = '';
    } else out[name] = propertyText(name, v);
  }
  return out;
}

/**
 * Requests in batches of at most `size` whose `idOf` values are distinct (HubSpot refuses a batch
 * naming one record twice): a repeated id starts a new batch, so requests apply in order.
 */
function distinctChunks<T>(items: readonly T[], size: number, idOf: (t: T) => string): { item: T; index: number }[][] {
  const out: { item: T; index: number }[][] = [];
  let cur: { item: T; index: number }[] = [];
  let ids = new Set<string>();
  items.forEach((item, index) => {
    const id = idOf(item);
    if (cur.length >= size || ids.has(id)) {
      out.push(cur);
      cur = [];
      ids = new Set();
    }
    cur.push({ item, index });
    ids.add(id);
  });
  if (cur.length) out.push(cur);
  return out;
}

export function createHubSpotConnector(options: HubSpotConnectorOptions): Connector & NativeWriter & WriteView {
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

  /** Records by HubSpot id from one batch read (live or archived); missing ids are absent. */
  async function readBatch(e: HubSpotEntity, ids: string[], archived: boolean): Promise<SimplePublicObject[]> {
    const out: SimplePublicObject[] = [];
    for (const part of chunks(ids, HUBSPOT_MAX_BATCH)) {
      const res = await transport.call('general', `batch read ${archived ? 'archived ' : ''}${e.objectType}`, (api) =>
        api.batchApi.read(e.objectType, { inputs: part.map((id) => ({ id })), properties: readProps(e), propertiesWithHistory: [] }, archived),
      );
      out.push(...res.results);
    }
    return out;
  }

  /**
   * Records archived after `after` (HubSpot search never returns archived records). HubSpot lists
   * archived records by id only, so every call walks the whole archive: fine for the archives of
   * a CRM (records are archived by hand), to be replaced by a webhook feed for large ones.
   */
  async function archivedSince(e: HubSpotEntity, after: Cursor | null): Promise<SearchHit[]> {
    const out: SearchHit[] = [];
    let cursor: string | undefined;
    do {
      const page = await transport.call('general', `list archived ${e.objectType}`, (api) =>
        api.basicApi.getPage(e.objectType, HUBSPOT_MAX_BATCH, cursor, readProps(e), undefined, undefined, true),
      );
      for (const o of page.results) {
        const hit = archivedHit(o, e.modifiedProperty);
        if (after === null || compareCursors(hitCursor(hit), { modifiedAt: new Date(Date.parse(after.modifiedAt)).toISOString(), key: after.key }) > 0) out.push(hit);
      }
      cursor = page.paging?.next?.after;
    } while (cursor);
    return out;
  }

  type NativeInput = { key: string; properties: Record<string, string> };
  type NativeCall = (inputs: NativeInput[]) => Promise<{ results: SimplePublicObject[]; errors: StandardError[] }>;

  /**
   * One batch create or update, by request: each input's outcome from HubSpot's results or its
   * per-record (207) errors, matched by `objectWriteTraceId` (the request's key). A batch refused
   * as a whole for a record's sake (HubSpot validates some batches atomically) is split in halves
   * until the refused records are alone, so one bad record never fails the others.
   */
  async function writeNative(inputs: NativeInput[], call: NativeCall, action: 'created' | 'updated'): Promise<Map<string, WriteOutcome>> {
    const outcomes = new Map<string, WriteOutcome>();
    let res: Awaited<ReturnType<NativeCall>>;
    try {
      res = await call(inputs);
    } catch (err) {
      const perRecord = err instanceof SyncError && (err.type === 'ValidationError' || err.type === 'Conflict' || err.type === 'NotFound');
      if (!perRecord) throw err;
      if (inputs.length === 1) {
        const only = inputs[0]!;
        outcomes.set(only.key, { externalKey: only.key, ok: false, error: { type: err.type, message: err.message, ...(err.field ? { field: err.field } : {}) } });
        return outcomes;
      }
      const half = Math.ceil(inputs.length / 2);
      for (const part of [inputs.slice(0, half), inputs.slice(half)]) for (const [k, v] of await writeNative(part, call, action)) outcomes.set(k, v);
      return outcomes;
    }
    const byId = action === 'updated';
    for (const r of res.results) {
      const key = r.objectWriteTraceId ?? (byId ? r.id : undefined);
      if (key !== undefined) outcomes.set(key, { externalKey: key, ok: true, targetKey: r.id, action });
    }
    // Without trace ids (some HubSpot answers drop them), a complete answer is in request order.
    if (!byId && outcomes.size === 0 && res.errors.length === 0 && res.results.length === inputs.length) {
      inputs.forEach((input, i) => outcomes.set(input.key, { externalKey: input.key, ok: true, targetKey: res.results[i]!.id, action }));
    }
    for (const err of res.errors) {
      const field = fieldOf(err);
      for (const key of err.context?.objectWriteTraceId ?? err.context?.ids ?? err.context?.id ?? []) {
        outcomes.set(key, { externalKey: key, ok: false, error: { type: typeForCategory(err.category), message: transport.redact(err.message), ...(field ? { field } : {}) } });
      }
    }
    return outcomes;
  }

  const batchErrors = (res: object): StandardError[] => ('errors' in res && Array.isArray(res.errors) ? (res.errors as StandardError[]) : []);
  const missingOutcome = (key: string, what: string): WriteOutcome => ({
    externalKey: key,
    ok: false,
    error: { type: 'Transient', message: `HubSpot batch ${what} returned neither a result nor an error for this record` },
  });

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
      let records = page.hits.map((h) => toRecord(h));
      let hasMore = page.hasMore;
      if (request.includeDeleted) {
        // Merge the records archived after the cursor into the same order. While live records
        // remain, only archives up to the last live record belong to this page; the next page
        // starts after it and finds the rest.
        const lastLive = page.hits.at(-1);
        const archived = (await archivedSince(e, request.after)).filter((h) => !page.hasMore || (lastLive !== undefined && compareCursors(hitCursor(h), hitCursor(lastLive)) <= 0));
        const merged = [...page.hits.map((h) => ({ h, deleted: false })), ...archived.map((h) => ({ h, deleted: true }))].sort((x, y) =>
          compareCursors(hitCursor(x.h), hitCursor(y.h)),
        );
        records = merged.slice(0, request.limit).map((x) => toRecord(x.h, x.deleted));
        hasMore = page.hasMore || merged.length > request.limit;
      }
      const last = records.reduce<Cursor | null>(nextCursor, null);
      return { records, nextCursor: last ?? request.after, hasMore };
    },

    /**
     * Records by HubSpot id. An id not found live is looked up among archived records, returned
     * with `deleted: true` (a two-way pair reads an archive as a soft delete, not as a hard one).
     * Ids that are not HubSpot record ids (not numeric) are simply absent.
     */
    async read(entity: string, keys: string[]): Promise<SourceRecord[]> {
      const e = entityOf(entity);
      const ids = [...new Set(keys)].filter((k) => /^\d+$/.test(k));
      const live = await readBatch(e, ids, false);
      const found = new Set(live.map((o) => o.id));
      const missing = ids.filter((id) => !found.has(id));
      const archived = missing.length ? await readBatch(e, missing, true) : [];
      return [...live.map((o) => toRecord(toHit(o, e.modifiedProperty))), ...archived.map((o) => toRecord(archivedHit(o, e.modifiedProperty), true))];
    },

    /** Batch create (≤ 100 per call); each outcome's `targetKey` is the new record's id, in request order. */
    async insertNative(entity: string, rows: NativeInsert[]): Promise<WriteOutcome[]> {
      const e = entityOf(entity);
      writable(e);
      const outcomes: WriteOutcome[] = new Array<WriteOutcome>(rows.length);
      for (const part of distinctChunks(rows, HUBSPOT_MAX_BATCH, (r) => r.ref)) {
        const inputs = part.map(({ item }) => ({ key: item.ref, properties: toPropertyValues(item.values, 'create') }));
        const written = await writeNative(
          inputs,
          async (batch) => {
            const res = await transport.call('general', `batch create ${e.objectType}`, (api) =>
              api.batchApi.create(e.objectType, { inputs: batch.map((i) => ({ properties: i.properties, associations: [], objectWriteTraceId: i.key })) }),
            );
            return { results: res.results, errors: batchErrors(res) };
          },
          'created',
        );
        for (const { item, index } of part) outcomes[index] = written.get(item.ref) ?? missingOutcome(item.ref, 'create');
      }
      return outcomes;
    },

    /** Batch update by record id (≤ 100 per call) of only the given properties; null clears one. */
    async patchNative(entity: string, patches: NativePatch[]): Promise<WriteOutcome[]> {
      const e = entityOf(entity);
      writable(e);
      const outcomes: WriteOutcome[] = new Array<WriteOutcome>(patches.length);
      for (const part of distinctChunks(patches, HUBSPOT_MAX_BATCH, (p) => p.key)) {
        const bad = part.filter(({ item }) => !/^\d+$/.test(item.key));
        for (const { item, index } of bad) {
          outcomes[index] = { externalKey: item.key, ok: false, error: { type: 'NotFound', message: `"${item.key}" is not a HubSpot ${e.objectType} record id` } };
        }
        const sendable = part.filter(({ item }) => /^\d+$/.test(item.key));
        if (sendable.length === 0) continue;
        const inputs = sendable.map(({ item }) => ({ key: item.key, properties: toPropertyValues(item.values, 'update') }));
        const written = await writeNative(
          inputs,
          async (batch) => {
            const res = await transport.call('general', `batch update ${e.objectType}`, (api) =>
              api.batchApi.update(e.objectType, { inputs: batch.map((i) => ({ id: i.key, properties: i.properties, objectWriteTraceId: i.key })) }),
            );
            return { results: res.results, errors: batchErrors(res) };
          },
          'updated',
        );
        for (const { item, index } of sendable) outcomes[index] = written.get(item.key) ?? missingOutcome(item.key, 'update');
      }
      return outcomes;
    },

    /** The properties `upsert` writes for these canonical fields (its key property included). */
    nativeValuesOf(entity: string, fields: Record<string, unknown>): Record<string, unknown> {
      return writable(entityOf(entity)).toProperties(fields);
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
