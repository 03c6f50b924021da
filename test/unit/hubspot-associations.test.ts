import { associationKey, planAssociations } from '../../connectors/hubspot/associations';
import { HUBSPOT_ENTITIES } from '../../connectors/hubspot/entities';
import type { WriteOutcome } from '../../connectors/types';

const rule = HUBSPOT_ENTITIES.contacts!.association!;

describe('HubSpot associations written with the records', () => {
  test('contacts are associated with the company whose erp_customer_id is their customerExternalKey', () => {
    expect(rule).toEqual({ toObjectType: 'companies', toKeyProperty: 'erp_customer_id', field: 'customerExternalKey' });
    expect(associationKey(rule, { customerExternalKey: ' 42 ' })).toBe('42');
    expect(associationKey(rule, { customerExternalKey: '' })).toBeUndefined();
    expect(associationKey(rule, {})).toBeUndefined();
  });

  test('pairs written records with their companies; a missing company fails on customerExternalKey', () => {
    const written = new Map<string, WriteOutcome>([
      ['1', { externalKey: '1', ok: true, targetKey: '501', action: 'created' }],
      ['2', { externalKey: '2', ok: true, targetKey: '502', action: 'updated' }],
      ['3', { externalKey: '3', ok: false, error: { type: 'ValidationError', message: 'refused' } }],
      ['4', { externalKey: '4', ok: true, targetKey: '504', action: 'created' }],
    ]);
    const batch = [
      { externalKey: '1', fields: { customerExternalKey: 'A' } },
      { externalKey: '2', fields: { customerExternalKey: 'B' } },
      { externalKey: '3', fields: { customerExternalKey: 'A' } },
      { externalKey: '4', fields: {} },
      { externalKey: '1', fields: { customerExternalKey: 'A' } },
    ];
    const plan = planAssociations(rule, batch, written, new Map([['A', '900']]));
    expect(plan.inputs).toEqual([{ externalKey: '1', fromId: '501', toId: '900' }]);
    expect([...plan.failures.keys()]).toEqual(['2']);
    const f = plan.failures.get('2')!;
    expect(f.ok).toBe(false);
    if (!f.ok) {
      expect(f.error).toMatchObject({ type: 'ValidationError', field: 'customerExternalKey' });
      expect(f.error.message).toContain('erp_customer_id = B');
    }
  });
});
