import { fromColumnar, toColumnar } from '../../activities/page-codec';
import { compileMapping } from '../../mappings/dsl/compile';

/** The pieces a HubSpot pair side relies on: the mapping `fallback` rule and `deleted` on staged pages. */

const mapping = compileMapping(
  {
    name: 'company',
    target: 'Customer',
    fields: {
      externalKey: { from: 'erp_customer_id', transform: ['trim'], fallback: { from: 'hs_object_id', transform: ['toString'], sourceKey: true }, required: true },
      name: { from: 'name', required: true },
    },
  },
  'company.json',
);

test('a fallback is used only when the field is blank, and only it gets the key prefix', () => {
  expect(mapping.apply({ hs_object_id: 5, name: 'A' }, { keyPrefix: 'HS-' })).toEqual({ ok: true, value: { externalKey: 'HS-5', name: 'A', active: true } });
  expect(mapping.apply({ hs_object_id: 5, erp_customer_id: ' E-1 ', name: 'A' }, { keyPrefix: 'HS-' })).toEqual({ ok: true, value: { externalKey: 'E-1', name: 'A', active: true } });
  expect(mapping.apply({ hs_object_id: 5, erp_customer_id: '', name: 'A' }, { keyPrefix: 'HS-' })).toMatchObject({ value: { externalKey: 'HS-5' } });
  expect(mapping.apply({ name: 'A' }, { keyPrefix: 'HS-' })).toMatchObject({ ok: false, issues: [{ field: 'externalKey', rule: 'required' }] });
  expect(mapping.sourceKeyFields).toEqual(['externalKey']);
});

test('a fallback with an unknown lookup table is refused when the mapping is compiled', () => {
  expect(() =>
    compileMapping({ name: 'x', target: 'Customer', fields: { externalKey: { from: 'a', fallback: { from: 'b', transform: [{ lookup: 'nope' }] } } } }, 'x.json'),
  ).toThrow(/x\.json: fields\.externalKey\.fallback\.transform\[0\]\.lookup: unknown lookup table "nope"/);
});

test('staged pages keep the deleted flag of soft-deleted records, and only theirs', () => {
  const records = [
    { key: '1', modifiedAt: '2026-01-01T00:00:00.000Z', data: { name: 'a' } },
    { key: '2', modifiedAt: '2026-01-01T00:00:01.000Z', data: { name: 'b' }, deleted: true },
  ];
  const page = toColumnar(records);
  expect(page.deleted).toEqual([1]);
  expect(fromColumnar(JSON.parse(JSON.stringify(page)) as typeof page)).toEqual(records);
  expect(toColumnar(records.slice(0, 1))).not.toHaveProperty('deleted');
});
