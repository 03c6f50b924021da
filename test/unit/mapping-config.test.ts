import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compileMapping } from '../../mappings/dsl/compile';
import { loadRegistry } from '../../pipelines/load';

describe('mapping files fail at compile time naming file, path and fix', () => {
  test('unknown canonical field', () => {
    expect(() => compileMapping({ name: 'm', target: 'Customer', fields: { nmae: { from: 'x' } } }, 'm.json')).toThrow(
      /^m\.json: fields\.nmae: Customer has no field "nmae"; its fields are externalKey, name, /,
    );
  });
  test('unknown lookup table', () => {
    expect(() =>
      compileMapping({ name: 'm', target: 'Customer', lookups: { tiers: {} }, fields: { segment: { from: 's', transform: [{ lookup: 'tier' }] } } }, 'm.json'),
    ).toThrow('m.json: fields.segment.transform[0].lookup: unknown lookup table "tier"; defined tables: tiers');
  });
  test('unknown transform', () => {
    expect(() => compileMapping({ name: 'm', target: 'Customer', fields: { name: { from: 'n', transform: ['strip'] } } }, 'm.json')).toThrow(
      /m\.json: fields\.name\.transform\[0\]: expected one of trim, lower/,
    );
  });
  test('a rule without from or const', () => {
    expect(() => compileMapping({ name: 'm', target: 'Customer', fields: { name: {} } }, 'm.json')).toThrow(
      'm.json: fields.name: a field rule needs "from" (a source field) or "const" (a fixed value)',
    );
  });
});

describe('the shipped config loads', () => {
  test('every pipeline, system and mapping in config/ and mappings/definitions/ is valid', () => {
    const r = loadRegistry({ env: {} });
    expect([...r.pipelines.keys()]).toEqual(expect.arrayContaining(['demo-accounts', 'demo-contacts', 'demo-products']));
  });
});

describe('broken config files name the file and the path', () => {
  function configWith(pipeline: unknown): string {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cfg-'));
    mkdirSync(path.join(dir, 'pipelines'));
    writeFileSync(
      path.join(dir, 'systems.json'),
      JSON.stringify({
        crm: { kind: 'sql', dialect: 'sqlite', path: '${CRM_DB:-crm.db}', entities: { accounts: { table: 'accounts', keyColumn: 'id', modifiedAtColumn: 'updated_at' } } },
      }),
    );
    writeFileSync(path.join(dir, 'pipelines', 'p.json'), typeof pipeline === 'string' ? pipeline : JSON.stringify(pipeline));
    return dir;
  }
  const load = (dir: string) => () => loadRegistry({ configDir: dir, env: {} });
  const good = {
    name: 'p',
    family: 'sql',
    source: { system: 'crm', entity: 'accounts' },
    target: { system: 'crm', entity: 'accounts' },
    mapping: 'crm-account-to-customer',
  };

  test('wrong type', () => {
    const dir = configWith({ ...good, pageSize: 'big' });
    expect(load(dir)).toThrow(`${path.join(dir, 'pipelines', 'p.json')}: pageSize: Invalid input: expected number, received string`);
  });
  test('unknown system, with the known ones', () => {
    const dir = configWith({ ...good, target: { system: 'erp', entity: 'customers' } });
    expect(load(dir)).toThrow('p.json: target.system: unknown system "erp"; systems.json defines crm');
  });
  test('unknown entity', () => {
    const dir = configWith({ ...good, source: { system: 'crm', entity: 'acounts' } });
    expect(load(dir)).toThrow('p.json: source.entity: system "crm" has no entity "acounts"; it has accounts');
  });
  test('unknown mapping', () => {
    const dir = configWith({ ...good, mapping: 'nope' });
    expect(load(dir)).toThrow(/p\.json: mapping: unknown mapping "nope"/);
  });
  test('not JSON', () => {
    const dir = configWith('{ "name": ');
    expect(load(dir)).toThrow(/p\.json: not valid JSON/);
  });
  test('a missing environment variable in systems.json', () => {
    const dir = configWith(good);
    writeFileSync(path.join(dir, 'systems.json'), JSON.stringify({ crm: { kind: 'sql', dialect: 'sqlite', path: '${CRM_DB}', entities: {} } }));
    expect(load(dir)).toThrow('systems.json: crm: environment variable CRM_DB is not set');
  });
});
