import { planRisks } from '../../activities/plan-risk';
import { formatMoney, fromMinorUnits, isMoney, moneyValue } from '../../mappings/dsl/money';
import { showValue } from '../../cli/format';

describe('formatMoney: minor units as people read them, by the currency digits', () => {
  test.each([
    [122675, 'EUR', '1,226.75 EUR'],
    [81783, 'EUR', '817.83 EUR'],
    [5, 'EUR', '0.05 EUR'],
    [-123456789, 'EUR', '-1,234,567.89 EUR'],
    [100, 'EUR', '1.00 EUR'],
    [1_200_000, 'JPY', '1,200,000 JPY'],
    [999, 'JPY', '999 JPY'],
    [-1000, 'KRW', '-1,000 KRW'],
    [15_000_000, 'KRW', '15,000,000 KRW'],
    [1_234_567, 'BHD', '1,234.567 BHD'],
    [5, 'BHD', '0.005 BHD'],
    [0, 'BHD', '0.000 BHD'],
  ])('%d %s → %s', (minor, currency, text) => {
    expect(formatMoney(minor, currency)).toBe(text);
  });

  test('a value written into another system keeps the plain decimal (no grouping)', () => {
    expect(moneyValue(250_000, 'EUR')).toBe('2500.00 EUR');
    expect(moneyValue(1_200_000, 'JPY')).toBe('1200000 JPY');
    expect(moneyValue(1_234_567, 'BHD')).toBe('1234.567 BHD');
    expect(fromMinorUnits(1000, 'KRW')).toBe('1000');
  });

  test('refuses amounts that are not whole minor units', () => {
    expect(() => formatMoney(12.5, 'EUR')).toThrow(/not a whole number of minor units/);
  });

  test('isMoney recognises canonical money values only', () => {
    expect(isMoney({ amountMinor: 1, currency: 'EUR' })).toBe(true);
    expect(isMoney({ amountMinor: 1.5, currency: 'EUR' })).toBe(false);
    expect(isMoney({ amountMinor: 1, currency: 'eur' })).toBe(false);
    expect(isMoney(12)).toBe(false);
  });
});

describe('approval texts of watched money fields', () => {
  const policy = { watchFields: ['listPrice.amountMinor'], maxChangePercent: 20, policy: { approvers: ['a'], timeout: '1 day', onTimeout: { action: 'reject' as const } } };
  const upd = (key: string, before: number, after: number, currency: string) => ({
    sourceKey: key,
    op: 'update' as const,
    fields: { listPrice: { amountMinor: after, currency } },
    previous: { listPrice: { amountMinor: before, currency } },
  });

  test.each([
    ['EUR', 81783, 122675, '817.83 EUR → 1,226.75 EUR'],
    ['JPY', 120_000, 180_000, '120,000 JPY → 180,000 JPY'],
    ['KRW', 1_000_000, 2_000_000, '1,000,000 KRW → 2,000,000 KRW'],
    ['BHD', 12_345, 24_690, '12.345 BHD → 24.690 BHD'],
  ])('%s', (currency, before, after, text) => {
    const [reason] = planRisks([upd('7', before, after, currency)], policy);
    expect(reason).toContain(`largest: 7 ${text} (`);
  });

  test('a currency change shows each side in its own currency', () => {
    const change = { sourceKey: '8', op: 'update' as const, fields: { listPrice: { amountMinor: 150_000, currency: 'JPY' } }, previous: { listPrice: { amountMinor: 1000, currency: 'EUR' } } };
    expect(planRisks([change], policy)[0]).toContain('largest: 8 10.00 EUR → 150,000 JPY (');
  });

  test('a watched number that is not money stays a number', () => {
    const p = { ...policy, watchFields: ['stock'] };
    const c = { sourceKey: '9', op: 'update' as const, fields: { stock: 300 }, previous: { stock: 100 } };
    expect(planRisks([c], p)[0]).toContain('largest: 9 100 → 300 (200.0%)');
  });
});

describe('CLI before/after cells', () => {
  test('money objects and watched minor-unit fields read as money', () => {
    expect(showValue({ amountMinor: 122675, currency: 'EUR' })).toBe('1,226.75 EUR');
    expect(showValue({ amountMinor: 1_200_000, currency: 'JPY' })).toBe('1,200,000 JPY');
    expect(showValue({ amountMinor: 1_234_567, currency: 'BHD' })).toBe('1,234.567 BHD');
    expect(showValue(null)).toBe('∅');
    expect(showValue('x')).toBe('x');
    expect(showValue({ a: 1 })).toBe('{"a":1}');
  });
});
