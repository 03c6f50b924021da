function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

function checkedDate(y: number, m: number, d: number, raw: string): Date {
  const date = new Date(Date.UTC(y, m - 1, d));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== m - 1 || date.getUTCDate() !== d) {
    throw new Error(`"${raw}" is not a valid calendar date`);
  }
  return date;
}

/** Parse a date in a declared format; returns an ISO date (YYYY-MM-DD) or datetime (UTC). */
export function parseDate(value: unknown, format: string, output: 'date' | 'datetime'): string {
  let date: Date;
  const raw = String(value).trim();
  const parts = (re: RegExp): number[] => {
    const m = re.exec(raw);
    if (!m) throw new Error(`"${raw}" does not match the date format ${format}`);
    return m.slice(1).map(Number);
  };
  switch (format) {
    case 'epochMillis':
    case 'epochSeconds': {
      const n = Number(raw);
      if (!Number.isFinite(n) || raw === '') throw new Error(`"${raw}" is not an epoch number`);
      date = new Date(format === 'epochSeconds' ? n * 1000 : n);
      break;
    }
    case 'YYYY-MM-DD': {
      const [y, m, d] = parts(/^(\d{4})-(\d{1,2})-(\d{1,2})$/);
      date = checkedDate(y!, m!, d!, raw);
      break;
    }
    case 'DD.MM.YYYY': {
      const [d, m, y] = parts(/^(\d{1,2})\.(\d{1,2})\.(\d{4})$/);
      date = checkedDate(y!, m!, d!, raw);
      break;
    }
    case 'MM/DD/YYYY': {
      const [m, d, y] = parts(/^(\d{1,2})\/(\d{1,2})\/(\d{4})$/);
      date = checkedDate(y!, m!, d!, raw);
      break;
    }
    case 'DD/MM/YYYY': {
      const [d, m, y] = parts(/^(\d{1,2})\/(\d{1,2})\/(\d{4})$/);
      date = checkedDate(y!, m!, d!, raw);
      break;
    }
    default: {
      // iso: a date or a datetime with an offset
      if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(raw)) {
        throw new Error(`"${raw}" is not an ISO-8601 date`);
      }
      date = new Date(raw.length === 10 ? `${raw}T00:00:00Z` : raw);
    }
  }
  if (Number.isNaN(date.getTime())) throw new Error(`"${raw}" is not a valid date`);
  if (output === 'datetime') return date.toISOString();
  return `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}`;
}
