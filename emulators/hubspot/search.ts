import { validationError } from './errors';
import { fromRow } from './store';
import type { HubSpotStore, Row } from './store';
import { columnFor } from './schema';
import type { ObjectType } from './schema';
import { propertyList, toPublic } from './view';
import type { PublicObject } from './view';

/** POST /crm/v3/objects/{type}/search: filters compiled to SQL over the object table. */

export const SEARCH_RESULT_CAP = 10_000;
const MAX_LIMIT = 200;
const MAX_BODY_CHARS = 3000;

interface Filter {
  propertyName?: unknown;
  operator?: unknown;
  value?: unknown;
  values?: unknown;
  highValue?: unknown;
}

export interface SearchResponse {
  total: number;
  results: PublicObject[];
  paging?: { next: { after: string; link?: string } };
}

function numeric(type: string, raw: unknown): number {
  const s = String(raw);
  if (/^-?\d+(\.\d+)?$/.test(s)) return Number(s);
  const t = type === 'datetime' ? Date.parse(s) : Number.NaN;
  if (Number.isNaN(t)) throw validationError(`Invalid value '${s}' for a ${type} filter`);
  return t;
}

interface Compiled {
  sql: string;
  params: unknown[];
}

function compileFilter(store: HubSpotStore, type: ObjectType, f: Filter): Compiled {
  const name = typeof f.propertyName === 'string' ? f.propertyName : '';
  const def = store.property(type, name);
  if (!def) throw validationError(`There was a problem with the request.`, [{ message: `Property "${name}" does not exist`, code: 'PROPERTY_DOESNT_EXIST', in: 'propertyName' }]);
  const column = columnFor(type, name);
  const isNumeric = def.type === 'number' || def.type === 'datetime';
  const raw = column ?? `json_extract(props, '$."${name}"')`;
  const expr = isNumeric ? (column ?? `CAST(${raw} AS REAL)`) : `lower(${raw})`;
  const v = (x: unknown): unknown => (isNumeric ? numeric(def.type, x) : String(x).toLowerCase());
  const values = Array.isArray(f.values) ? f.values : [];
  switch (f.operator) {
    case 'EQ': return { sql: `${expr} = ?`, params: [v(f.value)] };
    case 'NEQ': return { sql: `(${raw} IS NULL OR ${expr} != ?)`, params: [v(f.value)] };
    case 'LT': return { sql: `${expr} < ?`, params: [v(f.value)] };
    case 'LTE': return { sql: `${expr} <= ?`, params: [v(f.value)] };
    case 'GT': return { sql: `${expr} > ?`, params: [v(f.value)] };
    case 'GTE': return { sql: `${expr} >= ?`, params: [v(f.value)] };
    case 'BETWEEN': return { sql: `${expr} BETWEEN ? AND ?`, params: [v(f.value), v(f.highValue)] };
    case 'IN':
    case 'NOT_IN': {
      if (values.length === 0) throw validationError(`${f.operator} filter on ${name} needs 'values'`);
      const list = values.map(() => '?').join(', ');
      const sql = f.operator === 'IN' ? `${expr} IN (${list})` : `(${raw} IS NULL OR ${expr} NOT IN (${list}))`;
      return { sql, params: values.map(v) };
    }
    case 'HAS_PROPERTY': return { sql: `(${raw} IS NOT NULL AND ${raw} != '')`, params: [] };
    case 'NOT_HAS_PROPERTY': return { sql: `(${raw} IS NULL OR ${raw} = '')`, params: [] };
    case 'CONTAINS_TOKEN':
    case 'NOT_CONTAINS_TOKEN': {
      const like = `%${String(f.value).toLowerCase().replace(/\*/g, '%')}%`;
      return { sql: f.operator === 'CONTAINS_TOKEN' ? `lower(${raw}) LIKE ?` : `(${raw} IS NULL OR lower(${raw}) NOT LIKE ?)`, params: [like] };
    }
    default:
      throw validationError(`Unsupported filter operator: ${String(f.operator)}`);
  }
}

