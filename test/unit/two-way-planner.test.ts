import type { LinkField, LinkLedger } from '../../contracts/link';
import { PairSchema } from '../../contracts/pair';
import { stableHash } from '../../contracts/stable-json';
import { planRecord, type PlanRecordInput, type RecordPlan, type SideSnapshot } from '../../mappings/two-way/planner';
import { compilePairPolicy, type PairPolicy } from '../../mappings/two-way/policy';

/** crm owns name and address; erp owns vatNumber, creditLimit and active; phone latest-wins; email manual. */
function policy(over: Record<string, unknown> = {}): PairPolicy {
  return compilePairPolicy(
    PairSchema.parse({
      name: 'p',
      family: 'sql',
      canonical: 'Customer',
      sides: {
        crm: { system: 'crm', entity: 'accounts', mapping: 'm' },
        erp: { system: 'erp', entity: 'customers', mapping: 'm' },
      },
      fields: {
        name: { owner: 'crm' },
        address: { owner: 'crm' },
        vatNumber: { owner: 'erp' },
        creditLimit: { owner: 'erp' },
        active: { owner: 'erp' },
        email: { owner: 'both', conflict: 'manual' },
        default: { owner: 'both', conflict: 'latest-wins' },
      },
      deletes: { policy: 'archive' },
      ...over,
    }),
  );
}
const P = policy();

const BASE = { externalKey: '1', name: 'Acme', email: 'a@acme.test', phone: '+4930111', vatNumber: 'DE1', segment: 'smb', active: true };
const T0 = '2026-01-01T00:00:00.000Z';
const T1 = '2026-01-02T00:00:00.000Z';
const snap = (key: string, fields: Record<string, unknown>, modifiedAt = T0, deleted?: boolean): SideSnapshot => ({
  key,
  fields,
  modifiedAt,
  ...(deleted !== undefined ? { deleted } : {}),
});
const crm = (over: Record<string, unknown> = {}, at = T0, deleted?: boolean) => snap('42', { ...BASE, ...over }, at, deleted);
const erp = (over: Record<string, unknown> = {}, at = T0, deleted?: boolean) => snap('17', { ...BASE, ...over }, at, deleted);

/** The link after a sync of `values`: every unit of the policy with its hash and value. */
function synced(values: Record<string, unknown>, origin = 'crm', pol = P): Record<string, LinkField> {
  return Object.fromEntries(
    pol.units.map((u) => {
      const v = u.path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], values);
      return [u.path, { hash: stableHash(v ?? null), value: v ?? null, origin }];
    }),
  );
}
const link = (values: Record<string, unknown> = BASE, deletedSides: string[] = []) => ({ fields: synced(values), deletedSides, tombstone: null });
const h = (v: unknown) => stableHash(v);

interface Case {
  name: string;
  input: PlanRecordInput;
  policy?: PairPolicy;
  /** `patches` is compared exactly (toEqual); the rest as a subset (arrays exactly). */
  expect: Partial<RecordPlan> & Pick<RecordPlan, 'patches'>;
}

