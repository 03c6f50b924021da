import { planRisks } from '../../activities/plan-risk';

const policy = { watchFields: ['listPrice.amountMinor'], maxChangePercent: 20, maxUpdates: 2, policy: { approvers: ['a'], timeout: '1 day', onTimeout: { action: 'reject' as const } } };
const upd = (key: string, before: number, after: number) => ({
  sourceKey: key,
  op: 'update' as const,
  fields: { listPrice: { amountMinor: after, currency: 'EUR' } },
  previous: { listPrice: { amountMinor: before, currency: 'EUR' } },
});

test('small changes and creates need no approval', () => {
  expect(planRisks([upd('1', 1000, 1100), { sourceKey: '2', op: 'create', fields: {} }], policy)).toEqual([]);
});

test('a watched field above the percentage names the count and the largest change', () => {
  expect(planRisks([upd('1', 1000, 1300), upd('2', 1000, 3000)], policy)).toEqual([
    'listPrice.amountMinor changes by more than 20% on 2 record(s); largest: 2 10.00 EUR → 30.00 EUR (200.0%)',
  ]);
});

test('too many updates', () => {
  expect(planRisks([upd('1', 1, 1), upd('2', 1, 1), upd('3', 1, 1)], policy)).toEqual(['3 updates, above the limit of 2']);
});

test('a change from zero counts as infinite', () => {
  expect(planRisks([upd('9', 0, 5)], policy)[0]).toMatch(/\(from zero\)$/);
});
