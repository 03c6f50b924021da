import { badJson, notFound, RecordProblem, sfError } from './errors';
import type { RecordError } from './errors';
import type { SfRequest, SfResponse } from './http-types';
import { normalizeId } from './ids';
import { renderRecord } from './query';
import { describe, fieldOf, sobjectOf, SOBJECTS } from './schema';
import type { SObjectDef } from './schema';
import type { SalesforceStore } from './store';

/** sObject rows, upsert by external id and sObject Collections (reference §2). */

export const MAX_COLLECTION = 200;

export function jsonBody(req: SfRequest): unknown {
  if (req.raw === '') return undefined;
  try {
    return JSON.parse(req.raw) as unknown;
  } catch (err) {
    throw badJson(`Unexpected character: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function objectBody(req: SfRequest): Record<string, unknown> {
  const b = jsonBody(req);
  if (typeof b !== 'object' || b === null || Array.isArray(b)) throw badJson('Cannot deserialize instance of the sObject from a non-object body');
  return b as Record<string, unknown>;
}

export function sobject(name: string | undefined): SObjectDef {
  const o = name === undefined ? undefined : sobjectOf(name);
  if (!o) throw notFound(`The requested resource does not exist`);
  return o;
}

const asHttp = (p: RecordProblem): Error =>
  p.statusCode === 'NOT_FOUND' ? notFound() : sfError(400, p.statusCode, p.message, p.fields);

function wrap<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof RecordProblem) throw asHttp(err);
    throw err;
  }
}

function readRow(store: SalesforceStore, o: SObjectDef, id: string, req: SfRequest): SfResponse {
  const rec = store.get(id);
  if (!rec || rec.isDeleted || rec.sobject !== o.name) throw notFound();
  const names = req.query.get('fields')?.split(',').map((n) => n.trim()).filter((n) => n !== '');
  const fields = names ? names.map((n) => fieldOf(o, n) ?? wrap(() => { throw new RecordProblem('INVALID_FIELD', `No such column '${n}' on sobject of type ${o.name}`, [n]); })) : o.fields;
  return { status: 200, body: renderRecord(rec, fields, req.version) };
}

export function handleSObjects(store: SalesforceStore, req: SfRequest): SfResponse {
  const s = req.segments; // ['sobjects', S?, id|field?, value?]
  if (s.length === 1) {
    return { status: 200, body: { encoding: 'UTF-8', maxBatchSize: MAX_COLLECTION, sobjects: Object.values(SOBJECTS).map((o) => ({ name: o.name, label: o.label, keyPrefix: o.keyPrefix, custom: false, queryable: true })) } };
  }
  const o = sobject(s[1]);
  if (s.length === 2) {
    if (req.method === 'GET') return { status: 200, body: { objectDescribe: describe(o, req.version), recentItems: [] } };
    if (req.method === 'POST') {
      const id = wrap(() => store.insert(o, objectBody(req)));
      return { status: 201, body: { id, success: true, errors: [] } };
    }
  }
  if (s.length === 3 && s[2] === 'describe' && req.method === 'GET') return { status: 200, body: describe(o, req.version) };
  if (s.length === 3) {
    const id = normalizeId(s[2] ?? '');
    if (!id) throw notFound(`Provided external ID field does not exist or is not accessible: ${s[2]}`);
    if (req.method === 'GET') return readRow(store, o, id, req);
    if (req.method === 'PATCH') {
      wrap(() => store.update(o, id, objectBody(req)));
      return { status: 204 };
    }
    if (req.method === 'DELETE') {
      wrap(() => store.delete(o, id));
      return { status: 204 };
    }
  }
  if (s.length === 4) {
    const field = s[2] ?? '';
    const value = decodeURIComponent(s[3] ?? '');
    if (req.method === 'GET') {
      const ids = wrap(() => store.findByExternalId(o, field, value));
      if (ids.length === 0) throw notFound();
      if (ids.length > 1) return { status: 300, body: ids.map((id) => `/services/data/v${req.version}/sobjects/${o.name}/${id}`) };
      return readRow(store, o, ids[0]!, req);
    }
    if (req.method === 'PATCH') {
      try {
        const r = store.upsert(o, field, value, objectBody(req));
        return { status: r.created ? 201 : 200, body: { id: r.id, success: true, errors: [], created: r.created } };
      } catch (err) {
        if (err instanceof RecordProblem && err.matches) {
          return { status: 300, body: err.matches.map((id) => `/services/data/v${req.version}/sobjects/${o.name}/${id}`) };
        }
        if (err instanceof RecordProblem) throw asHttp(err);
        throw err;
      }
    }
  }
  throw sfError(405, 'METHOD_NOT_ALLOWED', `HTTP Method '${req.method}' not allowed. Allowed are GET,PATCH,DELETE`);
}

interface CollectionResult {
  id: string | null;
  success: boolean;
  errors: RecordError[];
  created?: boolean;
}

const rolledBack: RecordError = {
  statusCode: 'ALL_OR_NONE_OPERATION_ROLLED_BACK',
  message: 'Record rolled back because not all records were valid and the request was using AllOrNone header',
  fields: [],
};

class RollBack extends Error {}

/**
 * Runs one operation per record in order. With allOrNone, the first refusal rolls every write
 * back: the refused records keep their errors, the others are reported rolled back.
 */
function runCollection<T>(store: SalesforceStore, items: T[], allOrNone: boolean, op: (item: T, index: number) => CollectionResult): CollectionResult[] {
  const apply = (): CollectionResult[] =>
    items.map((item, i) => {
      try {
        return op(item, i);
      } catch (err) {
        if (err instanceof RecordProblem) return { id: null, success: false, errors: [err.toRecordError()] };
        throw err;
      }
    });
  if (!allOrNone) return store.transaction(apply);
  let results: CollectionResult[] = [];
  try {
    store.transaction(() => {
      results = apply();
      if (results.some((r) => !r.success)) throw new RollBack();
    });
  } catch (err) {
    if (!(err instanceof RollBack)) throw err;
    return results.map((r) => (r.success ? { id: null, success: false, errors: [rolledBack] } : r));
  }
  return results;
}

function collectionBody(req: SfRequest): { allOrNone: boolean; records: Record<string, unknown>[] } {
  const b = objectBody(req);
  if (!Array.isArray(b.records)) throw badJson('records: required');
  if (b.records.length > MAX_COLLECTION) {
    throw sfError(400, 'EXCEEDED_ID_LIMIT', `record limit reached. cannot submit more than ${MAX_COLLECTION} records into this call`);
  }
  return { allOrNone: b.allOrNone === true, records: b.records as Record<string, unknown>[] };
}

function typeOf(rec: Record<string, unknown>, fallback?: SObjectDef): SObjectDef {
  const t = (rec.attributes as { type?: unknown } | undefined)?.type;
  if (typeof t !== 'string') {
    if (fallback) return fallback;
    throw new RecordProblem('INVALID_TYPE', 'Must specify a type in attributes of the record', []);
  }
  const o = sobjectOf(t);
  if (!o) throw new RecordProblem('INVALID_TYPE', `sObject type '${t}' is not supported.`, []);
  return o;
}

export function handleCollections(store: SalesforceStore, req: SfRequest): SfResponse {
  const s = req.segments; // ['composite', 'sobjects', S?, extField?]
  if (s.length === 2 && req.method === 'POST') {
    const { allOrNone, records } = collectionBody(req);
    return { status: 200, body: runCollection(store, records, allOrNone, (rec) => {
      if (rec.Id !== undefined) throw new RecordProblem('INVALID_FIELD', 'cannot specify Id in an insert call', ['Id']);
      return { id: store.insert(typeOf(rec), rec), success: true, errors: [] };
    }) };
  }
  if (s.length === 2 && req.method === 'PATCH') {
    const { allOrNone, records } = collectionBody(req);
    return { status: 200, body: runCollection(store, records, allOrNone, (rec) => {
      if (typeof rec.Id !== 'string' || rec.Id === '') throw new RecordProblem('MISSING_ARGUMENT', 'Id not specified in an update call', ['Id']);
      const id = normalizeId(rec.Id);
      if (!id) throw new RecordProblem('MALFORMED_ID', `Id: id value of incorrect type: ${rec.Id}`, ['Id']);
      store.update(typeOf(rec), id, rec);
      return { id, success: true, errors: [] };
    }) };
  }
  if (s.length === 2 && req.method === 'DELETE') {
    const ids = (req.query.get('ids') ?? '').split(',').filter((x) => x !== '');
    if (ids.length > MAX_COLLECTION) throw sfError(400, 'EXCEEDED_ID_LIMIT', `record limit reached. cannot submit more than ${MAX_COLLECTION} records into this call`);
    return { status: 200, body: runCollection(store, ids, req.query.get('allOrNone') === 'true', (raw) => {
      const id = normalizeId(raw);
      const rec = id ? store.get(id) : undefined;
      if (!id || !rec) throw new RecordProblem('INVALID_CROSS_REFERENCE_KEY', 'invalid cross reference id', []);
      store.delete(sobject(rec.sobject), id);
      return { id, success: true, errors: [] };
    }) };
  }
  if (s.length === 3 && req.method === 'POST') {
    // Retrieve: {ids, fields}.
    const o = sobject(s[2]);
    const b = objectBody(req);
    const ids = Array.isArray(b.ids) ? (b.ids as unknown[]).map(String) : [];
    const names = Array.isArray(b.fields) ? (b.fields as unknown[]).map(String) : ['Id'];
    const fields = names.map((n) => fieldOf(o, n) ?? wrap(() => { throw new RecordProblem('INVALID_FIELD', `No such column '${n}' on sobject of type ${o.name}`, [n]); }));
    return { status: 200, body: ids.map((raw) => {
      const id = normalizeId(raw);
      const rec = id ? store.get(id) : undefined;
      return rec && !rec.isDeleted && rec.sobject === o.name ? renderRecord(rec, fields, req.version) : null;
    }) };
  }
  if (s.length === 4 && req.method === 'PATCH') {
    const o = sobject(s[2]);
    const field = fieldOf(o, s[3] ?? '');
    if (!field?.externalId && field?.name !== 'Id') throw sfError(400, 'INVALID_FIELD', `Provided external ID field does not exist or is not accessible: ${s[3]}`);
    const { allOrNone, records } = collectionBody(req);
    const keyOf = (rec: Record<string, unknown>): string | undefined => {
      const v = Object.entries(rec).find(([k]) => k.toLowerCase() === field.name.toLowerCase())?.[1];
      return v === undefined || v === null ? undefined : String(v);
    };
    const seen = new Map<string, number>();
    for (const rec of records) {
      const k = keyOf(rec);
      if (k !== undefined) seen.set(k, (seen.get(k) ?? 0) + 1);
    }
    return { status: 200, body: runCollection(store, records, allOrNone, (rec) => {
      const t = typeOf(rec, o);
      if (t.name !== o.name) throw new RecordProblem('INVALID_TYPE', `Record type ${t.name} does not match the collection's ${o.name}`, []);
      const key = keyOf(rec);
      if (key === undefined) throw new RecordProblem('MISSING_ARGUMENT', `${field.name} not specified`, [field.name]);
      if ((seen.get(key) ?? 0) > 1) throw new RecordProblem('DUPLICATE_EXTERNAL_ID', `Duplicate external id specified: ${key}`, [field.name]);
      try {
        const r = store.upsert(o, field.name, key, rec);
        return { id: r.id, success: true, errors: [], created: r.created };
      } catch (err) {
        if (err instanceof RecordProblem && err.matches) {
          throw new RecordProblem('DUPLICATE_EXTERNAL_ID', `${field.name}: more than one record found for external id field: [${err.matches.join(', ')}]`, [field.name]);
        }
        throw err;
      }
    }) };
  }
  throw sfError(405, 'METHOD_NOT_ALLOWED', `HTTP Method '${req.method}' not allowed.`);
}
