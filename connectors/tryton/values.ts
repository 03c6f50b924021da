import { TrytonDate, TrytonDecimal, TrytonTimedelta } from './codec';

/** A row from `read`/`search_read`: Tryton field names, dotted reads under `"<field>."`. */
export type Row = Record<string, unknown> & { id: number };

/** Converts decoded Tryton values into JSON-safe ones for SourceRecord.data. */
export function plain(value: unknown): unknown {
  if (value instanceof TrytonDecimal) return value.value;
  if (value instanceof TrytonDate) return value.iso;
  if (value instanceof TrytonTimedelta) return value.seconds;
  if (value instanceof Date) return value.toISOString();
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** SQLite returns booleans as 0/1. */
export function bool(v: unknown): boolean {
  return v === true || v === 1;
}

export function nested(row: Row, field: string): Row | undefined {
  const v = row[`${field}.`];
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Row) : undefined;
}

export function nestedList(row: Row, field: string): Row[] {
  const v = row[`${field}.`];
  return Array.isArray(v) ? (v as Row[]).slice().sort((a, b) => a.id - b.id) : [];
}

/** Last change of a row (6.0 left write_date NULL until the first write; 8.0 fills it at creation). */
export function modifiedAt(row: Row): Date {
  const w = row.write_date;
  const c = row.create_date;
  if (w instanceof Date) return w;
  if (c instanceof Date) return c;
  return new Date(0);
}

export function ids(keys: string[]): number[] {
  return keys.map(Number).filter((n) => Number.isInteger(n) && n > 0);
}
