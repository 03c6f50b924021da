import { nextCursor } from '../../contracts/cursor';
import type { Cursor } from '../../contracts/cursor';
import type {
  Connector, FetchRequest, FetchResult, NativeInsert, NativePatch, NativeWriter, RelatedReader, SourceRecord, WriteOutcome, WriteRequest,
} from '../../contracts/connector';
import { SyncError } from '../../contracts/errors';
import { ACCOUNT_ID_FIELD, describeEntity, SALESFORCE_ENTITIES } from './entities';
import type { SalesforceEntity } from './entities';
import { typeForStatusCode } from './errors';
import { minorToDecimal } from '../hubspot/entities';
import { inSoql, isoFromSalesforce, keysetSoql } from './soql';
import { SalesforceTransport } from './transport';
import type { SalesforceTransportOptions } from './transport';

/** sObject Collections take at most 200 records per call. */
export const SALESFORCE_COLLECTION_MAX = 200;
/** Records per query answer (nextRecordsUrl beyond). */
const QUERY_BATCH = 2000;

export interface SalesforceConnectorOptions extends SalesforceTransportOptions {
  entities?: Record<string, SalesforceEntity>;
  /** Upserts of more records than this go through one Bulk API 2.0 job. @default 2000 */
  bulkThreshold?: number;
  /** Most records one `upsert` call takes (describe's `maxBatchSize`; callers split above). @default 10000 */
  maxBatchSize?: number;
  /** Seconds that must have passed since a SystemModstamp second before it is read. @default 1 */
  settleSeconds?: number;
  /** Bulk 2.0 job polling. @default 500 / 600000 */
  bulkPollIntervalMs?: number;
  bulkPollTimeoutMs?: number;
  clock?: () => number;
}

interface QueryPage {
  totalSize: number;
  done: boolean;
  nextRecordsUrl?: string;
  records: Record<string, unknown>[];
}

