import { randomBytes } from 'node:crypto';
import { notFound, sfError } from './errors';
import { compileSoql } from './soql';
import type { CompiledQuery } from './soql';
import type { SalesforceStore, StoredRecord } from './store';
import { valueOf } from './store';
import { sobjectOf } from './schema';
import type { FieldDef } from './schema';

/**
 * `query` / `queryAll` with `nextRecordsUrl` paging (reference §2 "Query and paging"): at most
 * `batchSize` records per answer (2,000 by default; `Sforce-Query-Options: batchSize=N`, 200 to
 * 2,000). A query with more rows snapshots the matching ids under a locator, so later pages
 * hold exactly the rows the query matched, whatever changes meanwhile.
 */
export const DEFAULT_BATCH = 2000;

export interface QueryAnswer {
  totalSize: number;
  done: boolean;
  nextRecordsUrl?: string;
  records: Record<string, unknown>[];
}

export function renderRecord(r: StoredRecord, fields: FieldDef[], version: string): Record<string, unknown> {
  const out: Record<string, unknown> = { attributes: { type: r.sobject, url: `/services/data/v${version}/sobjects/${r.sobject}/${r.id}` } };
  for (const f of fields) out[f.name] = valueOf(r, f.name);
  return out;
}

/** `Sforce-Query-Options: batchSize=N` → N clamped to 200–2,000 (a hint, as on Salesforce). */
export function batchSizeOf(header: string | undefined): number {
  const m = header ? /batchSize=(\d+)/i.exec(header) : null;
  if (!m) return DEFAULT_BATCH;
  return Math.min(DEFAULT_BATCH, Math.max(200, Number(m[1])));
}

function locatorId(): string {
  return `01gEm${randomBytes(8).toString('hex').slice(0, 13)}`;
}

/** Ids matched by a compiled query, in order. */
export function matchingIds(store: SalesforceStore, q: CompiledQuery): string[] {
  return store.db.prepare(q.sql).pluck().all(...q.params) as string[];
}

/** Stores the ids of a result under a new locator and returns it. */
export function snapshot(store: SalesforceStore, sobject: string, fields: FieldDef[], ids: string[], id = locatorId()): string {
  const insert = store.db.prepare('INSERT INTO locator_rows (locator, seq, id) VALUES (?, ?, ?)');
  store.transaction(() => {
    store.db.prepare('INSERT INTO locators (id, sobject, fields, total, created) VALUES (?, ?, ?, ?, ?)').run(id, sobject, JSON.stringify(fields.map((f) => f.name)), ids.length, Date.now());
    ids.forEach((rid, i) => insert.run(id, i, rid));
  });
  return id;
}

export function loadPage(store: SalesforceStore, ids: string[]): StoredRecord[] {
  return ids.map((id) => store.get(id)).filter((r): r is StoredRecord => r !== undefined);
}

export function runQuery(store: SalesforceStore, soql: string, scanAll: boolean, batch: number, version: string): QueryAnswer {
  const q = compileSoql(soql, scanAll);
  const ids = matchingIds(store, q);
  const first = loadPage(store, ids.slice(0, batch)).map((r) => renderRecord(r, q.fields, version));
  if (ids.length <= batch) return { totalSize: ids.length, done: true, records: first };
  const locator = snapshot(store, q.sobject.name, q.fields, ids);
  return { totalSize: ids.length, done: false, nextRecordsUrl: `/services/data/v${version}/query/${locator}-${batch}`, records: first };
}

/** `GET /query/{locator}-{offset}`. */
export function queryMore(store: SalesforceStore, token: string, batch: number, version: string): QueryAnswer {
  const m = /^(01g[A-Za-z0-9]+)-(\d+)$/.exec(token);
  const loc = m ? (store.db.prepare('SELECT sobject, fields, total FROM locators WHERE id = ?').get(m[1]) as { sobject: string; fields: string; total: number } | undefined) : undefined;
  if (!m || !loc) throw sfError(400, 'INVALID_QUERY_LOCATOR', 'invalid query locator');
  const offset = Number(m[2]);
  const o = sobjectOf(loc.sobject);
  if (!o) throw notFound();
  const fields = (JSON.parse(loc.fields) as string[]).map((n) => o.fields.find((f) => f.name === n)!);
  const ids = store.db.prepare('SELECT id FROM locator_rows WHERE locator = ? AND seq >= ? ORDER BY seq LIMIT ?').pluck().all(m[1], offset, batch) as string[];
  const records = loadPage(store, ids).map((r) => renderRecord(r, fields, version));
  const next = offset + ids.length;
  if (next >= loc.total) {
    store.db.prepare('DELETE FROM locator_rows WHERE locator = ?').run(m[1]);
    return { totalSize: loc.total, done: true, records };
  }
  return { totalSize: loc.total, done: false, nextRecordsUrl: `/services/data/v${version}/query/${m[1]}-${next}`, records };
}
