import countries from 'i18n-iso-countries';
import { COUNTRY_LOCALES } from './country-langs';

for (const l of COUNTRY_LOCALES) countries.registerLocale(l);
/** English, German and French first (the common cases), then every other language the library ships. */
const LANGS = [...new Set(['en', 'de', 'fr', ...COUNTRY_LOCALES.map((l) => l.locale)])];

/** Common spellings the ISO name tables do not carry. */
const ALIASES: Record<string, string> = {
  usa: 'US',
  'u.s.a.': 'US',
  'u.s.': 'US',
  america: 'US',
  uk: 'GB',
  'u.k.': 'GB',
  england: 'GB',
  scotland: 'GB',
  wales: 'GB',
  'great britain': 'GB',
  holland: 'NL',
  'south korea': 'KR',
  russia: 'RU',
};

const memo = new Map<string, string | undefined>();

/** Country name in any language i18n-iso-countries ships (中国, 日本, Россия), alias, alpha-2 or alpha-3 → ISO 3166-1 alpha-2. */
export function toCountryCode(input: string): string | undefined {
  if (memo.has(input)) return memo.get(input);
  const code = lookup(input);
  if (memo.size < 10_000) memo.set(input, code);
  return code;
}

function lookup(input: string): string | undefined {
  const s = input.trim();
  if (s === '') return undefined;
  if (/^[A-Za-z]{2}$/.test(s) && countries.isValid(s.toUpperCase())) return s.toUpperCase();
  if (/^[A-Za-z]{3}$/.test(s)) {
    const a2 = countries.alpha3ToAlpha2(s.toUpperCase());
    if (a2) return a2;
  }
  const alias = ALIASES[s.toLowerCase()];
  if (alias) return alias;
  for (const lang of LANGS) {
    const code = countries.getAlpha2Code(s, lang);
    if (code) return code;
  }
  return undefined;
}
