import { planRows } from '../../cli/plan';
import { table } from '../../cli/format';
import { ApplyPlanInputSchema, planIdOf, PlanIdSchema } from '../../contracts/plan';

test('a plan prints one row per changed field: key and operation on each row, before -> after, ∅ for none', () => {
  const rows = planRows([
    { seq: 0, key: '12', op: 'update', data: { changes: [{ field: 'address.city', before: 'Berlin', after: 'Potsdam' }, { field: 'creditLimit.amountMinor', before: 100000, after: 250000, currency: 'EUR' }] } },
    { seq: 2, key: '14', op: 'update', data: { changes: [{ field: 'listPrice.amountMinor', before: 120000, after: 180000, currency: 'JPY' }, { field: 'stock', before: 3, after: 4 }] } },
    { seq: 1, key: '13', op: 'create', data: { changes: [{ field: 'name', before: null, after: 'Acme GmbH' }] } },
  ]);
  expect(table(['key', 'operation', 'field', 'before -> after'], rows)).toBe(
    [
      'key  operation  field                    before -> after',
      '12   update     address.city             Berlin -> Potsdam',
      '12   update     creditLimit.amountMinor  1,000.00 EUR -> 2,500.00 EUR',
      '14   update     listPrice.amountMinor    120,000 JPY -> 180,000 JPY',
      '14   update     stock                    3 -> 4',
      '13   create     name                     ∅ -> Acme GmbH',
    ].join('\n'),
  );
});

test('plan ids are derived from the sync id (stable across continue-as-new) and checked at the door', () => {
  const id = planIdOf('plan:demo-accounts:20260501T120000Z@run-1');
  expect(id).toBe(planIdOf('plan:demo-accounts:20260501T120000Z@run-1'));
  expect(id).not.toBe(planIdOf('plan:demo-accounts:20260501T120000Z@run-2'));
  expect(PlanIdSchema.safeParse(id).success).toBe(true);
  const bad = ApplyPlanInputSchema.safeParse({ planId: 'demo-accounts', planHash: 'xyz' });
  expect(bad.success).toBe(false);
  expect(bad.error!.issues.map((i) => [i.path.join('.'), i.message])).toEqual([
    ['planId', 'expected a plan id such as "plan-0123456789abcdef" (from the dry run\'s result or `crm-erp-sync plan`)'],
    ['planHash', 'expected the 16 hex digits of the plan hash'],
  ]);
});
