import { pairPlanRows } from '../../cli/pair-plan';
import { table } from '../../cli/format';
import { SyncPairInputSchema } from '../../contracts/pair-sync';

test('a pair plan prints one row per field and direction; a conflict shows both sides\' values', () => {
  const rows = pairPlanRows([
    {
      seq: 0, key: 'crm:31', op: 'update',
      data: { directions: ['crm->erp', 'erp->crm'], changes: [{ side: 'crm->erp', field: 'name', before: 'Old AG', after: 'New AG' }, { side: 'erp->crm', field: 'creditLimit.amountMinor', before: 100, after: null }] },
    },
    { seq: 1, key: 'crm:32', op: 'create', data: { directions: ['crm->erp'], changes: [{ side: 'crm->erp', field: 'name', before: null, after: 'Fresh KG' }] } },
    { seq: 2, key: 'erp:7', op: 'conflict', data: { directions: [], changes: [{ side: 'crm<>erp', field: 'email', before: 'a@crm.test', after: 'b@erp.test' }] } },
  ]);
  expect(table(['key', 'side', 'operation', 'field', 'before -> after'], rows)).toBe(
    [
      'key     side      operation  field                    before -> after',
      'crm:31  crm->erp  update     name                     Old AG -> New AG',
      'crm:31  erp->crm  update     creditLimit.amountMinor  100 -> ∅',
      'crm:32  crm->erp  create     name                     ∅ -> Fresh KG',
      'erp:7   crm<>erp  conflict   email                    crm: a@crm.test | erp: b@erp.test',
    ].join('\n'),
  );
});

test('syncPair takes mode "dry-run"; another mode is refused naming the three', () => {
  expect(SyncPairInputSchema.parse({ pair: 'demo-customers', mode: 'dry-run' }).mode).toBe('dry-run');
  const bad = SyncPairInputSchema.safeParse({ pair: 'demo-customers', mode: 'preview' });
  expect(bad.success).toBe(false);
  expect(bad.error!.issues.map((i) => [i.path.join('.'), i.message])).toEqual([['mode', 'expected "incremental", "full" or "dry-run"']]);
});
