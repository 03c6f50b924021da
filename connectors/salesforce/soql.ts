import type { Cursor } from '../../contracts/cursor';

/**
 * SOQL for keyset reads on SystemModstamp (pure, unit-tested). Salesforce datetimes have
 * second precision, so many records share one SystemModstamp: the order is (SystemModstamp, Id)
 * and a page continues strictly after the last (SystemModstamp, Id) pair it returned.
 * `settledBefore` leaves out the seconds that may still receive writes, so a record changed
 * later in a second the reader already passed cannot fall behind the cursor.
 */

/** `2024-01-31T12:00:00.000+0000` → `2024-01-31T12:00:00.000Z`. */
export function isoFromSalesforce(v: string): string {
  const ms = Date.parse(v.replace(/\+0000$/, 'Z'));
  if (Number.isNaN(ms)) throw new Error(`not a Salesforce datetime: ${v}`);
  return new Date(ms).toISOString();
}

/** A SOQL datetime literal at whole seconds (floor). */
export function soqlDateTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** A SOQL string literal. */
export function soqlString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export interface KeysetQuery {
  sobject: string;
  fields: string[];
  after: Cursor | null;
  /** Only records with SystemModstamp before this instant (ms), floored to the second. */
  settledBefore?: number;
  limit: number;
  /** A fixed SOQL condition every record must meet (an entity's `where`), e.g. `ERP_Id__c = null`. */
  where?: string;
}

export function keysetSoql(q: KeysetQuery): string {
  const select = [...new Set(['Id', 'SystemModstamp', 'IsDeleted', ...q.fields])].join(', ');
  const where: string[] = q.where ? [`(${q.where})`] : [];
  if (q.after) {
    const t = soqlDateTime(Date.parse(q.after.modifiedAt));
    where.push(q.after.key === '' ? `SystemModstamp >= ${t}` : `(SystemModstamp > ${t} OR (SystemModstamp = ${t} AND Id > ${soqlString(q.after.key)}))`);
  }
  if (q.settledBefore !== undefined) where.push(`SystemModstamp < ${soqlDateTime(q.settledBefore)}`);
  return `SELECT ${select} FROM ${q.sobject}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY SystemModstamp ASC, Id ASC LIMIT ${q.limit}`;
}

export function inSoql(sobject: string, fields: string[], field: string, values: string[]): string {
  const select = [...new Set(['Id', 'SystemModstamp', 'IsDeleted', ...fields])].join(', ');
  return `SELECT ${select} FROM ${sobject} WHERE ${field} IN (${values.map(soqlString).join(', ')})`;
}
