import { pairChangeSample } from '../../activities/observe';
import { buildReportView } from '../../cli/report';

test('a pair patch sample holds the written side, its key and per-field before/after, nested paths flattened', () => {
  const current = { name: 'Old GmbH', creditLimit: { amountMinor: 100_00, currency: 'EUR' }, email: 'a@example.test' };
  const e = pairChangeSample('crm', '42', current, { name: 'New GmbH', creditLimit: { amountMinor: 250_00, currency: 'EUR' }, phone: '+49301234567', email: 'a@example.test' });
  expect(e).toMatchObject({
    kind: 'change',
    data: {
      sourceKey: '42', side: 'crm', op: 'update',
      fields: [
        { field: 'creditLimit.amountMinor', before: 100_00, after: 250_00 },
        { field: 'name', before: 'Old GmbH', after: 'New GmbH' },
        { field: 'phone', before: null, after: '+49301234567' },
      ],
    },
  });
  expect(pairChangeSample('erp', '7', { 'active': true }, { active: true })).toBeNull();
});

test('the run report names the side of a pair sample', () => {
  const view = buildReportView(
    { syncId: 's', pipeline: 'p', status: 'completed', startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:00:01.000Z', totals: {} },
    [],
    [{ kind: 'change', at: '2026-01-01T00:00:00.500Z', data: { sourceKey: '17', side: 'erp', op: 'update', fields: [{ field: 'name', before: 'a', after: 'b' }] } }],
  );
  expect(view.changes).toEqual([{ sourceKey: 'erp:17', op: 'update', fields: [{ field: 'name', before: 'a', after: 'b' }] }]);
});
