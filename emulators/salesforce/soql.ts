import { parseQuery } from '@jetstreamapp/soql-parser-js';
import type { FieldType as SoqlField, Query, WhereClause, OrderByClause } from '@jetstreamapp/soql-parser-js';
import { invalidField, malformedQuery, sfError } from './errors';
import { normalizeDateTime, normalizeId } from './ids';
import { fieldOf, sobjectOf, SYSTEM_COLUMNS } from './schema';
import type { FieldDef, SObjectDef } from './schema';

/**
 * SOQL → SQLite. The query is parsed by @jetstreamapp/soql-parser-js; the emulator supports
 * the subset the contract needs (plain fields, WHERE with AND/OR/NOT and parentheses,
 * = != < <= > >= LIKE IN NOT IN on strings, numbers, booleans, dates and datetimes, ORDER BY,
 * LIMIT, OFFSET) and refuses the rest with MALFORMED_QUERY rather than answering wrongly.
 */
export interface CompiledQuery {
  sobject: SObjectDef;
  /** Selected fields, canonical names, in SELECT order. */
  fields: FieldDef[];
  /** `SELECT id FROM records WHERE …  ORDER BY … LIMIT …` with its parameters. */
  sql: string;
  params: unknown[];
}

function column(f: FieldDef): string {
  // Field names are letters, digits and underscores (checked against the describe), and the
  // expression is spelled as in the store's index on ERP_Id__c so SQLite uses it.
  return SYSTEM_COLUMNS[f.name] ?? `json_extract(data, '$.${f.name}')`;
}

function fieldNamed(o: SObjectDef, raw: string): FieldDef {
  const name = raw.includes('.') && raw.split('.')[0]?.toLowerCase() === o.name.toLowerCase() ? raw.split('.').slice(1).join('.') : raw;
  const f = fieldOf(o, name);
  if (!f) {
    throw invalidField(`\n${raw}\n^\nERROR at Row:1:Column:1\nNo such column '${raw}' on entity '${o.name}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name.`);
  }
  return f;
}

function literal(f: FieldDef, raw: string, type: string | undefined): unknown {
  switch (type) {
    case 'STRING': {
      const s = raw.replace(/^'|'$/g, '').replace(/\\(.)/g, '$1');
      if (f.type === 'id' || f.type === 'reference') return normalizeId(s) ?? s;
      return s;
    }
    case 'INTEGER': case 'DECIMAL': return Number(raw);
    case 'BOOLEAN': return raw.toLowerCase() === 'true' ? 1 : 0;
    case 'DATETIME': {
      const d = normalizeDateTime(raw);
      if (d === undefined) throw malformedQuery(`value of filter criterion for field '${f.name}' must be of type dateTime`);
      return d;
    }
    case 'DATE': return raw;
    default: throw malformedQuery(`unsupported literal ${raw} for field '${f.name}'`);
  }
}

function typeCheck(f: FieldDef, type: string | undefined, raw: string): void {
  const numeric = f.type === 'double' || f.type === 'currency' || f.type === 'int';
  const ok =
    type === 'NULL' ||
    (type === 'STRING' && !numeric && f.type !== 'datetime' && f.type !== 'date' && f.type !== 'boolean') ||
    ((type === 'INTEGER' || type === 'DECIMAL') && numeric) ||
    (type === 'BOOLEAN' && f.type === 'boolean') ||
    (type === 'DATETIME' && f.type === 'datetime') ||
    (type === 'DATE' && f.type === 'date');
  if (!ok) throw invalidField(`value of filter criterion for field '${f.name}' must be of type ${f.type} and should not be enclosed in quotes: ${raw}`);
}

