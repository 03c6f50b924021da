import type { LinkField } from '../../contracts/link';
import { PairSchema } from '../../contracts/pair';
import { driftTotal, emptyReconcileCounts, type DriftItem } from '../../contracts/reconcile';
import { stableHash } from '../../contracts/stable-json';
import { comparable, compareLinked, isArchived, repairRisks, summariseDrift } from '../../mappings/two-way/drift';
import type { SideSnapshot } from '../../mappings/two-way/planner';
import { compilePairPolicy } from '../../mappings/two-way/policy';

const P = compilePairPolicy(
  PairSchema.parse({
    name: 'p',
    family: 'sql',
    canonical: 'Customer',
    sides: {
      crm: { system: 'crm', entity: 'accounts', mapping: 'm', softDelete: { field: 'active', equals: false } },
      erp: { system: 'erp', entity: 'customers', mapping: 'm' },
    },
    fields: { name: { owner: 'crm' }, creditLimit: { owner: 'erp' }, default: { owner: 'both', conflict: 'latest-wins' } },
    deletes: { policy: 'archive' },
  }),
);
const T = '2026-01-01T00:00:00.000Z';
const snap = (key: string, fields: Record<string, unknown>): SideSnapshot => ({ key, fields, modifiedAt: T });
const BASE = { externalKey: '1', name: 'Acme', phone: '+4930111', creditLimit: { amountMinor: 100, currency: 'EUR' }, active: true };
const linkOf = (fields: Record<string, unknown>): { fields: Record<string, LinkField> } => ({
  fields: Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, { hash: stableHash(v), value: v, origin: 'crm' }])),
});

describe('compareLinked', () => {
  test('equal records, including values that only differ in key order, have no drift; the identity is never compared', () => {
    const erp = { ...BASE, externalKey: 'LEGACY-9', creditLimit: { currency: 'EUR', amountMinor: 100 } };
    expect(compareLinked(P, { crm: snap('1', BASE), erp: snap('7', erp) }, linkOf(BASE))).toEqual([]);
  });

  test('a field edited on one side is drift, changed on that side; a nested unit is compared whole', () => {
    const erp = { ...BASE, creditLimit: { amountMinor: 999, currency: 'EUR' } };
    expect(compareLinked(P, { crm: snap('1', { ...BASE, name: 'Acme 2' }), erp: snap('7', erp) }, linkOf(BASE))).toEqual([
      { field: 'name', values: { crm: 'Acme 2', erp: 'Acme' }, changedOn: ['crm'] },
      { field: 'creditLimit', values: { crm: BASE.creditLimit, erp: erp.creditLimit }, changedOn: ['erp'] },
    ]);
  });

  test('a value missing on one side is drift (null), both sides changed is a conflict, no baseline names no side', () => {
    const noPhone: Record<string, unknown> = { ...BASE, phone: undefined };
    expect(compareLinked(P, { crm: snap('1', noPhone), erp: snap('7', BASE) }, linkOf(BASE))).toEqual([
      { field: 'phone', values: { crm: null, erp: '+4930111' }, changedOn: ['crm'] },
    ]);
    expect(compareLinked(P, { crm: snap('1', { ...BASE, name: 'A' }), erp: snap('7', { ...BASE, name: 'B' }) }, linkOf(BASE))[0]!.changedOn).toEqual(['crm', 'erp']);
    expect(compareLinked(P, { crm: snap('1', { ...BASE, name: 'A' }), erp: snap('7', BASE) }, null)[0]!.changedOn).toEqual([]);
  });

  test('archived sides and tombstoned links are not compared', () => {
    expect(isArchived(P, 'crm', snap('1', { ...BASE, active: false }))).toBe(true);
    expect(isArchived(P, 'erp', snap('1', { ...BASE, active: false }))).toBe(false); // erp has no softDelete rule
    expect(comparable({ tombstone: null, deletedSides: [] })).toBe(true);
    expect(comparable({ tombstone: null, deletedSides: ['crm'] })).toBe(false);
    expect(comparable({ tombstone: { side: 'crm', at: T }, deletedSides: [] })).toBe(false);
  });
});

describe('repairRisks', () => {
  const w = (archives: number, deletes = 0) => ({ creates: 0, updates: 0, archives, deletes });
  test('deletes and archives are weighed against the whole side, not the repair page', () => {
    expect(repairRisks({ maxDeletePercent: 10 }, { erp: w(9) }, { erp: 100 })).toEqual([]);
    expect(repairRisks({ maxDeletePercent: 10 }, { erp: w(30) }, { erp: 100 })).toEqual(['30 of 100 records deleted or archived on erp (30%), above 10%']);
    expect(repairRisks({ maxDeletePercent: 10, maxCreates: 2 }, { crm: { ...w(0), creates: 3 } }, { crm: 100 })).toEqual(['3 creates on crm, above the limit of 2']);
  });
});

describe('summariseDrift', () => {
  test('counts, then the first items per category and how many more', () => {
    const counts = { ...emptyReconcileCounts(['crm', 'erp']), recordsWithDiffs: 25, fieldDiffs: 25, missing: { crm: 1, erp: 0 } };
    const fields: DriftItem[] = Array.from({ length: 25 }, (_, i) => ({ category: 'field', keys: { crm: String(i), erp: `e${i}` }, field: 'name', values: { crm: 'a', erp: 'b' }, changedOn: ['crm'] }));
    const text = summariseDrift('p', ['crm', 'erp'], counts, { field: fields, missing: [{ category: 'missing', side: 'crm', keys: { crm: '5', erp: 'e5' }, link: 'L5' }] });
    expect(text).toContain('missing (hard deletes): crm 1, erp 0');
    expect(text).toContain('crm:0 ⇄ erp:e0 name: crm "a" ≠ erp "b" (changed on crm)');
    expect(text).toContain('crm:5 ⇄ erp:e5: gone on crm (hard delete) [link L5]');
    expect(text).toContain('… 5 more in the report');
    expect(text).not.toContain('crm:20 ⇄');
    expect(driftTotal(counts)).toBe(26);
  });
});
