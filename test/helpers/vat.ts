/**
 * A valid German VAT number (USt-IdNr., `DE` + 8 digits + an ISO 7064 MOD 11,10 check digit),
 * distinct for every `n` ≥ 1: Tryton checks `eu_vat` identifiers with python-stdnum.
 */
export function germanVat(n: number): string {
  const digits = String(10_000_000 + n).padStart(8, '0');
  if (digits.length !== 8) throw new Error(`germanVat: ${n} is too large`);
  let p = 10;
  for (const c of digits) {
    let s = (Number(c) + p) % 10;
    if (s === 0) s = 10;
    p = (2 * s) % 11;
  }
  return `DE${digits}${(11 - p) % 10}`;
}
