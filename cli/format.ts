import { formatMoney, isMoney } from '../mappings/dsl/money';
/**
 * A before/after value for people: money objects ({ amountMinor, currency }) and minor-unit numbers
 * with a known currency by the currency's digits ("1,226.75 EUR", "1,200,000 JPY"), null as "∅",
 * strings as they are, anything else as JSON.
 */
export function showValue(v: unknown, currency?: string): string {
  if (v === null || v === undefined) return '∅';
  if (typeof v === 'string') return v;
  if (isMoney(v)) return formatMoney(v.amountMinor, v.currency);
  if (currency && typeof v === 'number' && Number.isSafeInteger(v)) return formatMoney(v, currency);
  return JSON.stringify(v);
}

/** Plain-text tables for people; numbers right-aligned, empty cells as "-". */
export function table(headers: string[], rows: (string | number | null | undefined)[][]): string {
  const cells = rows.map((r) => r.map((c) => (c === null || c === undefined || c === '' ? '-' : String(c))));
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number' || r[i] === null || r[i] === undefined));
  const width = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (numeric[i] ? c.padStart(width[i]!) : c.padEnd(width[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...cells.map(line)].join('\n');
}

/** "12.3 s", "4 min 05 s", "2 h 03 min". */
export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/** ISO time without milliseconds, in UTC: 2026-05-01 12:00:03Z. */
export function when(iso: string | Date | null | undefined): string {
  if (!iso) return '-';
  const d = typeof iso === 'string' ? new Date(iso) : iso;
  return Number.isNaN(d.getTime()) ? String(iso) : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** At most `n` characters, with an ellipsis. */
export function clip(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}
