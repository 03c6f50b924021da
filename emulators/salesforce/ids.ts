/**
 * Salesforce record ids: 15 case-sensitive characters (3-character key prefix, then a
 * fixed-width base-62 counter, so ids of one object sort in creation order) plus the
 * 3-character case-safe suffix of the 18-character form.
 */
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const SUFFIX = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';

export function checksumSuffix(id15: string): string {
  let out = '';
  for (let chunk = 0; chunk < 3; chunk++) {
    let bits = 0;
    for (let i = 0; i < 5; i++) {
      const c = id15.charCodeAt(chunk * 5 + i);
      if (c >= 65 && c <= 90) bits |= 1 << i;
    }
    out += SUFFIX[bits];
  }
  return out;
}

export function makeId(prefix: string, counter: number): string {
  let digits = '';
  let n = counter;
  for (let i = 0; i < 9; i++) {
    digits = BASE62[n % 62] + digits;
    n = Math.floor(n / 62);
  }
  const id15 = `${prefix}Em0${digits}`;
  return id15 + checksumSuffix(id15);
}

/** 15- or 18-character id → the 18-character form, or undefined when malformed. */
export function normalizeId(raw: string): string | undefined {
  if (/^[a-zA-Z0-9]{18}$/.test(raw)) return raw.slice(0, 15) + checksumSuffix(raw.slice(0, 15)) === raw ? raw : undefined;
  if (/^[a-zA-Z0-9]{15}$/.test(raw)) return raw + checksumSuffix(raw);
  return undefined;
}

/** Salesforce datetimes: second precision, `2024-01-31T12:00:00.000+0000`. */
export function sfDateTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('Z', '+0000');
}

/** A SOQL or JSON datetime (`…Z`, `…+0000`, `…+01:00`, with or without millis) in the stored form. */
export function normalizeDateTime(raw: string): string | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d{1,3})?(Z|[+-]\d{2}:?\d{2})$/.exec(raw);
  if (!m) return undefined;
  const zone = m[3] === 'Z' ? 'Z' : `${m[3]!.slice(0, 3)}:${m[3]!.slice(-2)}`;
  const ms = Date.parse(`${m[1]}${m[2] ?? ''}${zone}`);
  if (Number.isNaN(ms)) return undefined;
  return new Date(ms).toISOString().replace('Z', '+0000');
}
