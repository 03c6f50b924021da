import Database from 'better-sqlite3';
import type { Database as Db, Statement } from 'better-sqlite3';
import { conflict, HttpError, notFound, propertyValuesBody, validationError } from './errors';
import type { PropertyProblem } from './errors';
import { columnFor, DEFAULT_PROPERTIES, OBJECT_TYPES, SYSTEM_PROPERTIES } from './schema';
import type { ObjectType, PropertyDefinition } from './schema';

/** SQLite-backed object store: survives restarts when given a file path. */

export interface StoredObject {
  id: number;
  type: ObjectType;
  props: Record<string, string>;
  createdAt: number;
  updatedAt: number;
  archived: boolean;
  archivedAt: number | null;
}

export interface Row {
  id: number;
  type: string;
  props: string;
  created_at: number;
  updated_at: number;
  archived: number;
  archived_at: number | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS objects (
  id INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, props TEXT NOT NULL,
  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
  archived INTEGER NOT NULL DEFAULT 0, archived_at INTEGER);
CREATE INDEX IF NOT EXISTS objects_modified ON objects(type, archived, updated_at, id);
CREATE TABLE IF NOT EXISTS unique_values (
  type TEXT NOT NULL, prop TEXT NOT NULL, value TEXT NOT NULL, id INTEGER NOT NULL,
  PRIMARY KEY (type, prop, value));
CREATE INDEX IF NOT EXISTS unique_values_id ON unique_values(id);
CREATE TABLE IF NOT EXISTS properties (
  type TEXT NOT NULL, name TEXT NOT NULL, definition TEXT NOT NULL, PRIMARY KEY (type, name));
CREATE TABLE IF NOT EXISTS associations (
  from_type TEXT NOT NULL, from_id INTEGER NOT NULL, to_type TEXT NOT NULL, to_id INTEGER NOT NULL,
  type_id INTEGER NOT NULL, PRIMARY KEY (from_type, from_id, to_type, to_id, type_id));
`;

export function fromRow(r: Row): StoredObject {
  return {
    id: r.id,
    type: r.type as ObjectType,
    props: JSON.parse(r.props) as Record<string, string>,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    archived: r.archived === 1,
    archivedAt: r.archived_at,
  };
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export class HubSpotStore {
  readonly db: Db;
  private readonly registry = new Map<string, PropertyDefinition>();
  private readonly statements = new Map<string, Statement<unknown[]>>();

  constructor(dbPath = ':memory:') {
    this.db = new Database(dbPath);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
    const insert = this.db.prepare('INSERT OR IGNORE INTO properties (type, name, definition) VALUES (?, ?, ?)');
    for (const type of OBJECT_TYPES) {
      for (const def of [...SYSTEM_PROPERTIES, ...DEFAULT_PROPERTIES[type]]) insert.run(type, def.name, JSON.stringify(def));
    }
    for (const r of this.db.prepare('SELECT type, name, definition FROM properties').all() as {
      type: string;
      name: string;
      definition: string;
    }[]) {
      this.registry.set(`${r.type}.${r.name}`, JSON.parse(r.definition) as PropertyDefinition);
    }
  }

  /** A prepared statement, compiled once per SQL text. */
  statement(sql: string): Statement<unknown[]> {
    let stmt = this.statements.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      this.statements.set(sql, stmt);
    }
    return stmt;
  }

  close(): void {
    this.db.close();
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  property(type: ObjectType, name: string): PropertyDefinition | undefined {
    return this.registry.get(`${type}.${name}`);
  }

  properties(type: ObjectType): PropertyDefinition[] {
    return [...this.registry.entries()].filter(([k]) => k.startsWith(`${type}.`)).map(([, v]) => v);
  }

  defineProperty(type: ObjectType, def: PropertyDefinition): PropertyDefinition {
    if (this.registry.has(`${type}.${def.name}`)) throw conflict(`Property named '${def.name}' already exists.`);
    this.statement('INSERT INTO properties (type, name, definition) VALUES (?, ?, ?)').run(type, def.name, JSON.stringify(def));
    this.registry.set(`${type}.${def.name}`, def);
    return def;
  }

  /** Checks names and values; returns the normalised values to store ('' clears). */
  normalise(type: ObjectType, input: Record<string, unknown>): Record<string, string> {
    const problems: PropertyProblem[] = [];
    const out: Record<string, string> = {};
    for (const [name, raw] of Object.entries(input)) {
      const def = this.property(type, name);
      if (!def) {
        problems.push({ name, error: 'PROPERTY_DOESNT_EXIST', message: `Property "${name}" does not exist` });
        continue;
      }
      if (def.readOnly || columnFor(type, name)) {
        problems.push({ name, error: 'READ_ONLY_VALUE', message: `"${name}" is a read only property; its value cannot be set.` });
        continue;
      }
      const value = raw === null || raw === undefined ? '' : String(raw);
      if (value !== '') {
        const problem = checkValue(def, value);
        if (problem) {
          problems.push(problem);
          continue;
        }
      }
      out[name] = def.type === 'bool' ? value.toLowerCase() : value;
    }
    if (problems.length > 0) throw new HttpError(400, propertyValuesBody(problems));
    return out;
  }

  get(type: ObjectType, id: number, archived = false): StoredObject | undefined {
    const row = this
      .statement('SELECT * FROM objects WHERE type = ? AND id = ? AND archived = ?')
      .get(type, id, archived ? 1 : 0) as Row | undefined;
    return row ? fromRow(row) : undefined;
  }

  /** Looks an object up by `hs_object_id` or by a unique property. */
  find(type: ObjectType, idValue: string, idProperty?: string, archived = false): StoredObject | undefined {
    if (!idProperty || idProperty === 'hs_object_id') {
      return /^\d+$/.test(idValue) ? this.get(type, Number(idValue), archived) : undefined;
    }
    const def = this.property(type, idProperty);
    if (!def) throw validationError(`Property "${idProperty}" does not exist`, [{ message: `Property "${idProperty}" does not exist`, code: 'PROPERTY_DOESNT_EXIST' }]);
    if (!def.hasUniqueValue) throw validationError(`${idProperty} is not a unique identifier property`);
    if (archived) {
      const rows = this.statement('SELECT * FROM objects WHERE type = ? AND archived = 1').all(type) as Row[];
      return rows.map(fromRow).find((o) => o.props[idProperty] === idValue);
    }
    const hit = this.statement('SELECT id FROM unique_values WHERE type = ? AND prop = ? AND value = ?').get(type, idProperty, idValue) as
      | { id: number }
      | undefined;
    return hit ? this.get(type, hit.id) : undefined;
  }

  create(type: ObjectType, input: Record<string, unknown>, at = Date.now()): StoredObject {
    const props = dropEmpty(this.normalise(type, input));
    this.checkUnique(type, props, undefined);
    const res = this
      .statement('INSERT INTO objects (type, props, created_at, updated_at) VALUES (?, ?, ?, ?)')
      .run(type, JSON.stringify(props), at, at);
    const id = Number(res.lastInsertRowid);
    this.indexUnique(type, id, props);
    return { id, type, props, createdAt: at, updatedAt: at, archived: false, archivedAt: null };
  }

  update(type: ObjectType, id: number, input: Record<string, unknown>, at = Date.now()): StoredObject {
    const current = this.get(type, id);
    if (!current) throw notFound(`Object not found.  objectId are usually numeric.`, { id: [String(id)] });
    const changes = this.normalise(type, input);
    this.checkUnique(type, changes, id);
    const props = dropEmpty({ ...current.props, ...changes });
    this.statement('UPDATE objects SET props = ?, updated_at = ? WHERE id = ?').run(JSON.stringify(props), at, id);
    this.statement('DELETE FROM unique_values WHERE id = ?').run(id);
    this.indexUnique(type, id, props);
    return { ...current, props, updatedAt: at };
  }

  archive(type: ObjectType, id: number, at = Date.now()): boolean {
    const res = this
      .statement('UPDATE objects SET archived = 1, archived_at = ?, updated_at = ? WHERE type = ? AND id = ? AND archived = 0')
      .run(at, at, type, id);
    this.statement('DELETE FROM unique_values WHERE id = ?').run(id);
    this.statement('DELETE FROM associations WHERE (from_type = ? AND from_id = ?) OR (to_type = ? AND to_id = ?)').run(type, id, type, id);
    return res.changes > 0;
  }

  list(type: ObjectType, afterId: number, limit: number, archived: boolean): StoredObject[] {
    const rows = this
      .statement('SELECT * FROM objects WHERE type = ? AND archived = ? AND id > ? ORDER BY id LIMIT ?')
      .all(type, archived ? 1 : 0, afterId, limit) as Row[];
    return rows.map(fromRow);
  }

  associate(fromType: ObjectType, fromId: number, toType: ObjectType, toId: number, typeId: number, reverseTypeId?: number, at = Date.now()): void {
    const stmt = this.statement('INSERT OR IGNORE INTO associations (from_type, from_id, to_type, to_id, type_id) VALUES (?, ?, ?, ?, ?)');
    stmt.run(fromType, fromId, toType, toId, typeId);
    if (reverseTypeId !== undefined) stmt.run(toType, toId, fromType, fromId, reverseTypeId);
    const link = primaryCompanyLink(fromType, fromId, toType, toId);
    if (link) {
      // Like HubSpot: the first company associated to a contact becomes its primary company,
      // shown in `associatedcompanyid`, and the contact counts as modified.
      const contact = this.get('contacts', link.contactId);
      if (contact && !contact.props.associatedcompanyid) this.setPrimaryCompany(contact, String(link.companyId), at);
    }
  }

  dissociate(fromType: ObjectType, fromId: number, toType: ObjectType, toId: number, at = Date.now()): void {
    const stmt = this.statement('DELETE FROM associations WHERE from_type = ? AND from_id = ? AND to_type = ? AND to_id = ?');
    stmt.run(fromType, fromId, toType, toId);
    stmt.run(toType, toId, fromType, fromId);
    const link = primaryCompanyLink(fromType, fromId, toType, toId);
    if (link) {
      const contact = this.get('contacts', link.contactId);
      if (contact && contact.props.associatedcompanyid === String(link.companyId)) {
        const next = this.associations('contacts', link.contactId, 'companies', 0, 1)[0];
        this.setPrimaryCompany(contact, next ? String(next.toId) : '', at);
      }
    }
  }

  private setPrimaryCompany(contact: StoredObject, companyId: string, at: number): void {
    const props = dropEmpty({ ...contact.props, associatedcompanyid: companyId });
    this.statement('UPDATE objects SET props = ?, updated_at = ? WHERE id = ?').run(JSON.stringify(props), at, contact.id);
  }

  /** Redefines a property, e.g. new options of an enumeration (PATCH /crm/v3/properties/{type}/{name}). */
  updateProperty(type: ObjectType, name: string, patch: Partial<Omit<PropertyDefinition, 'name'>>): PropertyDefinition {
    const current = this.property(type, name);
    if (!current) throw notFound(`Property ${name} does not exist`);
    if (current.readOnly) throw validationError(`${name} is a read only property; its definition cannot be changed.`);
    const def: PropertyDefinition = { ...current, ...patch, name };
    this.statement('UPDATE properties SET definition = ? WHERE type = ? AND name = ?').run(JSON.stringify(def), type, name);
    this.registry.set(`${type}.${name}`, def);
    return def;
  }

  associations(fromType: ObjectType, fromId: number, toType: ObjectType, afterId: number, limit: number): { toId: number; typeIds: number[] }[] {
    const rows = this
      .statement(
        'SELECT to_id, group_concat(type_id) AS types FROM associations WHERE from_type = ? AND from_id = ? AND to_type = ? AND to_id > ? GROUP BY to_id ORDER BY to_id LIMIT ?',
      )
      .all(fromType, fromId, toType, afterId, limit) as { to_id: number; types: string }[];
    return rows.map((r) => ({ toId: r.to_id, typeIds: r.types.split(',').map(Number) }));
  }

  private checkUnique(type: ObjectType, props: Record<string, string>, selfId: number | undefined): void {
    for (const [name, value] of Object.entries(props)) {
      if (value === '' || !this.property(type, name)?.hasUniqueValue) continue;
      const hit = this.statement('SELECT id FROM unique_values WHERE type = ? AND prop = ? AND value = ?').get(type, name, value) as
        | { id: number }
        | undefined;
      if (hit && hit.id !== selfId) {
        throw conflict(`A ${type.replace(/s$/, '')} with ${name} '${value}' already exists. Existing ID: ${hit.id}`);
      }
    }
  }

  private indexUnique(type: ObjectType, id: number, props: Record<string, string>): void {
    const stmt = this.statement('INSERT INTO unique_values (type, prop, value, id) VALUES (?, ?, ?, ?)');
    for (const [name, value] of Object.entries(props)) {
      if (value !== '' && this.property(type, name)?.hasUniqueValue) stmt.run(type, name, value, id);
    }
  }
}

/** The contact and company of a contact↔company association, else undefined. */
function primaryCompanyLink(fromType: ObjectType, fromId: number, toType: ObjectType, toId: number): { contactId: number; companyId: number } | undefined {
  if (fromType === 'contacts' && toType === 'companies') return { contactId: fromId, companyId: toId };
  if (fromType === 'companies' && toType === 'contacts') return { contactId: toId, companyId: fromId };
  return undefined;
}

function dropEmpty(props: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(props).filter(([, v]) => v !== ''));
}

function checkValue(def: PropertyDefinition, value: string): PropertyProblem | undefined {
  switch (def.type) {
    case 'number':
      return Number.isFinite(Number(value)) && value.trim() !== ''
        ? undefined
        : { name: def.name, error: 'INVALID_INTEGER', message: `${value} was not a valid number.` };
    case 'datetime':
      return /^\d+$/.test(value) || !Number.isNaN(Date.parse(value))
        ? undefined
        : { name: def.name, error: 'INVALID_DATE', message: `${value} was not a valid long or date.` };
    case 'bool':
    case 'enumeration': {
      const v = def.type === 'bool' ? value.toLowerCase() : value;
      return def.options && !def.options.includes(v)
        ? { name: def.name, error: 'INVALID_OPTION', message: `${value} was not one of the allowed options: [${def.options.join(', ')}]` }
        : undefined;
    }
    case 'string':
      return def.format === 'email' && !EMAIL.test(value)
        ? { name: def.name, error: 'INVALID_EMAIL', message: `Email address ${value} is invalid` }
        : undefined;
  }
}