function parseSort(raw: unknown): { propertyName: string; direction: 'ASC' | 'DESC' } | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw === 'string') {
    return raw.startsWith('-') ? { propertyName: raw.slice(1), direction: 'DESC' } : { propertyName: raw, direction: 'ASC' };
  }
  const o = raw as { propertyName?: unknown; direction?: unknown };
  return { propertyName: String(o.propertyName), direction: o.direction === 'DESCENDING' ? 'DESC' : 'ASC' };
}

export function search(store: HubSpotStore, type: ObjectType, body: Record<string, unknown>, rawLength: number): SearchResponse {
  if (rawLength > MAX_BODY_CHARS) throw validationError(`Request body exceeds ${MAX_BODY_CHARS} characters`);
  const groups = Array.isArray(body.filterGroups) ? (body.filterGroups as { filters?: unknown }[]) : [];
  const filterCount = groups.reduce((n, g) => n + (Array.isArray(g.filters) ? g.filters.length : 0), 0);
  if (groups.length > 5 || groups.some((g) => Array.isArray(g.filters) && g.filters.length > 6) || filterCount > 18) {
    throw validationError('Too many filters: at most 5 filterGroups, 6 filters per group and 18 filters in total are allowed.');
  }
  const sorts = Array.isArray(body.sorts) ? body.sorts : [];
  if (sorts.length > 1) throw validationError('Only one sort is allowed.');
  const limit = body.limit === undefined ? 10 : Number(body.limit);
  if (!Number.isInteger(limit) || limit < 0 || limit > MAX_LIMIT) throw validationError(`limit must be between 0 and ${MAX_LIMIT}`);
  const afterRaw = body.after === undefined || body.after === null || body.after === '' ? '0' : String(body.after);
  if (!/^\d+$/.test(afterRaw)) throw validationError(`after must be an integer, got '${afterRaw}'`);
  const offset = Number(afterRaw);
  if (offset >= SEARCH_RESULT_CAP) {
    throw validationError(`The search results are limited to ${SEARCH_RESULT_CAP} records; 'after' must be below ${SEARCH_RESULT_CAP}.`);
  }

  const where: string[] = ['type = ?', 'archived = 0'];
  const params: unknown[] = [type];
  const groupSql: string[] = [];
  for (const g of groups) {
    const filters = Array.isArray(g.filters) ? (g.filters as Filter[]) : [];
    if (filters.length === 0) continue;
    const compiled = filters.map((f) => compileFilter(store, type, f));
    groupSql.push(`(${compiled.map((c) => c.sql).join(' AND ')})`);
    for (const c of compiled) params.push(...c.params);
  }
  if (groupSql.length > 0) where.push(`(${groupSql.join(' OR ')})`);
  if (typeof body.query === 'string' && body.query !== '') {
    where.push('lower(props) LIKE ?');
    params.push(`%${body.query.toLowerCase()}%`);
  }

  let order = 'id ASC';
  const sort = parseSort(sorts[0]);
  if (sort) {
    const def = store.property(type, sort.propertyName);
    if (!def) throw validationError(`Property "${sort.propertyName}" does not exist`);
    const column = columnFor(type, sort.propertyName);
    const raw = `json_extract(props, '$."${sort.propertyName}"')`;
    const expr = column ?? (def.type === 'number' || def.type === 'datetime' ? `CAST(${raw} AS REAL)` : raw);
    order = `${expr} ${sort.direction}, id ASC`;
  }

  const whereSql = where.join(' AND ');
  const total = (store.statement(`SELECT count(*) AS n FROM objects WHERE ${whereSql}`).get(...params) as { n: number }).n;
  const take = Math.min(limit, SEARCH_RESULT_CAP - offset);
  const rows = store.statement(`SELECT * FROM objects WHERE ${whereSql} ORDER BY ${order} LIMIT ? OFFSET ?`).all(...params, take, offset) as Row[];
  const requested = propertyList(body.properties);
  const results = rows.map((r) => toPublic(fromRow(r), requested));
  const response: SearchResponse = { total, results };
  if (offset + rows.length < total && rows.length > 0) response.paging = { next: { after: String(offset + rows.length) } };
  return response;
}
