import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadRegistry } from '../../pipelines/load';

/** A config folder with the project's mappings, two SQL systems and one pair file. */
function configWithPair(pair: unknown): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pair-cfg-'));
  mkdirSync(path.join(dir, 'pairs'));
  const entity = { table: 't', keyColumn: 'id', modifiedAtColumn: 'updated_at' };
  writeFileSync(
    path.join(dir, 'systems.json'),
    JSON.stringify({
      crm: { kind: 'sql', dialect: 'sqlite', path: 'crm.db', entities: { accounts: entity } },
      erp: { kind: 'sql', dialect: 'sqlite', path: 'erp.db', entities: { customers: entity } },
    }),
  );
  writeFileSync(path.join(dir, 'pairs', 'p.json'), JSON.stringify(pair));
  return dir;
}

const good = {
  name: 'p',
  family: 'sql',
  canonical: 'Customer',
  sides: {
    crm: { system: 'crm', entity: 'accounts', mapping: 'crm-account-to-customer' },
    erp: { system: 'erp', entity: 'customers', mapping: 'erp-customer-to-customer' },
  },
  match: [{ by: 'externalKey' }, { by: 'fields', fields: ['name', 'address.countryCode'] }],
  fields: { name: { owner: 'crm' }, creditLimit: { owner: 'erp' }, default: { owner: 'both', conflict: 'latest-wins' } },
};

const load = (pair: unknown) => () => loadRegistry({ configDir: configWithPair(pair), env: {} });

describe('pair files load with defaults', () => {
  test('a good pair: defaults filled, side order kept', () => {
    const r = loadRegistry({ configDir: configWithPair(good), env: {} });
    const p = r.pairs.get('p')!;
    expect(Object.keys(p.sides)).toEqual(['crm', 'erp']);
    expect(p.sides.crm!.create).toBe(true);
    expect(p.fields.name).toEqual({ owner: 'crm', conflict: 'owner-wins' });
    expect(p.match[1]).toEqual({ by: 'fields', fields: ['name', 'address.countryCode'], normalise: ['trim', 'lower', 'whitespace'] });
    expect(p.deletes).toEqual({ policy: 'ignore', maxPercent: 10 });
    expect(p).toMatchObject({ pageSize: 1000, pagesPerRun: 50 });
  });
  test('the shipped demo pair loads', () => {
    const r = loadRegistry({ env: {} });
    expect(r.pairs.get('demo-customers')).toMatchObject({ canonical: 'Customer', deletes: { policy: 'archive' } });
  });
});

describe('broken pair files name the file, the path and the fix', () => {
  const sides = good.sides;
  test.each<[string, unknown, string | RegExp]>([
    ['three sides', { ...good, sides: { ...sides, hs: sides.crm } }, 'p.json: sides: expected exactly two sides'],
    ['a reserved side name', { ...good, sides: { both: sides.crm, erp: sides.erp } }, /p\.json: sides\.both: "both" and "default" are reserved/],
    ['unknown system', { ...good, sides: { ...sides, erp: { ...sides.erp, system: 'sap' } } }, 'p.json: sides.erp.system: unknown system "sap"; systems.json defines crm, erp'],
    ['unknown entity', { ...good, sides: { ...sides, crm: { ...sides.crm, entity: 'acounts' } } }, 'p.json: sides.crm.entity: system "crm" has no entity "acounts"; it has accounts'],
    ['unknown mapping', { ...good, sides: { ...sides, erp: { ...sides.erp, mapping: 'nope' } } }, /p\.json: sides\.erp\.mapping: unknown mapping "nope"; .* defines /],
    [
      'a mapping into another canonical entity',
      { ...good, sides: { ...sides, erp: { ...sides.erp, mapping: 'crm-contact-to-contact' } } },
      /p\.json: sides\.erp\.mapping: mapping "crm-contact-to-contact" produces Contact, but the pair's canonical entity is Customer; use a mapping into Customer \(.*erp-customer-to-customer/,
    ],
    ['unknown canonical entity', { ...good, canonical: 'Client' }, /p\.json: canonical: unknown canonical entity "Client"; expected one of Customer, Contact/],
    ['a field path not in the canonical schema', { ...good, fields: { ...good.fields, 'address.zip': { owner: 'crm' } } }, /p\.json: fields\.address\.zip: Customer has no field "address\.zip"; its fields are externalKey, name, /],
    ['a match path not in the canonical schema', { ...good, match: [{ by: 'fields', fields: ['vat'] }] }, /p\.json: match\[0\]\.fields\[0\]: Customer has no field "vat"/],
    ['an owner that is no side', { ...good, fields: { ...good.fields, name: { owner: 'hubspot' } } }, 'p.json: fields.name.owner: expected "crm", "erp" or "both", got "hubspot"'],
    ['owner-wins without a single owner', { ...good, fields: { ...good.fields, name: { owner: 'both', conflict: 'owner-wins' } } }, /p\.json: fields\.name\.conflict: a field owned by "both" needs "conflict": "latest-wins" or "manual" \("owner-wins" requires a single owner\)/],
    ['latest-wins with a single owner', { ...good, fields: { ...good.fields, name: { owner: 'crm', conflict: 'latest-wins' } } }, 'p.json: fields.name.conflict: a field owned by one side settles "owner-wins"; use "owner": "both" for "latest-wins"'],
    ['no default entry', { ...good, fields: { name: { owner: 'crm' } } }, /p\.json: fields: add a "default" entry/],
    ['externalKey as a synced field', { ...good, fields: { ...good.fields, externalKey: { owner: 'crm' } } }, /p\.json: fields\.externalKey: externalKey is the link between the records/],
    ['a watched field not in the schema', { ...good, limits: { watchFields: ['credit'] } }, /p\.json: limits\.watchFields\[0\]: Customer has no field "credit"/],
    ['an unknown delete policy', { ...good, deletes: { policy: 'purge' } }, /p\.json: deletes\.policy: Invalid option/],
    ['an unknown family', { ...good, family: 'sap' }, /p\.json: family: Invalid option/],
  ])('%s', (_name, pair, message) => {
    expect(load(pair)).toThrow(message);
  });

  test('archive needs an active field in the canonical entity', () => {
    const contactPair = {
      ...good,
      canonical: 'Contact',
      sides: { crm: { ...sides.crm, mapping: 'crm-contact-to-contact' }, erp: { ...sides.erp, mapping: 'hubspot-contact-to-contact' } },
      match: [{ by: 'externalKey' }],
      fields: { default: { owner: 'both', conflict: 'manual' } },
      deletes: { policy: 'archive' },
    };
    expect(load(contactPair)).toThrow('p.json: deletes.policy: Contact has no "active" field to archive with; use "ignore" or "delete"');
  });
});
