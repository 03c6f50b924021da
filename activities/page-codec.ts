import type { SourceRecord } from '../connectors/types';

/**
 * A staged source page in columnar form: field names once, then one row of values per record.
 * Half the bytes of an array of objects, and cheaper to stringify and parse. A record whose
 * fields differ from the page's columns keeps its object form, so absent and null stay apart.
 */
export interface ColumnarPage {
  columns: string[];
  keys: string[];
  modifiedAts: string[];
  rows: (unknown[] | Record<string, unknown>)[];
  /** Positions of the records flagged `deleted` (absent when none is). */
  deleted?: number[];
}

function sameFields(data: Record<string, unknown>, columns: string[]): boolean {
  const keys = Object.keys(data);
  if (keys.length !== columns.length) return false;
  for (let i = 0; i < keys.length; i++) if (keys[i] !== columns[i] || data[keys[i]!] === undefined) return false;
  return true;
}

export function toColumnar(records: SourceRecord[]): ColumnarPage {
  const columns = records[0] ? Object.keys(records[0].data) : [];
  const deleted = records.flatMap((r, i) => (r.deleted ? [i] : []));
  return {
    columns,
    keys: records.map((r) => r.key),
    modifiedAts: records.map((r) => r.modifiedAt),
    rows: records.map((r) => (sameFields(r.data, columns) ? columns.map((c) => r.data[c]) : r.data)),
    ...(deleted.length ? { deleted } : {}),
  };
}

export function fromColumnar(page: ColumnarPage): SourceRecord[] {
  const deleted = new Set(page.deleted ?? []);
  return page.rows.map((row, n) => {
    let data: Record<string, unknown>;
    if (Array.isArray(row)) {
      data = {};
      for (let i = 0; i < page.columns.length; i++) data[page.columns[i]!] = row[i];
    } else data = row;
    return { key: page.keys[n]!, modifiedAt: page.modifiedAts[n]!, data, ...(deleted.has(n) ? { deleted: true } : {}) };
  });
}
