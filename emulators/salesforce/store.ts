import Database from 'better-sqlite3';
import type { Database as Db, Statement } from 'better-sqlite3';
import { RecordProblem } from './errors';
import { makeId, sfDateTime } from './ids';
import { fieldOf, SOBJECTS } from './schema';
import type { SObjectDef } from './schema';
import { cleanValues } from './values';

/**
 * SQLite-backed sObject store (survives restarts given a file path). System fields are columns
 * (so SOQL on SystemModstamp and Id uses an index); the other fields are one JSON document.
 * Deletes are soft (`IsDeleted`, seen by queryAll), as in the Recycle Bin.
 */

export interface StoredRecord {
  sobject: string;
  id: string;
  isDeleted: boolean;
  createdDate: string;
  lastModifiedDate: string;
  systemModstamp: string;
  data: Record<string, unknown>;
}

export interface RecordRow {
  sobject: string;
  id: string;
  is_deleted: number;
  created_date: string;
  last_modified_date: string;
  system_modstamp: string;
  data: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS records (
  id TEXT PRIMARY KEY, sobject TEXT NOT NULL, is_deleted INTEGER NOT NULL DEFAULT 0,
  created_date TEXT NOT NULL, last_modified_date TEXT NOT NULL, system_modstamp TEXT NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS records_modstamp ON records(sobject, system_modstamp, id);
CREATE INDEX IF NOT EXISTS records_erp_id ON records(sobject, json_extract(data, '$.ERP_Id__c'));
CREATE INDEX IF NOT EXISTS records_legacy_id ON records(sobject, json_extract(data, '$.Legacy_Id__c'));
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS api_usage (day TEXT PRIMARY KEY, used INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS locators (id TEXT PRIMARY KEY, sobject TEXT NOT NULL, fields TEXT NOT NULL, total INTEGER NOT NULL, created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS locator_rows (locator TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL, PRIMARY KEY (locator, seq));
CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, kind TEXT NOT NULL, info TEXT NOT NULL, upload TEXT NOT NULL DEFAULT '',
  successful TEXT NOT NULL DEFAULT '', failed TEXT NOT NULL DEFAULT '', unprocessed TEXT NOT NULL DEFAULT '');
`;

export function fromRow(r: RecordRow): StoredRecord {
  return {
    sobject: r.sobject, id: r.id, isDeleted: r.is_deleted === 1, createdDate: r.created_date,
    lastModifiedDate: r.last_modified_date, systemModstamp: r.system_modstamp, data: JSON.parse(r.data) as Record<string, unknown>,
  };
}

/** The value of field `name` of a stored record, system fields included. */
export function valueOf(r: StoredRecord, name: string): unknown {
  switch (name) {
    case 'Id': return r.id;
    case 'IsDeleted': return r.isDeleted;
    case 'CreatedDate': return r.createdDate;
    case 'LastModifiedDate': return r.lastModifiedDate;
    case 'SystemModstamp': return r.systemModstamp;
    case 'CreatedById': case 'LastModifiedById': return '005Em0000000001AAA';
    default: return r.data[name] ?? null;
  }
}

export type UpsertResult = { id: string; created: boolean };

export class SalesforceStore {
  readonly db: Db;
  private readonly byId: Statement<[string]>;
  private readonly insertStmt: Statement<unknown[]>;
  private readonly updateStmt: Statement<unknown[]>;
  private readonly deleteStmt: Statement<unknown[]>;
  private readonly nextCounter: (name: string) => number;
  private readonly byExternal = new Map<string, Statement<[string, string]>>();
  /** The clock of SystemModstamp; tests may move it. */
  now: () => number = Date.now;

  constructor(path = ':memory:') {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
    this.byId = this.db.prepare('SELECT * FROM records WHERE id = ?');
    this.insertStmt = this.db.prepare(
      'INSERT INTO records (id, sobject, is_deleted, created_date, last_modified_date, system_modstamp, data) VALUES (?, ?, 0, ?, ?, ?, ?)',
    );
    this.updateStmt = this.db.prepare('UPDATE records SET data = ?, last_modified_date = ?, system_modstamp = ? WHERE id = ?');
    this.deleteStmt = this.db.prepare('UPDATE records SET is_deleted = 1, system_modstamp = ?, last_modified_date = ? WHERE id = ?');
    const bump = this.db.prepare('INSERT INTO counters (name, value) VALUES (?, 1) ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value');
    this.nextCounter = (name) => (bump.get(name) as { value: number }).value;
    if (!this.db.prepare("SELECT 1 FROM records WHERE sobject = 'Pricebook2' LIMIT 1").get()) {
      this.insert(SOBJECTS.Pricebook2!, { Name: 'Standard Price Book', IsActive: true, IsStandard: true });
    }
  }

  close(): void {
    this.db.close();
  }

  newId(prefix: string): string {
    return makeId(prefix, this.nextCounter(`id:${prefix}`));
  }

  get(id: string): StoredRecord | undefined {
    const row = this.byId.get(id) as RecordRow | undefined;
    return row ? fromRow(row) : undefined;
  }

  /** Live records of `o` whose external-id field `field` equals `value`. */
  findByExternalId(o: SObjectDef, field: string, value: string): string[] {
    const f = fieldOf(o, field);
    if (!f?.externalId && f?.name !== 'Id') throw new RecordProblem('INVALID_FIELD', `Provided external ID field does not exist or is not accessible: ${field}`, [field]);
    if (f.name === 'Id') return this.get(value)?.isDeleted === false ? [value] : [];
    let stmt = this.byExternal.get(f.name);
    if (!stmt) {
      stmt = this.db.prepare(`SELECT id FROM records WHERE sobject = ? AND is_deleted = 0 AND json_extract(data, '$.${f.name}') = ?`).pluck();
      this.byExternal.set(f.name, stmt);
    }
    return stmt.all(o.name, value) as string[];
  }

  private checkUnique(o: SObjectDef, values: Record<string, unknown>, selfId?: string): void {
    for (const f of o.fields) {
      const v = values[f.name];
      if (!f.unique || v === null || v === undefined) continue;
      const other = this.findByExternalId(o, f.name, String(v)).find((id) => id !== selfId);
      if (other) throw new RecordProblem('DUPLICATE_VALUE', `duplicate value found: ${f.name} duplicates value on record with id: ${other}`, [f.name]);
    }
  }

  private checkReferences(o: SObjectDef, values: Record<string, unknown>): void {
    for (const f of o.fields) {
      const v = values[f.name];
      if (f.type !== 'reference' || f.system || typeof v !== 'string') continue;
      const target = this.get(v);
      if (!target || target.isDeleted || target.sobject !== f.referenceTo) {
        throw new RecordProblem('INVALID_CROSS_REFERENCE_KEY', `invalid cross reference id`, [f.name]);
      }
    }
  }

  private stamp(): string {
    return sfDateTime(this.now());
  }

  insert(o: SObjectDef, raw: Record<string, unknown>): string {
    const values = cleanValues(o, raw, 'create');
    this.checkUnique(o, values);
    this.checkReferences(o, values);
    const id = this.newId(o.keyPrefix);
    const at = this.stamp();
    this.insertStmt.run(id, o.name, at, at, at, JSON.stringify(dropNulls(values)));
    return id;
  }

  update(o: SObjectDef, id: string, raw: Record<string, unknown>): void {
    const current = this.get(id);
    if (!current || current.sobject !== o.name) throw new RecordProblem('NOT_FOUND', 'The requested resource does not exist', []);
    if (current.isDeleted) throw new RecordProblem('ENTITY_IS_DELETED', 'entity is deleted', []);
    const values = cleanValues(o, raw, 'update');
    this.checkUnique(o, values, id);
    this.checkReferences(o, values);
    const at = this.stamp();
    this.updateStmt.run(JSON.stringify(dropNulls({ ...current.data, ...values })), at, at, id);
  }

  /** Upsert by external id: no match creates (with the key set), one match updates, several → 300. */
  upsert(o: SObjectDef, field: string, value: string, raw: Record<string, unknown>): UpsertResult {
    const f = fieldOf(o, field);
    const matches = this.findByExternalId(o, field, value);
    if (matches.length > 1) {
      throw new RecordProblem('MULTIPLE_RECORDS_FOUND', `The value of the external ID field ${f?.name ?? field} matches multiple records`, [f?.name ?? field], matches);
    }
    const only = matches[0];
    const body = { ...raw };
    for (const k of Object.keys(body)) if (k.toLowerCase() === field.toLowerCase()) delete body[k];
    if (only) {
      this.update(o, only, body);
      return { id: only, created: false };
    }
    if (f?.name === 'Id') throw new RecordProblem('NOT_FOUND', 'Provided external ID field does not exist or is not accessible: Id', ['Id']);
    return { id: this.insert(o, { ...body, [f?.name ?? field]: value }), created: true };
  }

  delete(o: SObjectDef, id: string): void {
    const current = this.get(id);
    if (!current || current.sobject !== o.name) throw new RecordProblem('NOT_FOUND', 'The requested resource does not exist', []);
    if (current.isDeleted) throw new RecordProblem('ENTITY_IS_DELETED', 'entity is deleted', []);
    const at = this.stamp();
    this.deleteStmt.run(at, at, id);
  }

  /** Runs `fn` in one transaction (Collections with allOrNone roll back on the first error). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /** Counts one API request of the current UTC day and returns the day's total. */
  countRequest(day: string): number {
    return (this.db.prepare('INSERT INTO api_usage (day, used) VALUES (?, 1) ON CONFLICT(day) DO UPDATE SET used = used + 1 RETURNING used').get(day) as { used: number }).used;
  }

  usage(day: string): number {
    return (this.db.prepare('SELECT used FROM api_usage WHERE day = ?').pluck().get(day) as number | undefined) ?? 0;
  }

  count(sobject: string, includeDeleted = false): number {
    return this.db.prepare(`SELECT count(*) FROM records WHERE sobject = ?${includeDeleted ? '' : ' AND is_deleted = 0'}`).pluck().get(sobject) as number;
  }

  all(sobject: string): StoredRecord[] {
    return (this.db.prepare('SELECT * FROM records WHERE sobject = ? AND is_deleted = 0 ORDER BY id').all(sobject) as RecordRow[]).map(fromRow);
  }
}

function dropNulls(v: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (x !== null && x !== undefined) out[k] = x;
  return out;
}
