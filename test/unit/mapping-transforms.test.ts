import { compileMapping } from '../../mappings/dsl/compile';
import { toCountryCode } from '../../mappings/dsl/countries';
import { parseDate } from '../../mappings/dsl/dates';
import { toMinorUnits } from '../../mappings/dsl/money';

const customer = (fields: Record<string, unknown>, lookups: Record<string, unknown> = {}) =>
  compileMapping({ name: 't', target: 'Customer', lookups, fields: { externalKey: { from: 'id', transform: ['toString'] }, name: { const: 'X' }, ...fields } }, 'test.json');

describe('money', () => {
  test.each([
    ['12.34', 'EUR', 1234],
    ['1,234.5', 'EUR', 123450],
    [0.1 + 0.2, 'EUR', 30],
    ['-5', 'USD', -500],
    ['1999', 'JPY', 1999],
    ['1.005', 'EUR', 101],
    ['2.5', 'JPY', 3],
  ])('%p %s → %p minor units', (amount, cur, minor) => {
    expect(toMinorUnits(amount, cur)).toBe(minor);
  });
  test('refuses what is not an amount', () => {
    expect(() => toMinorUnits('call us', 'EUR')).toThrow('"call us" is not a decimal amount');
  });
});

describe('dates', () => {
  test('parses declared formats and checks the calendar', () => {
    expect(parseDate('31.12.2026', 'DD.MM.YYYY', 'date')).toBe('2026-12-31');
    expect(parseDate('02/03/2026', 'MM/DD/YYYY', 'date')).toBe('2026-02-03');
    expect(parseDate('1767225600', 'epochSeconds', 'datetime')).toBe('2026-01-01T00:00:00.000Z');
    expect(parseDate('2026-05-01T10:00:00+02:00', 'iso', 'datetime')).toBe('2026-05-01T08:00:00.000Z');
    expect(() => parseDate('31.02.2026', 'DD.MM.YYYY', 'date')).toThrow('not a valid calendar date');
    expect(() => parseDate('2026/01/01', 'YYYY-MM-DD', 'date')).toThrow('does not match the date format YYYY-MM-DD');
  });
});

describe('countries', () => {
  test.each([
    ['Germany', 'DE'],
    ['Deutschland', 'DE'],
    ['de', 'DE'],
    ['DEU', 'DE'],
    ['USA', 'US'],
    ['United Kingdom', 'GB'],
    ['Allemagne', 'DE'],
  ])('%s → %s', (name, code) => expect(toCountryCode(name)).toBe(code));
  test('unknown names give undefined', () => expect(toCountryCode('Narnia')).toBeUndefined());
});

describe('compiled mappings', () => {
  test('trim, case, E.164 phone with the country from another field, lookups and defaults', () => {
    const m = customer(
      {
        email: { from: 'mail', transform: ['trim', 'lower'] },
        phone: { from: 'tel', transform: [{ phoneE164: { defaultCountryFrom: 'country' } }] },
        'address.countryCode': { from: 'country', transform: ['countryCode'] },
        'address.city': { from: 'city', transform: ['trim', 'title'] },
        segment: { from: 'tier', transform: ['upper', { lookup: 'tiers' }], default: 'smb' },
      },
      { tiers: { ENT: 'enterprise' } },
    );
    const r = m.apply({ id: 7, mail: ' Ada@Example.COM ', tel: '030 901820', country: 'Germany', city: '  new   york ', tier: null });
    expect(r).toEqual({
      ok: true,
      value: {
        externalKey: '7',
        name: 'X',
        email: 'ada@example.com',
        phone: '+4930901820',
        address: { countryCode: 'DE', city: 'New York' },
        segment: 'smb',
        active: true,
      },
    });
  });

  test('every failing field is reported with its rule', () => {
    const m = customer({
      phone: { from: 'tel', transform: ['phoneE164'] },
      'address.countryCode': { from: 'country', transform: ['countryCode'] },
      vatNumber: { from: 'vat', required: true },
    });
    const r = m.apply({ id: 1, tel: 'call me', country: 'Atlantis' });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.issues).toMatchInlineSnapshot(`
[
  {
    "field": "phone",
    "message": ""call me" is not a valid phone number",
    "rule": "phoneE164",
  },
  {
    "field": "address.countryCode",
    "message": "unknown country "Atlantis"",
    "rule": "countryCode",
  },
  {
    "field": "vatNumber",
    "message": "required value is missing",
    "rule": "required",
  },
]
`);
  });

  test('onError "omit" drops a bad optional field instead of quarantining the record', () => {
    const m = customer({ phone: { from: 'tel', transform: ['phoneE164'], onError: 'omit' } });
    expect(m.apply({ id: 1, tel: 'n/a' })).toEqual({ ok: true, value: { externalKey: '1', name: 'X', active: true } });
  });

  test('the canonical schema validates the mapped record', () => {
    const m = customer({ email: { from: 'mail' } });
    const r = m.apply({ id: 1, mail: 'not-an-email' });
    expect(r).toEqual({ ok: false, issues: [{ field: 'email', rule: 'schema', message: 'Invalid email address' }] });
  });

  test('split names and join several source fields', () => {
    const m = compileMapping(
      {
        name: 'c',
        target: 'Contact',
        fields: {
          externalKey: { const: 'k' },
          customerExternalKey: { const: 'a' },
          firstName: { from: 'n', transform: [{ splitName: 'first' }] },
          lastName: { from: 'n', transform: [{ splitName: 'last' }] },
          jobTitle: { from: ['role', 'dept'], transform: [{ join: ', ' }] },
        },
      },
      'c.json',
    );
    expect(m.apply({ n: 'Mary Ann Smith', role: 'Buyer', dept: null })).toEqual({
      ok: true,
      value: { externalKey: 'k', customerExternalKey: 'a', firstName: 'Mary Ann', lastName: 'Smith', jobTitle: 'Buyer' },
    });
  });

  test('money with the currency from the record', () => {
    const m = customer({ creditLimit: { from: 'limit', transform: [{ money: { currencyFrom: 'cur', currency: 'EUR' } }] } });
    const r = m.apply({ id: 1, limit: '1000.50', cur: 'usd' });
    expect(r.ok && r.value.creditLimit).toEqual({ amountMinor: 100050, currency: 'USD' });
  });
});
