import { loadRegistry } from '../../pipelines/load';
import { planRecord } from '../../mappings/two-way/planner';
import { compilePairPolicy } from '../../mappings/two-way/policy';

/**
 * The shipped pair config/pairs/hubspot-tryton-parties.json and its two mappings: a record
 * written from one side and read back on the other maps to the same canonical Customer, so the
 * planner finds nothing to write (no echo caused by a normalising transform).
 */

const registry = loadRegistry({ env: {} });
const pair = registry.pairs.get('hubspot-tryton-parties')!;
const hubspot = registry.mappings.get('hubspot-company-to-tryton-party-pair')!;
const tryton = registry.mappings.get('tryton-party-to-customer')!;

/** A Tryton party's native data as the parties entity reads it, from native values written. */
const asRead = (values: Record<string, unknown>, id: number) => ({
  id,
  code: `CRM-${String(values.external_key)}`,
  create_date: '2026-01-01T00:00:00.000Z',
  write_date: null,
  ...values,
  active: values.active ?? true,
});

test('the pair loads: sides, ownership, archive policy', () => {
  expect(Object.keys(pair.sides)).toEqual(['hubspot', 'tryton']);
  expect(pair.sides.tryton).toMatchObject({ entity: 'parties', softDelete: { field: 'active', equals: false } });
  expect([pair.fields.name!.owner, pair.fields.address!.owner, pair.fields.vatNumber!.owner, pair.fields.active!.owner]).toEqual(['hubspot', 'hubspot', 'tryton', 'tryton']);
  expect(pair.deletes.policy).toBe('archive');
});

test('a HubSpot company created as a party maps back to the same canonical record; nothing to plan after', () => {
  const company = { hs_object_id: '77', name: ' Acme  GmbH ', domain: 'Acme.example', phone: '040 901820', address: 'Harbour Road 1', city: 'hamburg', zip: '20001', country: 'Germany' };
  const a = hubspot.apply(company, { keyPrefix: 'HS-' });
  if (!a.ok) throw new Error(JSON.stringify(a.issues));
  expect(a.value.externalKey).toBe('HS-77');
  const native = tryton.write!.toNative(a.value, 'all');
  if (!native.ok) throw new Error(JSON.stringify(native.issues));
  expect(native.values).toMatchObject({ external_key: 'HS-77', name: 'Acme GmbH', phone: '+4940901820', country: 'DE', city: 'Hamburg', vat: null });
  const b = tryton.apply(asRead(native.values, 5));
  expect(b).toEqual({ ok: true, value: a.value });

  const policy = compilePairPolicy(pair);
  const link = planRecord(policy, { sides: { hubspot: { key: '77', fields: a.value, modifiedAt: 'x' } }, link: null }).link;
  const again = planRecord(policy, {
    sides: { hubspot: { key: '77', fields: a.value, modifiedAt: 'x' }, tryton: { key: '5', fields: b.ok ? b.value : {}, modifiedAt: 'y' } },
    link: { fields: link.fields, deletedSides: [], tombstone: null },
  });
  expect([again.outcome, again.patches]).toEqual(['unchanged', {}]);
});

test('a party made in Tryton (TRY-<id>) created as a company carries its key and VAT number back', () => {
  const party = { id: 9, code: '9', external_key: 'TRY-9', name: 'Tryton Party', vat: 'de136695976', country: 'FR', phone: '+33 1 00 00 00 00', active: true };
  const t = tryton.apply(party);
  if (!t.ok) throw new Error(JSON.stringify(t.issues));
  const native = hubspot.write!.toNative(t.value, 'all');
  if (!native.ok) throw new Error(JSON.stringify(native.issues));
  expect(native.values).toMatchObject({ erp_customer_id: 'TRY-9', erp_vat_number: 'DE136695976', country: 'FR', erp_active: true });
  const props = Object.fromEntries(Object.entries(native.values).filter(([, v]) => v !== null).map(([k, v]) => [k, String(v)]));
  expect(hubspot.apply({ ...props, hs_object_id: '501' }, { keyPrefix: 'HS-' })).toEqual({ ok: true, value: t.value });
});
