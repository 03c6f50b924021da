/** Issue 11, item 8: country names in every language, money as people write it, zero-width characters. */
import { toCountryCode } from '../../mappings/dsl/countries';
import { compileMapping } from '../../mappings/dsl/compile';
import { formatMoney, fromMinorUnits, normalizeLocaleAmount, toMinorUnits } from '../../mappings/dsl/money';
import { approvalReasons, type DealSnapshot } from '../../contracts/orders';

test.each([
  ['中国', 'CN'], ['日本', 'JP'], ['Россия', 'RU'], ['대한민국', 'KR'], ['Deutschland', 'DE'], ['Espagne', 'ES'], ['España', 'ES'],
  ['Brasil', 'BR'], ['Ελλάδα', 'GR'], ['Türkiye', 'TR'], ['مصر', 'EG'], ['Polska', 'PL'],
])('country %s → %s', (name, code) => {
  expect(toCountryCode(name)).toBe(code);
});

test('unknown names stay unknown', () => {
  expect(toCountryCode('Atlantis')).toBeUndefined();
  expect(toCountryCode('中')).toBeUndefined();
});

test.each([
  ['1.234,56 €', 'de-DE', 'EUR', 123456],
  ['$1,234.56', 'en-US', 'USD', 123456],
  ['¥1,200,000', 'ja-JP', 'JPY', 1200000],
  ['1 234,5 €', 'fr-FR', 'EUR', 123450],
  ['1\u202F234,56\u00A0€', 'fr-FR', 'EUR', 123456],
  ["CHF 1'234.50", 'de-CH', 'CHF', 123450],
  ['-12,5 €', 'de-DE', 'EUR', -1250],
  ['BHD 1,234.567', 'en-US', 'BHD', 1234567],
  ['₩1,000', 'ko-KR', 'KRW', 1000],
])('money %j in %s → %i minor %s', (text, locale, currency, minor) => {
  expect(toMinorUnits(normalizeLocaleAmount(text, locale), currency)).toBe(minor);
});

test('an amount that does not fit the locale is refused, not guessed', () => {
  expect(() => normalizeLocaleAmount('1.234,56 €', 'en-US')).toThrow('"1.234,56 €" is not an amount as written in en-US (group ",", decimal ".")');
  expect(() => normalizeLocaleAmount('call us', 'de-DE')).toThrow(/is not an amount/);
});

const mapping = compileMapping(
  {
    name: 't',
    target: 'Product',
    fields: {
      externalKey: { sourceKey: true, from: 'id', transform: ['toString'], required: true },
      sku: { from: 'sku', transform: ['trim'], required: true },
      name: { from: 'name', transform: ['trim'], required: true },
      listPrice: { from: 'price', transform: [{ money: { currencyFrom: 'currency', locale: 'de-DE' } }] },
    },
  },
  't.json',
);

test('the money transform reads under its locale option instead of quarantining', () => {
  const r = mapping.apply({ id: 1, sku: 'A-1', name: 'Widget', price: '1.234,56 €', currency: 'EUR' });
  expect(r).toMatchObject({ ok: true, value: { listPrice: { amountMinor: 123456, currency: 'EUR' } } });
  const bad = mapping.apply({ id: 1, sku: 'A-1', name: 'Widget', price: 'call us', currency: 'EUR' });
  expect(bad.ok).toBe(false);
});

test('a wrong locale in a mapping file is a config error naming it', () => {
  expect(() =>
    compileMapping({ name: 'x', target: 'Product', fields: { listPrice: { from: 'p', transform: [{ money: { currency: 'EUR', locale: 'not a locale!' } }] } } }, 'x.json'),
  ).toThrow(/expected a locale such as "de-DE"/);
});

test('trim removes zero-width characters', () => {
  const r = mapping.apply({ id: 1, sku: '\u200BA-1\uFEFF', name: ' Wid\u200Dget\u2060 ', price: '1,00', currency: 'EUR' });
  expect(r).toMatchObject({ ok: true, value: { sku: 'A-1', name: 'Widget' } });
});

test('minor units ⇄ decimal by the currency digits (JPY 0, KRW 0, BHD 3, EUR 2)', () => {
  expect(formatMoney(1200000, 'JPY')).toBe('1,200,000 JPY');
  expect(formatMoney(1000, 'KRW')).toBe('1,000 KRW');
  expect(formatMoney(1234567, 'BHD')).toBe('1,234.567 BHD');
  expect(formatMoney(-5, 'EUR')).toBe('-0.05 EUR');
  expect(fromMinorUnits(toMinorUnits('1234.567', 'BHD'), 'BHD')).toBe('1234.567');
});

test('approval texts show yen without decimals', () => {
  const deal = { currency: 'JPY', amountMinor: 1_200_000 } as DealSnapshot;
  expect(approvalReasons({ ...deal, lines: [] } as unknown as DealSnapshot, false, { maxAmountMinor: 1_000_000 } as Parameters<typeof approvalReasons>[2])).toContain(
    'amount 1,200,000 JPY above limit 1,000,000 JPY',
  );
});
