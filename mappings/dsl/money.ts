const digitsCache = new Map<string, number>();

/** Minor-unit digits of a currency (EUR 2, JPY 0, KWD 3), from the runtime's ICU data. */
export function currencyDigits(currency: string): number {
  let d = digitsCache.get(currency);
  if (d === undefined) {
    d = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
    digitsCache.set(currency, d);
  }
  return d;
}

/**
 * A decimal amount (number or string such as "1234.5", "1,234.50", "-12") → integer minor units,
 * computed on the digits, never through floating-point multiplication.
 */
export function toMinorUnits(amount: unknown, currency: string): number {
  let s: string;
  if (typeof amount === 'number') {
    if (!Number.isFinite(amount)) throw new Error(`amount ${amount} is not a finite number`);
    s = amount.toFixed(currencyDigits(currency) + 2);
  } else if (typeof amount === 'string') {
    s = amount.trim().replace(/[\s,_]/g, '');
  } else {
    throw new Error(`expected an amount as a number or decimal string, got ${typeof amount}`);
  }
  const m = /^([+-]?)(\d+)(?:\.(\d+))?$/.exec(s);
  if (!m) throw new Error(`"${String(amount)}" is not a decimal amount`);
  const digits = currencyDigits(currency);
  const sign = m[1] === '-' ? -1 : 1;
  const whole = m[2] ?? '0';
  const frac = (m[3] ?? '').padEnd(digits + 1, '0');
  const kept = frac.slice(0, digits);
  const roundUp = Number(frac[digits] ?? '0') >= 5 ? 1 : 0; // half away from zero
  const minor = Number(whole) * 10 ** digits + Number(kept === '' ? '0' : kept) + roundUp;
  if (!Number.isSafeInteger(minor)) throw new Error(`amount "${String(amount)}" is too large`);
  return sign * minor;
}

/** Integer minor units → the decimal amount as text with the currency's digits ("1234.50", "-0.05"). */
export function fromMinorUnits(minor: number, currency: string): string {
  if (!Number.isSafeInteger(minor)) throw new Error(`amount ${minor} is not a whole number of minor units`);
  const digits = currencyDigits(currency);
  const abs = String(Math.abs(minor)).padStart(digits + 1, '0');
  const whole = abs.slice(0, abs.length - digits);
  const frac = digits > 0 ? `.${abs.slice(abs.length - digits)}` : '';
  return `${minor < 0 ? '-' : ''}${whole}${frac}`;
}

/**
 * An amount as people write it in `locale` ("1.234,56 €" in de-DE, "$1,234.56" in en-US,
 * "¥1,200,000" in ja-JP) → a plain decimal string ("1234.56"). The locale's group and decimal
 * separators come from ICU; currency symbols, codes and spaces are dropped. Anything else left
 * (two decimal separators, letters) is refused.
 */
export function normalizeLocaleAmount(text: string, locale: string): string {
  const parts = new Intl.NumberFormat(locale).formatToParts(-12345.6);
  const group = parts.find((p) => p.type === 'group')?.value ?? ',';
  const decimal = parts.find((p) => p.type === 'decimal')?.value ?? '.';
  let s = text.replace(/[\s\u00A0\u202F]/g, '').replace(/\p{Sc}/gu, '').replace(/^[A-Z]{3}|[A-Z]{3}$/g, '');
  const negative = /^[-\u2212(]/.test(s) || /-$/.test(s);
  s = s.replace(/^[-\u2212+(]|[)-]$/g, '');
  if (group.trim() === '' || /[\s\u00A0\u202F]/.test(group)) s = s.replace(/'/g, '');
  // Split at the decimal separator first: a group separator after it ("1.234,56" read as en-US)
  // means the text was written in another locale, and is refused rather than read as 1.23.
  const pieces = s.split(decimal);
  pieces[0] = (pieces[0] ?? '').split(group).join('');
  if (pieces.length > 2 || !/^\d+$/.test(pieces[0]) || (pieces.length === 2 && !/^\d+$/.test(pieces[1]!))) {
    throw new Error(`"${text}" is not an amount as written in ${locale} (group "${group}", decimal "${decimal}")`);
  }
  return `${negative ? '-' : ''}${pieces.join('.')}`;
}

/**
 * Minor units as people read them, the currency's digits and the thousands grouped:
 * "1,234.50 EUR", "1,200,000 JPY", "1,234.567 BHD", "-0.05 EUR". For texts people read (approval
 * reasons, CLI and demo output, order summaries); what is written into another system's field
 * uses {@link moneyValue}.
 */
export function formatMoney(minor: number, currency: string): string {
  const plain = fromMinorUnits(minor, currency);
  const negative = plain.startsWith('-');
  const [whole = '', frac] = (negative ? plain.slice(1) : plain).split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+$)/g, ',');
  return `${negative ? '-' : ''}${grouped}${frac === undefined ? '' : `.${frac}`} ${currency}`;
}

/** Minor units as a value written into a text field of another system: "1234.50 EUR", "1200000 JPY". */
export function moneyValue(minor: number, currency: string): string {
  return `${fromMinorUnits(minor, currency)} ${currency}`;
}

/** Whether `v` is a canonical money value ({ amountMinor: integer, currency: ISO 4217 code }). */
export function isMoney(v: unknown): v is { amountMinor: number; currency: string } {
  if (typeof v !== 'object' || v === null) return false;
  const m = v as { amountMinor?: unknown; currency?: unknown };
  return typeof m.amountMinor === 'number' && Number.isSafeInteger(m.amountMinor) && typeof m.currency === 'string' && /^[A-Z]{3}$/.test(m.currency);
}
