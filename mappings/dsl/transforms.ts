import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/min';
import { toCountryCode } from './countries';
import { parseDate } from './dates';
import { fromMinorUnits, normalizeLocaleAmount, toMinorUnits } from './money';
import type { Transform } from './spec';
import { readPath } from '../record-path';

/** A transform refused its input: the record is quarantined (or the field omitted). */
export class TransformError extends Error {
  constructor(
    readonly rule: string,
    message: string,
  ) {
    super(message);
  }
}

export interface TransformContext {
  /** The whole source record, for options such as `defaultCountryFrom`. */
  record: Record<string, unknown>;
  lookups: Record<string, Record<string, unknown>>;
}

export type CompiledTransform = (value: unknown, ctx: TransformContext) => unknown;


const str = (v: unknown): string => (typeof v === 'string' ? v : String(v));
const isBlank = (v: unknown): boolean => v === null || v === undefined || (typeof v === 'string' && v.trim() === '');

function phone(defaultCountry?: string, defaultCountryFrom?: string): CompiledTransform {
  return (v, ctx) => {
    let country = defaultCountry?.toUpperCase();
    if (defaultCountryFrom) {
      const raw = readPath(ctx.record, defaultCountryFrom);
      if (!isBlank(raw)) country = toCountryCode(str(raw)) ?? country;
    }
    const parsed = parsePhoneNumberFromString(str(v), country as CountryCode | undefined);
    if (!parsed || !parsed.isValid()) {
      throw new TransformError('phoneE164', `"${str(v)}" is not a valid phone number${country ? ` for ${country}` : ''}`);
    }
    return parsed.number;
  };
}

function simple(name: string): CompiledTransform {
  switch (name) {
    case 'trim':
      // Zero-width characters (ZWSP, ZWNJ, ZWJ, word joiner, BOM) pasted from web pages and spreadsheets go too.
      return (v) => (typeof v === 'string' ? v.replace(/[\u200B-\u200D\u2060\uFEFF]/g, '').trim().replace(/\s+/g, ' ') : v);
    case 'lower':
      return (v) => str(v).toLowerCase();
    case 'upper':
      return (v) => str(v).toUpperCase();
    case 'title':
      return (v) => str(v).toLowerCase().replace(/(^|[\s'-])(\p{L})/gu, (_m, p: string, c: string) => p + c.toUpperCase());
    case 'toString':
      return (v) => str(v);
    case 'toNumber':
      return (v) => {
        const n = typeof v === 'number' ? v : Number(str(v).trim());
        if (!Number.isFinite(n)) throw new TransformError('toNumber', `"${str(v)}" is not a number`);
        return n;
      };
    case 'toInteger':
      return (v) => {
        const n = typeof v === 'number' ? v : Number(str(v).trim());
        if (!Number.isInteger(n)) throw new TransformError('toInteger', `"${str(v)}" is not a whole number`);
        return n;
      };
    case 'toBoolean':
      return (v) => {
        if (typeof v === 'boolean') return v;
        const s = str(v).trim().toLowerCase();
        if (['1', 'true', 'yes', 'y', 'on', 'active'].includes(s)) return true;
        if (['0', 'false', 'no', 'n', 'off', 'inactive'].includes(s)) return false;
        throw new TransformError('toBoolean', `"${str(v)}" is not a yes/no value`);
      };
    case 'emptyToNull':
      return (v) => (isBlank(v) ? null : v);
    case 'countryCode':
      return (v) => {
        const code = toCountryCode(str(v));
        if (!code) throw new TransformError('countryCode', `unknown country "${str(v)}"`);
        return code;
      };
    case 'phoneE164':
      return phone();
    case 'moneyToDecimal':
      return (v) => {
        const m = v as { amountMinor?: unknown; currency?: unknown } | null;
        if (!m || typeof m !== 'object' || typeof m.amountMinor !== 'number' || typeof m.currency !== 'string') {
          throw new TransformError('moneyToDecimal', `expected {amountMinor, currency}, got ${JSON.stringify(v)}`);
        }
        return fromMinorUnits(m.amountMinor, m.currency);
      };
    default:
      throw new Error(`unknown transform ${name}`);
  }
}

export function compileTransform(t: Transform): CompiledTransform {
  if (typeof t === 'string') return simple(t);
  if ('phoneE164' in t) return phone(t.phoneE164.defaultCountry, t.phoneE164.defaultCountryFrom);
  if ('split' in t) {
    const { separator, index } = t.split;
    return (v) => str(v).split(separator).at(index)?.trim();
  }
  if ('splitName' in t) {
    const first = t.splitName === 'first';
    return (v) => {
      const parts = str(v).trim().split(/\s+/);
      if (parts.length === 1) return first ? undefined : parts[0];
      return first ? parts.slice(0, -1).join(' ') : parts.at(-1);
    };
  }
  if ('join' in t) {
    const sep = t.join;
    return (v) => (Array.isArray(v) ? v.filter((x) => !isBlank(x)).map(str).join(sep) : v);
  }
  if ('truncate' in t) {
    const n = t.truncate;
    return (v) => str(v).slice(0, n);
  }
  if ('money' in t) {
    const { currency, currencyFrom, locale } = t.money;
    return (v, ctx) => {
      const fromRecord = currencyFrom ? readPath(ctx.record, currencyFrom) : undefined;
      const cur = (isBlank(fromRecord) ? currency : str(fromRecord).trim())?.toUpperCase();
      if (!cur || !/^[A-Z]{3}$/.test(cur)) throw new TransformError('money', `missing or invalid currency "${cur ?? ''}"`);
      try {
        return { amountMinor: toMinorUnits(locale && typeof v === 'string' ? normalizeLocaleAmount(v, locale) : v, cur), currency: cur };
      } catch (e) {
        throw new TransformError('money', (e as Error).message);
      }
    };
  }
  if ('date' in t) {
    const { format, output } = t.date;
    return (v) => {
      try {
        return parseDate(v, format, output);
      } catch (e) {
        throw new TransformError('date', (e as Error).message);
      }
    };
  }
  if ('valueMap' in t) {
    const { map } = t.valueMap;
    const hasDefault = 'default' in t.valueMap && t.valueMap.default !== undefined;
    const fallback = t.valueMap.default;
    return (v) => {
      const k = str(v);
      if (Object.prototype.hasOwnProperty.call(map, k)) return map[k];
      if (hasDefault) return fallback;
      throw new TransformError('valueMap', `"${k}" is not one of ${Object.keys(map).map((x) => `"${x}"`).join(', ')}`);
    };
  }
  const table = t.lookup;
  return (v, ctx) => {
    const k = str(v);
    const values = ctx.lookups[table] ?? {};
    if (Object.prototype.hasOwnProperty.call(values, k)) return values[k];
    throw new TransformError('lookup', `"${k}" is not in lookup table "${table}"`);
  };
}

export { isBlank };
