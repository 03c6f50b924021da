import { compileMapping, MappingConfigError } from '../../mappings/dsl/compile';
import { fromMinorUnits, toMinorUnits } from '../../mappings/dsl/money';
import { loadRegistry } from '../../pipelines/load';

const registry = loadRegistry({ env: {} });
const crm = registry.mappings.get('crm-account-to-customer')!;

const account = {
  id: 42,
  company_name: '  Acme Stark GmbH #42 ',
  email: 'Info@Acme42.example',
  phone: '030 901820',
  website: 'https://www.acme42.example',
  vat_id: 'de100000042',
  street: '12 Main Street',
  city: 'berlin',
  zip: '10115',
  country: 'Germany',
  credit_limit: '1234.5',
  currency: 'EUR',
  tier: ' mm ',
  status: 'churned',
};

describe('the way back (mapping `write`): canonical → native', () => {
  test('a CRM account written back from its canonical record reads as the same canonical record', () => {
    const canonical = crm.apply(account);
    if (!canonical.ok) throw new Error(JSON.stringify(canonical.issues));
    const back = crm.write!.toNative(canonical.value, 'all');
    if (!back.ok) throw new Error(JSON.stringify(back.issues));
    expect(back.values).toEqual({
      company_name: 'Acme Stark GmbH #42',
      email: 'info@acme42.example',
      phone: '+4930901820',
      website: 'https://www.acme42.example',
      vat_id: 'DE100000042',
      street: '12 Main Street',
      city: 'Berlin',
      zip: '10115',
      country: 'DE',
      credit_limit: '1234.50',
      currency: 'EUR',
      tier: 'MM',
      status: 'churned',
    });
    const again = crm.apply({ id: 42, ...back.values });
    expect(again).toEqual(canonical);
  });

  test('only the native fields of the changed canonical paths are written', () => {
    const canonical = crm.apply(account);
    if (!canonical.ok) throw new Error('unmapped');
    const record = { ...canonical.value, creditLimit: { amountMinor: 99_900, currency: 'EUR' }, active: true };
    expect(crm.write!.toNative(record, ['creditLimit'])).toEqual({ ok: true, values: { credit_limit: '999.00', currency: 'EUR' } });
    expect(crm.write!.toNative(record, ['creditLimit.amountMinor', 'active'])).toEqual({
      ok: true,
      values: { credit_limit: '999.00', status: 'active' },
    });
    expect(crm.write!.toNative(record, ['address.city'])).toEqual({ ok: true, values: { city: 'Berlin' } });
    expect(crm.write!.toNative(record, ['address'])).toEqual({ ok: true, values: { street: '12 Main Street', city: 'Berlin', zip: '10115', country: 'DE' } });
  });

  test('a field removed on the other side is written as null', () => {
    const canonical = crm.apply(account);
    if (!canonical.ok) throw new Error('unmapped');
    const record = { ...canonical.value };
    delete record.vatNumber;
    expect(crm.write!.toNative(record, ['vatNumber'])).toEqual({ ok: true, values: { vat_id: null } });
  });

  test('a value the way back cannot express is an issue naming the native field', () => {
    const canonical = crm.apply(account);
    if (!canonical.ok) throw new Error('unmapped');
    const r = crm.write!.toNative({ ...canonical.value, segment: 'galactic' }, ['segment']);
    expect(r).toEqual({ ok: false, issues: [{ field: 'segment', rule: 'lookup', message: 'tier: "galactic" is not in lookup table "tierCodes"' }] });
  });

  test('a write rule from a field the canonical entity lacks is refused with its path', () => {
    const spec = { name: 'm', target: 'Customer', fields: { name: { from: 'n' } }, write: { n: { from: 'nickname' } } };
    expect(() => compileMapping(spec, 'm.json')).toThrow(MappingConfigError);
    expect(() => compileMapping(spec, 'm.json')).toThrow('m.json: write.n.from: Customer has no field "nickname"');
  });
});

describe('fromMinorUnits is the inverse of toMinorUnits', () => {
  test.each([
    [123450, 'EUR', '1234.50'],
    [-5, 'EUR', '-0.05'],
    [0, 'EUR', '0.00'],
    [1500, 'JPY', '1500'],
    [1234, 'KWD', '1.234'],
  ])('%i %s → %s', (minor, currency, text) => {
    expect(fromMinorUnits(minor, currency)).toBe(text);
    expect(toMinorUnits(text, currency)).toBe(minor);
  });
});
