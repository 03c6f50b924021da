import {
  decimalFromMinor, decodeValue, encodeValue, minorFromDecimal, TrytonDate, TrytonDecimal, TrytonTimedelta,
} from '../../connectors/tryton/codec';

describe('Tryton value codec', () => {
  test('decodes tagged values into wrapper types', () => {
    const decoded = decodeValue({
      price: { __class__: 'Decimal', decimal: '10.50' },
      day: { __class__: 'date', year: 2026, month: 1, day: 5 },
      at: { __class__: 'datetime', year: 2026, month: 11, day: 26, hour: 6, minute: 48, second: 20, microsecond: 820061 },
      wait: { __class__: 'timedelta', seconds: 90 },
      blob: { __class__: 'bytes', base64: 'aGk=' },
      nested: [{ x: { __class__: 'Decimal', decimal: '-1' } }],
    }) as Record<string, unknown>;
    expect(decoded.price).toEqual(new TrytonDecimal('10.50'));
    expect(decoded.day).toEqual(new TrytonDate('2026-01-05'));
    expect((decoded.at as Date).toISOString()).toBe('2026-11-26T06:48:20.820Z');
    expect(decoded.wait).toEqual(new TrytonTimedelta(90));
    expect((decoded.blob as Buffer).toString()).toBe('hi');
    expect(decoded.nested).toEqual([{ x: new TrytonDecimal('-1') }]);
  });

  test('encodes wrapper types and Dates as Tryton expects, dropping undefined', () => {
    expect(encodeValue([{ p: new TrytonDecimal('0.01'), d: new TrytonDate('2026-02-03'), u: undefined }, new Date('2026-11-26T06:48:20.820Z')])).toEqual([
      { p: { __class__: 'Decimal', decimal: '0.01' }, d: { __class__: 'date', year: 2026, month: 2, day: 3 } },
      { __class__: 'datetime', year: 2026, month: 11, day: 26, hour: 6, minute: 48, second: 20, microsecond: 820000 },
    ]);
  });

  test('round-trips values', () => {
    const v = { a: new TrytonDecimal('123.4500'), b: new TrytonDate('2024-02-29'), c: new Date('2020-01-01T00:00:00.001Z'), d: null, e: 'x' };
    expect(decodeValue(JSON.parse(JSON.stringify(encodeValue(v))))).toEqual(v);
  });

  test('rejects malformed decimals and dates', () => {
    expect(() => new TrytonDecimal('1e5')).toThrow('not a decimal string');
    expect(() => new TrytonDate('26/11/2026')).toThrow('not an ISO date');
  });

  test('money: minor units <-> decimals without floating point', () => {
    expect(decimalFromMinor(1250).value).toBe('12.50');
    expect(decimalFromMinor(5).value).toBe('0.05');
    expect(decimalFromMinor(-7).value).toBe('-0.07');
    expect(decimalFromMinor(42, 0).value).toBe('42');
    expect(minorFromDecimal('12.5000')).toBe(1250);
    expect(minorFromDecimal(new TrytonDecimal('0.005'))).toBe(1);
    expect(minorFromDecimal('-0.07')).toBe(-7);
    expect(minorFromDecimal('0')).toBe(0);
    expect(minorFromDecimal('19.99', 4)).toBe(199900);
    expect(() => decimalFromMinor(1.5)).toThrow('integer');
  });
});