const cases: Case[] = [
  { name: 'nothing changed', input: { sides: { crm: crm(), erp: erp() }, link: link() }, expect: { outcome: 'unchanged', patches: {}, conflicts: [], rejected: [], echoes: [] } },
  {
    name: 'crm changed a crm-owned field → flows to erp',
    input: { sides: { crm: crm({ name: 'Acme Corp' }), erp: erp() }, link: link() },
    expect: { outcome: 'update', patches: { erp: { name: 'Acme Corp' } }, conflicts: [], rejected: [], writes: [{ side: 'erp', field: 'name', hash: h('Acme Corp') }] },
  },
  {
    name: 'erp changed a field owned by both → flows to crm',
    input: { sides: { crm: crm(), erp: erp({ phone: '+4930222' }) }, link: link() },
    expect: { outcome: 'update', patches: { crm: { phone: '+4930222' } }, conflicts: [], rejected: [] },
  },
  {
    name: 'crm changed an erp-owned field → rejected, erp value restored on crm',
    input: { sides: { crm: crm({ vatNumber: 'DE999' }), erp: erp() }, link: link() },
    expect: {
      outcome: 'update',
      patches: { crm: { vatNumber: 'DE1' } },
      rejected: [{ field: 'vatNumber', side: 'crm', value: 'DE999', owner: 'erp', restored: 'DE1' }],
      conflicts: [],
    },
  },
  {
    name: 'crm cleared an erp-owned field → rejected, restored',
    input: { sides: { crm: crm({ vatNumber: undefined }), erp: erp() }, link: link() },
    expect: { patches: { crm: { vatNumber: 'DE1' } }, rejected: [{ field: 'vatNumber', side: 'crm', value: undefined, owner: 'erp', restored: 'DE1' }] },
  },
  {
    name: 'erp cleared a field owned by both → null clears it on crm',
    input: { sides: { crm: crm(), erp: erp({ phone: undefined }) }, link: link() },
    expect: { outcome: 'update', patches: { crm: { phone: null } } },
  },
  {
    name: 'both changed to the same value → converged, no write',
    input: { sides: { crm: crm({ phone: '+4930999' }), erp: erp({ phone: '+4930999' }) }, link: link() },
    expect: { outcome: 'unchanged', patches: {}, conflicts: [], writes: [] },
  },
  {
    name: 'both changed differently, owner-wins → the owner (crm) wins',
    input: { sides: { crm: crm({ name: 'A1' }, T0), erp: erp({ name: 'A2' }, T1) }, link: link() },
    expect: {
      outcome: 'update',
      patches: { erp: { name: 'A1' } },
      conflicts: [{ field: 'name', values: { crm: 'A1', erp: 'A2' }, policy: 'owner-wins', resolution: 'crm' }],
      rejected: [],
    },
  },
  {
    name: 'both changed differently, latest-wins → the later side (erp)',
    input: { sides: { crm: crm({ phone: '+4930001' }, T0), erp: erp({ phone: '+4930002' }, T1) }, link: link() },
    expect: {
      patches: { crm: { phone: '+4930002' } },
      conflicts: [{ field: 'phone', values: { crm: '+4930001', erp: '+4930002' }, policy: 'latest-wins', resolution: 'erp' }],
    },
  },
  {
    name: 'both changed differently, latest-wins with equal times → the first side (crm)',
    input: { sides: { crm: crm({ phone: '+4930001' }, T1), erp: erp({ phone: '+4930002' }, T1) }, link: link() },
    expect: {
      patches: { erp: { phone: '+4930001' } },
      conflicts: [{ field: 'phone', values: { crm: '+4930001', erp: '+4930002' }, policy: 'latest-wins', resolution: 'crm' }],
    },
  },
  {
    name: 'both changed differently, manual → pending, nothing written for that field',
    input: { sides: { crm: crm({ email: 'x@acme.test' }), erp: erp({ email: 'y@acme.test' }) }, link: link() },
    expect: {
      outcome: 'conflict',
      patches: {},
      writes: [],
      conflicts: [{ field: 'email', values: { crm: 'x@acme.test', erp: 'y@acme.test' }, policy: 'manual', resolution: 'pending' }],
    },
  },
  {
    name: 'manual conflict on one field, an ordinary edit on another → the edit still flows',
    input: { sides: { crm: crm({ email: 'x@acme.test', name: 'Acme 2' }), erp: erp({ email: 'y@acme.test' }) }, link: link() },
    expect: { outcome: 'update', patches: { erp: { name: 'Acme 2' } }, conflicts: [expect.objectContaining({ field: 'email', resolution: 'pending' })] },
  },
  {
    name: 'manual conflict with a decision for erp on exactly these values → erp value written to crm only, decided',
    input: {
      sides: { crm: crm({ email: 'x@acme.test' }), erp: erp({ email: 'y@acme.test' }) },
      link: link(),
      decisions: { email: { side: 'erp', hashes: { crm: h('x@acme.test'), erp: h('y@acme.test') } } },
    },
    expect: {
      outcome: 'update',
      patches: { crm: { email: 'y@acme.test' } },
      writes: [{ side: 'crm', field: 'email', hash: h('y@acme.test') }],
      conflicts: [{ field: 'email', values: { crm: 'x@acme.test', erp: 'y@acme.test' }, policy: 'manual', resolution: 'erp', decided: true }],
    },
  },
  {
    name: 'manual conflict with a decision for crm → crm value written to erp only',
    input: {
      sides: { crm: crm({ email: 'x@acme.test' }), erp: erp({ email: 'y@acme.test' }) },
      link: link(),
      decisions: { email: { side: 'crm', hashes: { crm: h('x@acme.test'), erp: h('y@acme.test') } } },
    },
    expect: { outcome: 'update', patches: { erp: { email: 'x@acme.test' } }, conflicts: [expect.objectContaining({ resolution: 'crm', decided: true })] },
  },
  {
    name: 'a decision on values that moved since the person saw them → still pending, nothing written',
    input: {
      sides: { crm: crm({ email: 'x2@acme.test' }), erp: erp({ email: 'y@acme.test' }) },
      link: link(),
      decisions: { email: { side: 'erp', hashes: { crm: h('x@acme.test'), erp: h('y@acme.test') } } },
    },
    expect: { outcome: 'conflict', patches: {}, writes: [], conflicts: [{ field: 'email', values: { crm: 'x2@acme.test', erp: 'y@acme.test' }, policy: 'manual', resolution: 'pending' }] },
  },
  {
    name: 'a decision naming no side of the pair → still pending',
    input: {
      sides: { crm: crm({ email: 'x@acme.test' }), erp: erp({ email: 'y@acme.test' }) },
      link: link(),
      decisions: { email: { side: 'hubspot', hashes: { crm: h('x@acme.test'), erp: h('y@acme.test') } } },
    },
    expect: { outcome: 'conflict', patches: {}, conflicts: [expect.objectContaining({ resolution: 'pending' })] },
  },
  {
    name: 'a decision for a field that is not in conflict (only crm changed) → the ordinary flow, the decision is not used',
    input: {
      sides: { crm: crm({ email: 'x@acme.test' }), erp: erp() },
      link: link(),
      decisions: { email: { side: 'erp', hashes: { crm: h('x@acme.test'), erp: h(BASE.email) } } },
    },
    expect: { outcome: 'update', patches: { erp: { email: 'x@acme.test' } }, conflicts: [] },
  },
  {
    name: 'first link (no baseline), manual field differs, decision for erp → written to crm',
    input: {
      sides: { crm: crm({ email: 'x@acme.test' }), erp: erp({ email: 'y@acme.test' }) },
      link: null,
      decisions: { email: { side: 'erp', hashes: { crm: h('x@acme.test'), erp: h('y@acme.test') } } },
    },
    expect: { outcome: 'update', patches: { crm: { email: 'y@acme.test' } }, conflicts: [expect.objectContaining({ field: 'email', resolution: 'erp', decided: true })] },
  },
  {
    name: 'echo of our own write on erp while a person edited another erp field → the edit flows, the echo does not',
    // We wrote phone +4930222 to erp (crm had it); the link was not updated. Since then a person
    // changed crm's phone again, and another person changed erp's segment.
    input: {
      sides: { crm: crm({ phone: '+4930333' }, T0), erp: erp({ phone: '+4930222', segment: 'enterprise' }, T1) },
      link: link(),
      ledger: { erp: { phone: h('+4930222') } } satisfies LinkLedger,
    },
    expect: {
      outcome: 'update',
      patches: { erp: { phone: '+4930333' }, crm: { segment: 'enterprise' } },
      echoes: [{ field: 'phone', side: 'erp' }],
      conflicts: [],
    },
  },
  {
    name: 'a ledger entry equal to the link is no echo',
    input: { sides: { crm: crm(), erp: erp() }, link: link(), ledger: { erp: { phone: h(BASE.phone) } } },
    expect: { outcome: 'unchanged', echoes: [], patches: {} },
  },
  {
    name: 'first link, no baseline: owned fields take the owner value, both → policy',
    input: {
      sides: {
        crm: crm({ name: 'Acme GmbH', vatNumber: 'DE-CRM', phone: '+4930001', email: 'c@acme.test' }, T1),
        erp: erp({ name: 'ACME', vatNumber: 'DE-ERP', phone: '+4930002', email: 'e@acme.test' }, T0),
      },
      link: null,
    },
    expect: {
      outcome: 'update',
      patches: { erp: { name: 'Acme GmbH', phone: '+4930001' }, crm: { vatNumber: 'DE-ERP' } },
      rejected: [],
      conflicts: [
        { field: 'email', values: { crm: 'c@acme.test', erp: 'e@acme.test' }, policy: 'manual', resolution: 'pending' },
        { field: 'phone', values: { crm: '+4930001', erp: '+4930002' }, policy: 'latest-wins', resolution: 'crm' },
      ],
    },
  },
  { name: 'first link of equal records → no writes', input: { sides: { crm: crm(), erp: erp() }, link: null }, expect: { outcome: 'unchanged', patches: {}, conflicts: [] } },
  {
    name: 'a migrated link without field values (hash only) plans like a first link',
    input: { sides: { crm: crm({ segment: 'enterprise' }), erp: erp() }, link: { fields: {}, deletedSides: [], tombstone: null } },
    // segment is latest-wins; equal times → the first side (crm)
    expect: {
      outcome: 'update',
      patches: { erp: { segment: 'enterprise' } },
      conflicts: [{ field: 'segment', values: { crm: 'enterprise', erp: 'smb' }, policy: 'latest-wins', resolution: 'crm' }],
    },
  },
  {
    name: 'soft delete on crm, policy archive → erp archived (active: false)',
    input: { sides: { crm: crm({}, T1, true), erp: erp() }, link: link() },
    expect: { outcome: 'archive', patches: { erp: { active: false } }, deletion: { side: 'crm', kind: 'soft', action: 'archive' }, deleteOn: null },
  },
  {
    name: 'soft delete on crm, erp already inactive → nothing to write, both remembered as archived',
    input: { sides: { crm: crm({}, T1, true), erp: erp({ active: false }) }, link: null },
    expect: { outcome: 'skip', skipped: 'archived', patches: {}, deletion: { side: 'crm', kind: 'soft', action: 'archive' }, link: expect.objectContaining({ deletedSides: ['crm', 'erp'] }) },
  },
  {
    name: 'soft delete on crm, policy ignore → nothing written',
    policy: policy({ deletes: { policy: 'ignore' } }),
    input: { sides: { crm: crm({}, T1, true), erp: erp() }, link: link() },
    expect: { outcome: 'skip', skipped: 'archived', patches: {}, deletion: { side: 'crm', kind: 'soft', action: 'none' }, deleteOn: null },
  },
  {
    name: 'soft delete on erp, policy delete → crm record deleted, link tombstoned',
    policy: policy({ deletes: { policy: 'delete' } }),
    input: { sides: { crm: crm(), erp: erp({}, T1, true) }, link: link() },
    expect: { outcome: 'delete', patches: {}, deleteOn: 'crm', deletion: { side: 'erp', kind: 'soft', action: 'delete' } },
  },
  {
    name: 'soft delete through the side\'s softDelete field (crm active: false) → erp archived, not a rejected edit',
    policy: policy({
      sides: {
        crm: { system: 'crm', entity: 'accounts', mapping: 'm', softDelete: { field: 'active', equals: false } },
        erp: { system: 'erp', entity: 'customers', mapping: 'm' },
      },
    }),
    input: { sides: { crm: crm({ active: false }), erp: erp() }, link: link() },
    expect: { outcome: 'archive', patches: { erp: { active: false } }, rejected: [], deletion: { side: 'crm', kind: 'soft', action: 'archive' } },
  },
  {
    name: 'already archived on both → nothing',
    input: { sides: { crm: crm({}, T1, true), erp: erp({ active: false }) }, link: link({ ...BASE, active: false }, ['crm', 'erp']) },
    expect: { outcome: 'skip', skipped: 'archived', patches: {} },
  },
  {
    name: 'a person re-activated the erp record we archived → crm restored (active: true)',
    input: { sides: { crm: crm({}, T0, true), erp: erp({ active: true }, T1) }, link: link({ ...BASE, active: false }, ['crm', 'erp']) },
    expect: { outcome: 'restore', patches: { crm: { active: true } }, deletion: { side: 'erp', kind: 'soft', action: 'restore' } },
  },
  {
    name: 'a person un-archived the crm record whose archive we copied to erp → erp restored, even though erp owns active',
    input: { sides: { crm: crm({ active: true }, T1), erp: erp({ active: false }) }, link: link({ ...BASE, active: false }, ['crm', 'erp']) },
    expect: { outcome: 'restore', patches: { erp: { active: true } }, rejected: [], deletion: { side: 'crm', kind: 'soft', action: 'restore' } },
  },
  {
    name: 'un-archived on crm together with a rename → erp restored and renamed',
    input: { sides: { crm: crm({ active: true, name: 'Acme 2' }, T1), erp: erp({ active: false }) }, link: link({ ...BASE, active: false }, ['crm']) },
    expect: { outcome: 'restore', patches: { erp: { active: true, name: 'Acme 2' } }, rejected: [] },
  },
  {
    name: 'hard delete on erp, policy archive → crm archived, tombstone',
    input: { sides: { crm: crm(), erp: null }, link: link() },
    expect: { outcome: 'archive', patches: { crm: { active: false } }, deletion: { side: 'erp', kind: 'hard', action: 'archive' } },
  },
  {
    name: 'hard delete on crm, policy delete → erp deleted, tombstone',
    policy: policy({ deletes: { policy: 'delete' } }),
    input: { sides: { crm: null, erp: erp() }, link: link() },
    expect: { outcome: 'delete', patches: {}, deleteOn: 'erp', deletion: { side: 'crm', kind: 'hard', action: 'delete' } },
  },
  {
    name: 'hard delete, policy ignore → tombstone only',
    policy: policy({ deletes: { policy: 'ignore' } }),
    input: { sides: { crm: null, erp: erp() }, link: link() },
    expect: { outcome: 'skip', skipped: 'tombstoned', patches: {}, deleteOn: null, deletion: { side: 'crm', kind: 'hard', action: 'none' } },
  },
  {
    name: 'a tombstoned link plans nothing',
    input: { sides: { crm: crm({ name: 'new' }), erp: erp() }, link: { ...link(), tombstone: { side: 'erp', at: T0 } } },
    expect: { outcome: 'skip', skipped: 'tombstoned', patches: {} },
  },
  {
    name: 'only on crm, not linked → created on erp with every field',
    input: { sides: { crm: crm(), erp: null }, link: null },
    expect: { outcome: 'create', patches: {}, create: { side: 'erp', fields: BASE } },
  },
  {
    name: 'only on erp, not linked → created on crm',
    input: { sides: { crm: null, erp: erp() }, link: null },
    expect: { outcome: 'create', patches: {}, create: { side: 'crm', fields: BASE } },
  },
  {
    name: 'only on erp, but crm does not allow creates → skipped',
    policy: policy({
      sides: { crm: { system: 'crm', entity: 'accounts', mapping: 'm', create: false }, erp: { system: 'erp', entity: 'customers', mapping: 'm' } },
    }),
    input: { sides: { crm: null, erp: erp() }, link: null },
    expect: { outcome: 'skip', skipped: 'create-disabled', patches: {}, create: null },
  },
  {
    name: 'only on crm and archived there → not created',
    input: { sides: { crm: crm({}, T0, true) }, link: null },
    expect: { outcome: 'skip', skipped: 'deleted-unlinked', patches: {}, create: null },
  },
];

