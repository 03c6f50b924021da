/**
 * Tryton's JSON-RPC value codec. Tryton encodes non-JSON Python values as objects tagged with
 * `__class__`; we decode them into small wrapper types so that encoding them back is lossless:
 * Decimal stays a decimal string (never a float), a date stays a calendar date, and a datetime is
 * a JS Date holding the naive-UTC instant Tryton stores.
 */

/** A Python Decimal, kept as its exact decimal string. */
export class TrytonDecimal {
  constructor(readonly value: string) {
    if (!/^-?\d+(\.\d+)?$/.test(value)) throw new TypeError(`not a decimal string: ${value}`);
  }
  toString(): string {
    return this.value;
  }
}

/** A Python date (no time, no zone), as `YYYY-MM-DD`. */
export class TrytonDate {
  constructor(readonly iso: string) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(iso)) throw new TypeError(`not an ISO date: ${iso}`);
  }
  toString(): string {
    return this.iso;
  }
}

/** A Python timedelta, in seconds. */
export class TrytonTimedelta {
  constructor(readonly seconds: number) {}
}

type Tagged = { __class__: string } & Record<string, unknown>;

function isTagged(v: unknown): v is Tagged {
  return typeof v === 'object' && v !== null && typeof (v as { __class__?: unknown }).__class__ === 'string';
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);

/** Encodes a value (recursively) for a Tryton RPC call. */
export function encodeValue(value: unknown): unknown {
  if (value instanceof TrytonDecimal) return { __class__: 'Decimal', decimal: value.value };
  if (value instanceof TrytonDate) {
    const [y, m, d] = value.iso.split('-').map(Number);
    return { __class__: 'date', year: y, month: m, day: d };
  }
  if (value instanceof TrytonTimedelta) return { __class__: 'timedelta', seconds: value.seconds };
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new TypeError('invalid Date');
    return {
      __class__: 'datetime',
      year: value.getUTCFullYear(),
      month: value.getUTCMonth() + 1,
      day: value.getUTCDate(),
      hour: value.getUTCHours(),
      minute: value.getUTCMinutes(),
      second: value.getUTCSeconds(),
      microsecond: value.getUTCMilliseconds() * 1000,
    };
  }
  if (Buffer.isBuffer(value)) return { __class__: 'bytes', base64: value.toString('base64') };
  if (Array.isArray(value)) return value.map(encodeValue);
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = encodeValue(v);
    return out;
  }
  return value;
}

/** Decodes a value (recursively) from a Tryton RPC response. */
export function decodeValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(decodeValue);
  if (isTagged(value)) {
    switch (value.__class__) {
      case 'Decimal':
        return new TrytonDecimal(String(value.decimal));
      case 'date':
        return new TrytonDate(`${pad(num(value.year), 4)}-${pad(num(value.month))}-${pad(num(value.day))}`);
      case 'datetime':
        return new Date(
          Date.UTC(
            num(value.year),
            num(value.month) - 1,
            num(value.day),
            num(value.hour),
            num(value.minute),
            num(value.second),
            Math.floor(num(value.microsecond) / 1000),
          ),
        );
      case 'time':
        return `${pad(num(value.hour))}:${pad(num(value.minute))}:${pad(num(value.second))}`;
      case 'timedelta':
        return new TrytonTimedelta(num(value.seconds));
      case 'bytes':
        return Buffer.from(String(value.base64), 'base64');
      default:
        return value;
    }
  }
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = decodeValue(v);
    return out;
  }
  return value;
}

/** Minor units (cents) → Decimal with `digits` decimals, exact. */
export function decimalFromMinor(amountMinor: number, digits = 2): TrytonDecimal {
  if (!Number.isInteger(amountMinor)) throw new TypeError(`amountMinor must be an integer: ${amountMinor}`);
  const neg = amountMinor < 0;
  const s = String(Math.abs(amountMinor)).padStart(digits + 1, '0');
  const body = digits === 0 ? s : `${s.slice(0, s.length - digits)}.${s.slice(s.length - digits)}`;
  return new TrytonDecimal(neg ? `-${body}` : body);
}

/** Decimal → minor units with `digits` decimals, rounding half away from zero. */
export function minorFromDecimal(value: TrytonDecimal | string, digits = 2): number {
  const str = typeof value === 'string' ? value : value.value;
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(str);
  if (!m) throw new TypeError(`not a decimal string: ${str}`);
  const [, sign, int = '0', frac = ''] = m;
  const kept = (frac + '0'.repeat(digits)).slice(0, digits);
  const roundUp = (frac[digits] ?? '0') >= '5';
  const minor = Number(int) * 10 ** digits + Number(kept || '0') + (roundUp ? 1 : 0);
  return sign === '-' && minor !== 0 ? -minor : minor;
}
