import { compileMapping } from '../../mappings/dsl/compile';
import { compileTransform, type TransformContext } from '../../mappings/dsl/transforms';
import type { Transform } from '../../mappings/dsl/spec';

const ctx: TransformContext = { record: {}, lookups: {} };
const run = (t: Transform, v: unknown) => compileTransform(t)(v, ctx);

describe('transforms', () => {
  test('toInteger accepts whole numbers (as numbers or text) and refuses the rest', () => {
    expect(run('toInteger', ' 42 ')).toBe(42);
    expect(run('toInteger', 7)).toBe(7);
    expect(run('toInteger', '-3')).toBe(-3);
    expect(() => run('toInteger', '4.5')).toThrow('"4.5" is not a whole number');
    expect(() => run('toInteger', 'ten')).toThrow('"ten" is not a whole number');
  });

  test('toBoolean knows the yes/no spellings and refuses others', () => {
    for (const yes of ['1', 'true', 'YES', ' y ', 'on', 'Active', true]) expect([yes, run('toBoolean', yes)]).toEqual([yes, true]);
    for (const no of ['0', 'false', 'No', 'n', 'OFF', 'inactive', false]) expect([no, run('toBoolean', no)]).toEqual([no, false]);
    expect(() => run('toBoolean', 'maybe')).toThrow('"maybe" is not a yes/no value');
  });

  test('emptyToNull turns blank text into null and keeps everything else', () => {
    expect(run('emptyToNull', '')).toBeNull();
    expect(run('emptyToNull', '   ')).toBeNull();
    expect(run('emptyToNull', 'x')).toBe('x');
    expect(run('emptyToNull', 0)).toBe(0);
  });

  test('split picks the part at index (negative from the end), trimmed', () => {
    expect(run({ split: { separator: ',', index: 0 } }, 'Berlin , Germany')).toBe('Berlin');
    expect(run({ split: { separator: ',', index: 1 } }, 'Berlin , Germany')).toBe('Germany');
    expect(run({ split: { separator: '/', index: -1 } }, 'a/b/c')).toBe('c');
    expect(run({ split: { separator: ',', index: 3 } }, 'a,b')).toBeUndefined();
  });

  test('truncate keeps at most n characters', () => {
    expect(run({ truncate: 5 }, 'Hamburg')).toBe('Hambu');
    expect(run({ truncate: 10 }, 'Kiel')).toBe('Kiel');
  });

  test('valueMap maps listed values, falls back to its default, refuses the rest without one', () => {
    const map = { A: 'active', I: 'inactive' };
    expect(run({ valueMap: { map } }, 'A')).toBe('active');
    expect(run({ valueMap: { map, default: 'unknown' } }, 'Z')).toBe('unknown');
    expect(() => run({ valueMap: { map } }, 'Z')).toThrow('"Z" is not one of "A", "I"');
    // a key inherited from Object.prototype is not a listed value
    expect(() => run({ valueMap: { map } }, 'toString')).toThrow('is not one of');
  });

  test('in a mapping, a refusing transform quarantines the field with its rule', () => {
    const m = compileMapping(
      {
        name: 't',
        target: 'Product',
        fields: {
          externalKey: { from: 'id', transform: ['toString'] },
          sku: { from: 'sku', transform: ['trim', { truncate: 4 }] },
          name: { from: 'name', transform: [{ split: { separator: '|', index: 0 } }] },
          active: { from: 'active', transform: ['toBoolean'] },
          'listPrice.amountMinor': { from: 'cents', transform: ['toInteger'] },
          'listPrice.currency': { from: 'cur', transform: [{ valueMap: { map: { euro: 'EUR' }, default: 'USD' } }] },
          description: { from: 'desc', transform: ['trim', 'emptyToNull'], default: 'none' },
        },
      },
      't.json',
    );
    expect(m.apply({ id: 1, sku: ' ABCDEF ', name: 'Chair | oak', active: 'yes', cents: '1250', cur: 'euro', desc: '   ' })).toEqual({
      ok: true,
      value: expect.objectContaining({ sku: 'ABCD', name: 'Chair', active: true, listPrice: { amountMinor: 1250, currency: 'EUR' }, description: 'none' }),
    });
    const bad = m.apply({ id: 2, sku: 'X', name: 'Y', active: 'perhaps', cents: '12.5', cur: 'yen' });
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.issues.map((i) => [i.field, i.rule])).toEqual([
      ['active', 'toBoolean'],
      ['listPrice.amountMinor', 'toInteger'],
    ]);
  });
});