describe('two-way planner', () => {
  test.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const plan = planRecord(c.policy ?? P, c.input);
    expect(plan.patches).toEqual(c.expect.patches);
    expect(plan).toMatchObject(c.expect);
    // writes are exactly the patched fields (plus every field of a create)
    const patched = Object.entries(plan.patches).flatMap(([side, p]) => Object.keys(p).map((f) => `${side}.${f}`));
    const created = plan.create ? P.units.map((u) => `${plan.create!.side}.${u.path}`) : [];
    expect(plan.writes.map((w) => `${w.side}.${w.field}`).sort()).toEqual([...patched, ...created].sort());
  });

  test('a decided manual conflict moves the link to the winning value and its side', () => {
    const plan = planRecord(P, {
      sides: { crm: crm({ email: 'x@acme.test' }), erp: erp({ email: 'y@acme.test' }) },
      link: link(),
      decisions: { email: { side: 'erp', hashes: { crm: h('x@acme.test'), erp: h('y@acme.test') } } },
    });
    expect(plan.link.fields.email).toEqual({ hash: h('y@acme.test'), value: 'y@acme.test', origin: 'erp' });
    // the next run sees both sides at the linked value: nothing to write, no conflict
    const next = planRecord(P, { sides: { crm: crm({ email: 'y@acme.test' }), erp: erp({ email: 'y@acme.test' }) }, link: { ...plan.link, tombstone: null } });
    expect(next).toMatchObject({ outcome: 'unchanged', patches: {}, conflicts: [] });
  });

  test('the link after a flow carries the new value and its origin; a pending conflict keeps the old one', () => {
    const flow = planRecord(P, { sides: { crm: crm({ name: 'Acme Corp', email: 'x@acme.test' }), erp: erp({ email: 'y@acme.test' }) }, link: link() });
    expect(flow.link.fields.name).toEqual({ hash: h('Acme Corp'), value: 'Acme Corp', origin: 'crm' });
    expect(flow.link.fields.email).toEqual(link().fields.email);
    const rejected = planRecord(P, { sides: { crm: crm({ vatNumber: 'X' }), erp: erp() }, link: link() });
    expect(rejected.link.fields.vatNumber).toEqual({ hash: h('DE1'), value: 'DE1', origin: 'erp' });
  });

  test('a tombstone is set for hard deletes and the delete policy, archived sides are remembered', () => {
    expect(planRecord(P, { sides: { crm: crm(), erp: null }, link: link() }).link).toMatchObject({ tombstone: { side: 'erp' } });
    expect(planRecord(P, { sides: { crm: crm({}, T1, true), erp: erp() }, link: link() }).link).toMatchObject({ tombstone: null, deletedSides: ['crm', 'erp'] });
  });

  test('a nested path with its own owner splits its parent into units', () => {
    const pol = policy({
      fields: { address: { owner: 'crm' }, 'address.countryCode': { owner: 'erp' }, default: { owner: 'both', conflict: 'latest-wins' } },
    });
    expect(pol.units.filter((u) => u.path.startsWith('address')).map((u) => `${u.path}:${u.owner}`)).toEqual([
      'address.street:crm',
      'address.city:crm',
      'address.postalCode:crm',
      'address.countryCode:erp',
    ]);
    expect(pol.units.find((u) => u.path === 'creditLimit')).toEqual({ path: 'creditLimit', owner: 'both', conflict: 'latest-wins' });
    const addr = { city: 'Berlin', countryCode: 'DE' };
    const base = { ...BASE, address: addr };
    const plan = planRecord(pol, {
      sides: { crm: crm({ address: { city: 'Bonn', countryCode: 'FR' } }), erp: erp({ address: addr }) },
      link: { fields: synced(base, 'crm', pol), deletedSides: [], tombstone: null },
    });
    expect(plan.patches).toEqual({ erp: { 'address.city': 'Bonn' }, crm: { 'address.countryCode': 'DE' } });
    expect(plan.rejected).toEqual([{ field: 'address.countryCode', side: 'crm', value: 'FR', owner: 'erp', restored: 'DE' }]);
  });

  test('a money field compares as a whole, independent of key order', () => {
    const limit = { amountMinor: 100000, currency: 'EUR' };
    const plan = planRecord(P, {
      sides: { crm: crm({ creditLimit: limit }), erp: erp({ creditLimit: { currency: 'EUR', amountMinor: 100000 } }) },
      link: link({ ...BASE, creditLimit: limit }),
    });
    expect(plan).toMatchObject({ outcome: 'unchanged', patches: {} });
  });
});