function condition(o: SObjectDef, where: WhereClause, params: unknown[]): string {
  const parts: string[] = [];
  const left = where.left;
  if (left !== null) {
    if (!('field' in left) || 'valueQuery' in left || 'dateLiteralVariable' in left) throw malformedQuery('only field comparisons are supported in WHERE');
    const f = fieldNamed(o, left.field);
    const col = column(f);
    const caseless = !SYSTEM_COLUMNS[f.name] && f.type !== 'reference' ? ' COLLATE NOCASE' : '';
    const open = '('.repeat(left.openParen ?? 0);
    const close = ')'.repeat(left.closeParen ?? 0);
    const types = Array.isArray(left.literalType) ? left.literalType : [left.literalType];
    let sql: string;
    if (left.operator === 'IN' || left.operator === 'NOT IN') {
      const values = Array.isArray(left.value) ? left.value : [left.value];
      values.forEach((v, i) => {
        typeCheck(f, types[i] ?? types[0], v);
        params.push(literal(f, v, types[i] ?? types[0]));
      });
      sql = `${col}${caseless} ${left.operator} (${values.map(() => '?').join(', ')})`;
    } else {
      const raw = Array.isArray(left.value) ? String(left.value[0]) : left.value;
      const type = types[0];
      typeCheck(f, type, raw);
      if (type === 'NULL') {
        if (left.operator !== '=' && left.operator !== '!=') throw malformedQuery(`null can only be compared with = or !=`);
        sql = `${col} IS ${left.operator === '=' ? '' : 'NOT '}NULL`;
      } else if (left.operator === 'LIKE') {
        params.push(literal(f, raw, type));
        sql = `${col} LIKE ?`;
      } else if (['=', '!=', '<', '<=', '>', '>='].includes(left.operator)) {
        params.push(literal(f, raw, type));
        const op = left.operator === '!=' ? 'IS NOT' : left.operator;
        sql = `${col}${caseless} ${op} ?`;
      } else throw malformedQuery(`unsupported operator ${left.operator}`);
    }
    parts.push(`${open}${sql}${close}`);
  }
  if ('operator' in where && where.operator) {
    const right = (where as { right?: WhereClause }).right;
    if (!right) throw malformedQuery(`unexpected end of WHERE after ${where.operator}`);
    parts.push(where.operator, condition(o, right, params));
  }
  return parts.join(' ');
}

function orderBy(o: SObjectDef, clause: OrderByClause | OrderByClause[] | undefined): string {
  const list = clause === undefined ? [] : Array.isArray(clause) ? clause : [clause];
  if (list.length === 0) return 'ORDER BY id';
  return `ORDER BY ${list
    .map((c) => {
      if (!('field' in c)) throw malformedQuery('ORDER BY supports fields only');
      const f = fieldNamed(o, c.field);
      const dir = c.order ?? 'ASC';
      const nulls = c.nulls ?? (dir === 'ASC' ? 'FIRST' : 'LAST');
      return `${column(f)}${!SYSTEM_COLUMNS[f.name] && (f.type === 'string' || f.type === 'picklist') ? ' COLLATE NOCASE' : ''} ${dir} NULLS ${nulls}`;
    })
    .join(', ')}, id`;
}

function selected(o: SObjectDef, fields: SoqlField[] | undefined): FieldDef[] {
  if (!fields || fields.length === 0) throw malformedQuery('SELECT needs at least one field');
  return fields.map((f) => {
    if (f.type !== 'Field') throw malformedQuery(`unsupported SELECT item of type ${f.type} (the emulator selects plain fields)`);
    return fieldNamed(o, f.field);
  });
}

export function compileSoql(soql: string, scanAll: boolean): CompiledQuery {
  let q: Query;
  try {
    q = parseQuery(soql);
  } catch (err) {
    throw malformedQuery(`${soql}\n^\nERROR at Row:1:Column:1\n${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
  }
  if (!q.sObject) throw malformedQuery('FROM needs an sObject');
  const o = sobjectOf(q.sObject);
  if (!o) throw sfInvalidType(q.sObject);
  if (q.groupBy || q.having) throw malformedQuery('GROUP BY and HAVING are not supported by the emulator');
  const fields = selected(o, q.fields);
  const params: unknown[] = [o.name];
  const where = q.where ? ` AND (${condition(o, q.where, params)})` : '';
  const limit = q.limit !== undefined ? ` LIMIT ${Math.trunc(q.limit)}` : q.offset !== undefined ? ' LIMIT -1' : '';
  const offset = q.offset !== undefined ? ` OFFSET ${Math.trunc(q.offset)}` : '';
  const sql = `SELECT id FROM records WHERE sobject = ?${scanAll ? '' : ' AND is_deleted = 0'}${where} ${orderBy(o, q.orderBy)}${limit}${offset}`;
  return { sobject: o, fields, sql, params };
}

function sfInvalidType(name: string): Error {
  return invalidTypeError(`\nSELECT ... FROM ${name}\n^\nERROR at Row:1:Column:1\nsObject type '${name}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name.`);
}

const invalidTypeError = (message: string): Error => sfError(400, 'INVALID_TYPE', message);