interface SaveResult {
  id: string | null;
  success: boolean;
  created?: boolean;
  errors: { statusCode: string; message: string; fields?: string[] }[];
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Batches of at most `size` whose keys are distinct: a repeated key starts a new batch, so writes apply in order. */
function distinctChunks<T>(items: readonly T[], size: number, keyOf: (t: T) => string): { item: T; index: number }[][] {
  const out: { item: T; index: number }[][] = [];
  let cur: { item: T; index: number }[] = [];
  let keys = new Set<string>();
  items.forEach((item, index) => {
    const k = keyOf(item);
    if (cur.length >= size || keys.has(k)) {
      out.push(cur);
      cur = [];
      keys = new Set();
    }
    cur.push({ item, index });
    keys.add(k);
  });
  if (cur.length) out.push(cur);
  return out;
}

function toRecord(r: Record<string, unknown>): SourceRecord {
  const { attributes: _attributes, ...data } = r;
  void _attributes;
  return {
    key: String(r.Id),
    modifiedAt: isoFromSalesforce(String(r.SystemModstamp)),
    data,
    ...(r.IsDeleted === true ? { deleted: true } : {}),
  };
}

function failure(externalKey: string, errors: SaveResult['errors']): WriteOutcome {
  const first = errors[0] ?? { statusCode: 'UNKNOWN_EXCEPTION', message: 'refused without a reason' };
  const field = first.fields?.[0];
  return {
    externalKey,
    ok: false,
    error: { type: typeForStatusCode(first.statusCode), message: `${first.statusCode}: ${first.message}`, ...(field ? { field } : {}) },
  };
}

function outcomeOf(externalKey: string, r: SaveResult | undefined, action?: 'created' | 'updated'): WriteOutcome {
  if (!r) return { externalKey, ok: false, error: { type: 'Transient', message: 'Salesforce returned no result for this record' } };
  if (!r.success || !r.id) return failure(externalKey, r.errors);
  return { externalKey, ok: true, targetKey: r.id, action: action ?? (r.created ? 'created' : 'updated') };
}

/** `sf__Error` of a Bulk 2.0 failed row: `CODE:message:fields --`. */
export function parseBulkError(raw: string): SaveResult['errors'][number] {
  const m = /^([A-Z_]+):(.*?)(?::([A-Za-z0-9_,]*))? --$/s.exec(raw.trim());
  if (!m) return { statusCode: 'UNKNOWN_EXCEPTION', message: raw };
  return { statusCode: m[1]!, message: m[2]!, fields: m[3] ? m[3].split(',').filter((f) => f !== '') : [] };
}

export function createSalesforceConnector(options: SalesforceConnectorOptions): Connector & NativeWriter & RelatedReader {
  const transport = new SalesforceTransport(options);
  const entities = options.entities ?? SALESFORCE_ENTITIES;
  const version = options.version ?? '62.0';
  const bulkThreshold = options.bulkThreshold ?? 2000;
  const settleMs = Math.round((options.settleSeconds ?? 1) * 1000);
  const clock = options.clock ?? Date.now;
  const base = `/services/data/v${version}`;

  const entityOf = (name: string): SalesforceEntity => {
    const e = entities[name];
    if (!e) throw new SyncError('ConfigError', `Salesforce connector has no entity '${name}' (known: ${Object.keys(entities).join(', ')})`);
    return e;
  };
  const writable = (e: SalesforceEntity): { ext: string; toFields: (f: Record<string, unknown>) => Record<string, unknown> } => {
    if (!e.externalIdField || !e.toFields) throw new SyncError('ConfigError', `Salesforce entity '${e.name}' is read-only`);
    return { ext: e.externalIdField, toFields: e.toFields };
  };

  /** Runs a SOQL query (queryAll with `all`), following nextRecordsUrl until `max` records. */
  async function query(soql: string, all: boolean, max: number, what: string): Promise<Record<string, unknown>[]> {
    const out: Record<string, unknown>[] = [];
    let url: string | undefined = `${base}/${all ? 'queryAll' : 'query'}?q=${encodeURIComponent(soql)}`;
    while (url && out.length < max) {
      const target: string = url;
      const page: QueryPage = await transport.call(what, (c) => c.request<QueryPage>({ method: 'GET', url: target }));
      out.push(...page.records);
      url = page.done ? undefined : page.nextRecordsUrl;
    }
    return out.slice(0, max);
  }

  const http = <T>(operation: string, method: 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown): Promise<T> =>
    transport.call(operation, (c) =>
      c.request<T>({ method, url, ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } } : {}) }),
    );

  async function upsertCollections(e: SalesforceEntity, part: { item: WriteRequest; index: number }[]): Promise<SaveResult[]> {
    const { ext, toFields } = writable(e);
    const records = part.map(({ item }) => ({ attributes: { type: e.sobject }, ...toFields(item.fields), [ext]: item.externalKey }));
    return http<SaveResult[]>(`upsert ${e.sobject} (collection of ${records.length})`, 'PATCH', `${base}/composite/sobjects/${e.sobject}/${ext}`, { allOrNone: false, records });
  }

  /** One Bulk 2.0 upsert job; outcomes by external key from the successful and failed results. */
  async function upsertBulk(e: SalesforceEntity, batch: WriteRequest[]): Promise<Map<string, WriteOutcome>> {
    const { ext, toFields } = writable(e);
    const columns = new Set<string>([ext]);
    const rows = batch.map((w) => {
      const values = { ...toFields(w.fields), [ext]: w.externalKey };
      for (const k of Object.keys(values)) columns.add(k);
      return values;
    });
    // Every row names every column: jsforce writes null as #N/A (clears), a missing value as '' (leaves it).
    const input = rows.map((r) => Object.fromEntries([...columns].map((c) => [c, r[c] === undefined ? undefined : r[c]])));
    const res = await transport.call(
      `bulk upsert ${e.sobject} (${rows.length} rows)`,
      (c) => c.bulk2.loadAndWaitForResults({ object: e.sobject, operation: 'upsert', externalIdFieldName: ext, input, pollInterval: options.bulkPollIntervalMs ?? 500, pollTimeout: options.bulkPollTimeoutMs ?? 600_000 }),
      (options.bulkPollTimeoutMs ?? 600_000) + 60_000,
    );
    const out = new Map<string, WriteOutcome>();
    for (const r of res.successfulResults as unknown as Record<string, string>[]) {
      const key = r[ext];
      if (key !== undefined) out.set(key, { externalKey: key, ok: true, targetKey: r.sf__Id!, action: r.sf__Created === 'true' ? 'created' : 'updated' });
    }
    for (const r of res.failedResults as unknown as Record<string, string>[]) {
      const key = r[ext];
      if (key !== undefined) out.set(key, failure(key, [parseBulkError(r.sf__Error ?? '')]));
    }
    return out;
  }

  let standardPricebook: Promise<string> | undefined;
  const standardPricebookId = (): Promise<string> => {
    standardPricebook ??= query('SELECT Id FROM Pricebook2 WHERE IsStandard = true LIMIT 1', false, 1, 'find the standard price book').then((rows) => {
      const id = rows[0]?.Id;
      if (typeof id !== 'string') throw new SyncError('ConfigError', 'Salesforce org has no standard price book (Pricebook2 with IsStandard = true)');
      return id;
    });
    standardPricebook.catch(() => (standardPricebook = undefined));
    return standardPricebook;
  };

  /**
   * Keeps one standard PricebookEntry per written record (ERP_Id__c = the record's key,
   * UnitPrice = its Money field): created with Pricebook2Id/Product2Id (create-only fields),
   * else updated. A refused entry turns the record's outcome into that refusal, to be retried.
   */
  async function syncStandardPrices(e: SalesforceEntity, batch: WriteRequest[], outcomes: WriteOutcome[]): Promise<void> {
    const field = e.standardPriceField!;
    const todo = batch
      .map((w, i) => ({ w, i, o: outcomes[i]!, price: w.fields[field] as { amountMinor: number } | undefined }))
      .filter((x) => x.o.ok && x.price !== undefined && x.price !== null);
    if (todo.length === 0) return;
    const pricebookId = await standardPricebookId();
    const existing = new Map<string, string>();
    for (const part of chunks([...new Set(todo.map((x) => x.w.externalKey))], 200)) {
      for (const r of await query(inSoql('PricebookEntry', ['ERP_Id__c'], 'ERP_Id__c', part), false, part.length, 'find PricebookEntry by ERP_Id__c')) existing.set(String(r.ERP_Id__c), String(r.Id));
    }
    const unitPrice = (x: (typeof todo)[number]): number => Number(minorToDecimal(x.price!.amountMinor));
    const apply = (x: (typeof todo)[number], r: SaveResult | undefined): void => {
      if (r?.success) return;
      const f = outcomeOf(x.w.externalKey, r);
      if (!f.ok) outcomes[x.i] = { ...f, error: { ...f.error, message: `standard PricebookEntry: ${f.error.message}`, field } };
    };
    const creates = todo.filter((x) => !existing.has(x.w.externalKey));
    for (const part of distinctChunks(creates, SALESFORCE_COLLECTION_MAX, (x) => x.w.externalKey)) {
      const records = part.map(({ item: x }) => ({
        attributes: { type: 'PricebookEntry' }, Pricebook2Id: pricebookId, Product2Id: (x.o as { targetKey: string }).targetKey,
        UnitPrice: unitPrice(x), IsActive: true, ERP_Id__c: x.w.externalKey,
      }));
      const res = await http<SaveResult[]>(`create PricebookEntry (collection of ${records.length})`, 'POST', `${base}/composite/sobjects`, { allOrNone: false, records });
      part.forEach(({ item }, k) => apply(item, res[k]));
    }
    const updates = todo.filter((x) => existing.has(x.w.externalKey));
    for (const part of distinctChunks(updates, SALESFORCE_COLLECTION_MAX, (x) => x.w.externalKey)) {
      const records = part.map(({ item: x }) => ({ attributes: { type: 'PricebookEntry' }, Id: existing.get(x.w.externalKey), UnitPrice: unitPrice(x), IsActive: true }));
      const res = await http<SaveResult[]>(`update PricebookEntry (collection of ${records.length})`, 'PATCH', `${base}/composite/sobjects`, { allOrNone: false, records });
      part.forEach(({ item }, k) => apply(item, res[k]));
    }
  }

  /**
   * Upsert by the external-id field: through Collections (200 per call, allOrNone false) or,
   * above `bulkThreshold` records, one Bulk 2.0 job. One outcome per request, in order; a key
   * repeated in one call goes in a later call so both writes apply in order.
   */
  async function upsertEntity(e: SalesforceEntity, requested: WriteRequest[]): Promise<WriteOutcome[]> {
    const own = e.ownIdPrefix ? new RegExp(`^[A-Za-z][A-Za-z0-9]*[-:_.](${e.ownIdPrefix}[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?)$`) : null;
    const ownIds = requested.map((w) => (own ? (own.exec(w.externalKey)?.[1] ?? null) : null));
    if (ownIds.some((id) => id !== null)) {
      // Salesforce's own records coming back: updated by Id (external id left as it is), the rest upserted.
      const result = new Array<WriteOutcome>(requested.length);
      const mine = requested.map((w, i) => ({ w, i, id: ownIds[i] })).filter((x): x is { w: WriteRequest; i: number; id: string } => x.id !== null);
      const patched = await patchById(e, mine.map((x) => ({ key: x.id, values: writable(e).toFields(x.w.fields) })));
      mine.forEach((x, k) => (result[x.i] = { ...patched[k]!, externalKey: x.w.externalKey }));
      const rest = requested.map((w, i) => ({ w, i })).filter((x) => ownIds[x.i] === null);
      const written = rest.length ? await upsertEntity({ ...e, ownIdPrefix: undefined }, rest.map((x) => x.w)) : [];
      rest.forEach((x, k) => (result[x.i] = written[k]!));
      return result;
    }
    const batch = requested;
    const outcomes: WriteOutcome[] = new Array<WriteOutcome>(batch.length);
    const distinct = new Set(batch.map((w) => w.externalKey)).size === batch.length;
    if (batch.length > bulkThreshold && distinct) {
      const res = await upsertBulk(e, batch);
      batch.forEach((w, i) => (outcomes[i] = res.get(w.externalKey) ?? outcomeOf(w.externalKey, undefined)));
    } else {
      for (const part of distinctChunks(batch, SALESFORCE_COLLECTION_MAX, (w) => w.externalKey)) {
        const results = await upsertCollections(e, part);
        part.forEach(({ item, index }, i) => (outcomes[index] = outcomeOf(item.externalKey, results[i])));
      }
    }
    if (e.standardPriceField) await syncStandardPrices(e, batch, outcomes);
    return outcomes;
  }

  /** Updates only the given fields by Id through Collections; a deleted or unknown Id is `NotFound`. */
  async function patchById(e: SalesforceEntity, patches: NativePatch[]): Promise<WriteOutcome[]> {
    const outcomes: WriteOutcome[] = new Array<WriteOutcome>(patches.length);
    for (const part of distinctChunks(patches, SALESFORCE_COLLECTION_MAX, (p) => p.key)) {
      const records = part.map(({ item }) => ({ attributes: { type: e.sobject }, ...item.values, Id: item.key }));
      const res = await http<SaveResult[]>(`update ${e.sobject} (collection of ${records.length})`, 'PATCH', `${base}/composite/sobjects`, { allOrNone: false, records });
      part.forEach(({ item, index }, i) => {
        const r = res[i];
        const code = r?.errors[0]?.statusCode;
        outcomes[index] =
          r && !r.success && (code === 'MALFORMED_ID' || code === 'NOT_FOUND' || code === 'ENTITY_IS_DELETED')
            ? { externalKey: item.key, ok: false, error: { type: 'NotFound', message: `${code}: Salesforce ${e.sobject} ${item.key} does not exist` } }
            : outcomeOf(item.key, r ? { ...r, id: r.id ?? item.key } : undefined, 'updated');
      });
    }
    return outcomes;
  }

  /** Reads: each record gets its Account's ERP_Id__c as `readAs` (null when none). */
  async function withAccountKeys(e: SalesforceEntity, records: SourceRecord[]): Promise<SourceRecord[]> {
    const link = e.accountLink;
    if (!link || records.length === 0) return records;
    const ids = [...new Set(records.map((r) => r.data.AccountId).filter((v): v is string => typeof v === 'string' && v !== ''))];
    const keys = new Map<string, unknown>();
    for (const part of chunks(ids, 200)) {
      for (const a of await query(inSoql('Account', ['ERP_Id__c'], 'Id', part), true, part.length, 'read the ERP keys of Accounts')) keys.set(String(a.Id), a.ERP_Id__c ?? null);
    }
    return records.map((r) => ({ ...r, data: { ...r.data, [link.readAs]: typeof r.data.AccountId === 'string' ? (keys.get(r.data.AccountId) ?? null) : null } }));
  }

  /** Writes: the Account Id of each customer key (ERP_Id__c, else `<prefix><Account Id>`); unknown keys are absent. */
  async function accountIdsOf(customerKeys: string[]): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    const distinct = [...new Set(customerKeys)];
    for (const part of chunks(distinct, 200)) {
      for (const r of await query(inSoql('Account', ['ERP_Id__c'], 'ERP_Id__c', part), false, part.length, 'find Account by ERP_Id__c')) found.set(String(r.ERP_Id__c), String(r.Id));
    }
    const byId = new Map<string, string>();
    for (const k of distinct) {
      const m = found.has(k) ? null : /^[A-Za-z][A-Za-z0-9]*[-:_.](001[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?)$/.exec(k);
      if (m) byId.set(m[1]!, k);
    }
    for (const part of chunks([...byId.keys()], 200)) {
      for (const r of await query(inSoql('Account', [], 'Id', part), false, part.length, 'find Account by Id')) found.set(byId.get(String(r.Id))!, String(r.Id));
    }
    return found;
  }

  return {
    describe: () => ({
      system: 'salesforce',
      kind: 'crm',
      entities: Object.values(entities).map(describeEntity),
      maxBatchSize: options.maxBatchSize ?? 10_000,
      requestTimeoutMs: transport.requestTimeoutMs,
    }),

    /**
     * Keyset page on (SystemModstamp, Id) after the cursor, of seconds that are over (see
     * `settleSeconds`); with `includeDeleted`, through queryAll so deletes come back flagged.
     */
    async fetchChanges(entity: string, request: FetchRequest): Promise<FetchResult> {
      const e = entityOf(entity);
      if (!Number.isInteger(request.limit) || request.limit < 1) throw new SyncError('InvalidInput', `limit must be a positive integer, got ${request.limit}`, { field: 'limit' });
      // One row more than asked tells whether more follow, unless that row would cost a second
      // request (a page of 2,000, Salesforce's query batch): then a full page means "maybe more".
      const probe = request.limit % QUERY_BATCH === 0 ? request.limit : request.limit + 1;
      const soql = keysetSoql({ sobject: e.sobject, fields: e.readFields, after: request.after, settledBefore: clock() - settleMs, limit: probe, ...(e.where ? { where: e.where } : {}) });
      const rows = await query(soql, request.includeDeleted === true, probe, `query ${e.sobject} changes`);
      const records = await withAccountKeys(e, rows.slice(0, request.limit).map(toRecord));
      const last = records.reduce<Cursor | null>((c, r) => nextCursor(c, { modifiedAt: r.modifiedAt, key: r.key }), null);
      return { records, nextCursor: last ?? request.after, hasMore: probe === request.limit ? rows.length === request.limit : rows.length > request.limit };
    },

    async countChanges(entity: string, after: Cursor | null): Promise<number> {
      const e = entityOf(entity);
      const soql = keysetSoql({ sobject: e.sobject, fields: [], after, settledBefore: clock() - settleMs, limit: 50_000, ...(e.where ? { where: e.where } : {}) }).replace(/^SELECT .*? FROM/, 'SELECT Id FROM');
      const page = await transport.call(`count ${e.sobject} changes`, (c) => c.request<QueryPage>({ method: 'GET', url: `${base}/query?q=${encodeURIComponent(soql)}` }));
      return page.totalSize;
    },

    /** Records by Id, deleted ones (still in the Recycle Bin) flagged `deleted`; other keys are absent. */
    async read(entity: string, keys: string[]): Promise<SourceRecord[]> {
      const e = entityOf(entity);
      const ids = [...new Set(keys)].filter((k) => /^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$/.test(k));
      const out: SourceRecord[] = [];
      for (const part of chunks(ids, 200)) out.push(...(await query(inSoql(e.sobject, e.readFields, 'Id', part), true, part.length, `read ${e.sobject}`)).map(toRecord));
      return withAccountKeys(e, out);
    },

    /** Live records whose `field` is one of `values` (e.g. OpportunityLineItem by OpportunityId), ordered by Id. */
    async readRelated(entity: string, field: string, values: string[]): Promise<SourceRecord[]> {
      const e = entityOf(entity);
      if (!e.readFields.includes(field)) throw new SyncError('ConfigError', `Salesforce entity '${entity}' does not read the field '${field}' (it reads: ${e.readFields.join(', ')})`);
      const out: SourceRecord[] = [];
      for (const part of chunks([...new Set(values)], 200)) {
        out.push(...(await query(`${inSoql(e.sobject, e.readFields, field, part)} ORDER BY Id`, false, 50_000, `read ${e.sobject} by ${field}`)).map(toRecord));
      }
      return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    },

    /** Upsert by the external-id field (upsertEntity); an entity with an `accountLink` resolves its Accounts first. */
    async upsert(entity: string, batch: WriteRequest[]): Promise<WriteOutcome[]> {
      const e = entityOf(entity);
      writable(e);
      const link = e.accountLink;
      if (!link) return upsertEntity(e, batch);
      // Resolve each record's Account first; those without one are refused, the rest written.
      const keyOf = (w: WriteRequest): string | null => (typeof w.fields[link.field] === 'string' && w.fields[link.field] !== '' ? (w.fields[link.field] as string) : null);
      const accounts = await accountIdsOf(batch.map(keyOf).filter((k): k is string => k !== null));
      const result = new Array<WriteOutcome>(batch.length);
      const todo: { w: WriteRequest; i: number }[] = [];
      batch.forEach((w, i) => {
        const key = keyOf(w);
        const accountId = key === null ? undefined : accounts.get(key);
        if (key !== null && !accountId) {
          result[i] = { externalKey: w.externalKey, ok: false, error: { type: 'NotFound', message: `no Salesforce Account with ERP_Id__c '${key}' (sync the customer to Salesforce first, e.g. pipeline erp-customers-to-salesforce)`, field: link.field } };
        } else todo.push({ w: accountId ? { ...w, fields: { ...w.fields, [ACCOUNT_ID_FIELD]: accountId } } : w, i });
      });
      const written = todo.length ? await upsertEntity(e, todo.map((t) => t.w)) : [];
      todo.forEach((t, k) => (result[t.i] = written[k]!));
      return result;
    },

    async findByExternalKeys(entity: string, externalKeys: string[]): Promise<Map<string, string>> {
      const e = entityOf(entity);
      const { ext } = writable(e);
      const found = new Map<string, string>();
      for (const part of chunks([...new Set(externalKeys)], 200)) {
        for (const r of await query(inSoql(e.sobject, [ext], ext, part), false, part.length, `find ${e.sobject} by ${ext}`)) found.set(String(r[ext]), String(r.Id));
      }
      return found;
    },

    /** Deletes by Id (to the Recycle Bin); ids already deleted or unknown are skipped. */
    async delete(entity: string, targetKeys: string[]): Promise<void> {
      const e = entityOf(entity);
      writable(e);
      for (const part of chunks([...new Set(targetKeys)], SALESFORCE_COLLECTION_MAX)) {
        const res = await http<SaveResult[]>(`delete ${e.sobject}`, 'DELETE', `${base}/composite/sobjects?ids=${part.join(',')}&allOrNone=false`);
        const bad = res.find((r) => !r.success && !['ENTITY_IS_DELETED', 'INVALID_CROSS_REFERENCE_KEY'].includes(r.errors[0]?.statusCode ?? ''));
        if (bad) throw new SyncError(typeForStatusCode(bad.errors[0]!.statusCode), `Salesforce delete ${e.sobject}: ${bad.errors[0]!.statusCode}: ${bad.errors[0]!.message}`);
      }
    },

    /** Creates native records through Collections (200 per call); `targetKey` is the new Id. */
    async insertNative(entity: string, rows: NativeInsert[]): Promise<WriteOutcome[]> {
      const e = entityOf(entity);
      const outcomes: WriteOutcome[] = new Array<WriteOutcome>(rows.length);
      for (const part of chunks(rows.map((item, index) => ({ item, index })), SALESFORCE_COLLECTION_MAX)) {
        const records = part.map(({ item }) => ({ attributes: { type: e.sobject }, ...item.values }));
        const res = await http<SaveResult[]>(`create ${e.sobject} (collection of ${records.length})`, 'POST', `${base}/composite/sobjects`, { allOrNone: false, records });
        part.forEach(({ item, index }, i) => (outcomes[index] = outcomeOf(item.ref, res[i], 'created')));
      }
      return outcomes;
    },

    /** Updates only the given fields by Id through Collections; a deleted or unknown Id is `NotFound`. */
    patchNative: (entity: string, patches: NativePatch[]): Promise<WriteOutcome[]> => patchById(entityOf(entity), patches),

    close: () => Promise.resolve(),
  };
}
