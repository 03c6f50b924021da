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
