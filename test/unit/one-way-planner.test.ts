import type { Link, LinkField } from '../../contracts/link';
import { stableHash } from '../../contracts/stable-json';
import { oneWayPolicy, planOneWay, type OneWayInput, type OneWaySpace } from '../../mappings/two-way/one-way';

const SPACE: OneWaySpace = { space: 'p', sourceSide: 'crm', targetSide: 'erp', units: ['name', 'email', 'address', 'segment'] };
const POLICY = oneWayPolicy(SPACE);
const NOW = { externalKey: '1', name: 'Acme', email: 'a@acme.test', address: { city: 'Berlin', countryCode: 'DE' }, segment: 'smb' };

const field = (value: unknown, origin = 'crm'): LinkField => ({ hash: stableHash(value ?? null), value: value ?? null, origin });
const synced = (values: Record<string, unknown>): Record<string, LinkField> => Object.fromEntries(Object.entries(values).map(([k, v]) => [k, field(v)]));
const link = (over: Partial<Link> = {}): OneWayInput['link'] => ({ keys: { crm: '1', erp: '17' }, fields: {}, tombstone: null, ...over });
const plan = (fields: Record<string, unknown>, l: OneWayInput['link'], sourceHash = 'h-now') => planOneWay(SPACE, POLICY, { source: { key: '1', fields }, sourceHash, link: l });
const UNITS: Record<string, unknown> = Object.fromEntries(Object.entries(NOW).filter(([k]) => k !== 'externalKey'));

describe('planOneWay: a one-way pipeline on the two-way planner', () => {
  test('the policy: the source owns every unit, only the target may be created, no deletes', () => {
    expect(POLICY).toMatchObject({ sides: ['crm', 'erp'], create: { crm: false, erp: true }, deletes: 'ignore' });
    expect(POLICY.units.every((u) => u.owner === 'crm')).toBe(true);
  });

  test.each([
    ['no link: create with every unit', null, NOW, 'create', ['name', 'email', 'address', 'segment']],
    ['a link without the target key: create', link({ keys: { crm: '1' } }), NOW, 'create', ['name', 'email', 'address', 'segment']],
    ['everything as synced: nothing', link({ fields: synced(UNITS) }), NOW, 'unchanged', []],
    ['one field changed: only it', link({ fields: synced(UNITS) }), { ...NOW, email: 'new@acme.test' }, 'update', ['email']],
    ['a nested value changed: its unit', link({ fields: synced(UNITS) }), { ...NOW, address: { city: 'Bonn', countryCode: 'DE' } }, 'update', ['address']],
    ['a field cleared at the source: written as cleared', link({ fields: synced(UNITS) }), { ...NOW, segment: undefined }, 'update', ['segment']],
    ['a unit never synced: written', link({ fields: synced({ name: 'Acme', email: 'a@acme.test', address: NOW.address }) }), NOW, 'update', ['segment']],
    ['the record hash vouches (migrated binding): nothing', link({ recordHash: 'h-now' }), NOW, 'unchanged', []],
    ['the record hash differs (changed since the migration): every unit', link({ recordHash: 'h-old' }), NOW, 'update', ['name', 'email', 'address', 'segment']],
    ['an invalidated link (no values, no hash): every unit', link(), NOW, 'update', ['name', 'email', 'address', 'segment']],
    ['a tombstoned link: skipped', link({ fields: synced(UNITS), tombstone: { side: 'erp', at: '2026-01-01T00:00:00.000Z' } }), { ...NOW, name: 'X' }, 'skip', []],
  ] as const)('%s', (_name, l, fields, outcome, changed) => {
    const p = plan(fields as Record<string, unknown>, l);
    expect(p.outcome).toBe(outcome);
    expect(p.changed).toEqual(changed);
  });

  test('a link with only hashes (no values) compares by hash, and learns the values', () => {
    const hashOnly = Object.fromEntries(Object.entries(UNITS).map(([k, v]) => [k, { hash: stableHash(v), origin: 'crm' }]));
    const same = plan(NOW, link({ fields: hashOnly }));
    expect(same).toMatchObject({ outcome: 'unchanged', refresh: true });
    expect(same.fields.name).toEqual(field('Acme'));
    const changed = plan({ ...NOW, name: 'Acme AG' }, link({ fields: hashOnly }));
    expect(changed).toMatchObject({ outcome: 'update', changed: ['name'] });
  });

  test('a migrated link confirmed by its record hash is refreshed with per-field values; a synced one is not', () => {
    const migrated = plan(NOW, link({ recordHash: 'h-now' }));
    expect(migrated.refresh).toBe(true);
    expect(migrated.fields).toEqual(synced(UNITS));
    expect(plan(NOW, link({ fields: synced(UNITS), recordHash: 'h-now' })).refresh).toBe(false);
    // a link that lacks the record hash learns it (once)
    expect(plan(NOW, link({ fields: synced(UNITS) })).refresh).toBe(true);
  });

  test('fields of the link outside the pipeline units (another direction of a pair) are kept, never written', () => {
    const l = link({ fields: { ...synced(UNITS), creditLimit: field({ amountMinor: 500, currency: 'EUR' }, 'erp') } });
    const p = plan({ ...NOW, name: 'Acme AG', creditLimit: { amountMinor: 1, currency: 'EUR' } }, l);
    expect(p.changed).toEqual(['name']);
    expect(p.fields.creditLimit).toEqual(field({ amountMinor: 500, currency: 'EUR' }, 'erp'));
    expect(p.fields.name).toEqual(field('Acme AG'));
  });

  test('an update keeps the other units as they were and records the new value with the source as origin', () => {
    const l = link({ fields: { ...synced(UNITS), segment: field('smb', 'erp') } });
    const p = plan({ ...NOW, email: 'b@acme.test' }, l);
    expect(p.fields.email).toEqual(field('b@acme.test'));
    expect(p.fields.segment).toEqual(field('smb', 'erp'));
  });

  test('the record hash alone settles an unchanged record; a changed one is planned per unit', () => {
    // values the link holds that would differ from the source: the hash wins, nothing planned
    const l = link({ fields: synced({ ...UNITS, name: 'Other' }), recordHash: 'h-now' });
    expect(plan(NOW, l)).toMatchObject({ outcome: 'unchanged', refresh: false });
    expect(plan(NOW, l, 'h-new')).toMatchObject({ outcome: 'update', changed: ['name'] });
  });

  test('`valued` keeps values of those units only, hashes of the others', () => {
    const p = planOneWay({ ...SPACE, valued: ['address'] }, POLICY, { source: { key: '1', fields: NOW }, sourceHash: 'h', link: null });
    expect(p.fields.address).toEqual(field(NOW.address));
    expect(p.fields.name).toEqual({ hash: stableHash('Acme'), origin: 'crm' });
  });
});
