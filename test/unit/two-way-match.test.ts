import { MatchRuleSchema, type MatchRule } from '../../contracts/pair';
import { matchKey, matchRecords, type MatchRecord } from '../../mappings/two-way/match';

const rules = (...r: unknown[]): MatchRule[] => r.map((x) => MatchRuleSchema.parse(x));
const EXT = { by: 'externalKey' };
const VAT = { by: 'fields', fields: ['vatNumber'] };
const NAME_COUNTRY = { by: 'fields', fields: ['name', 'address.countryCode'] };
const rec = (key: string, fields: Record<string, unknown>): MatchRecord => ({ key, fields });
const SIDES = ['crm', 'erp'] as const;

describe('natural keys', () => {
  test.each<[string, unknown, Record<string, unknown>, string | null]>([
    ['trim, lower, collapse whitespace', NAME_COUNTRY, { name: '  Acme   Trading  GmbH ', address: { countryCode: 'DE' } }, '["acme trading gmbh","de"]'],
    ['a blank part → no key', NAME_COUNTRY, { name: 'Acme', address: {} }, null],
    ['a whitespace-only part → no key', VAT, { vatNumber: '   ' }, null],
    ['the external key is compared as is', EXT, { externalKey: ' HS-5 ' }, ' HS-5 '],
    ['only the listed normalisations', { by: 'fields', fields: ['name'], normalise: ['trim'] }, { name: ' ACME  X ' }, 'ACME  X'],
  ])('%s', (_n, rule, fields, key) => {
    expect(matchKey(MatchRuleSchema.parse(rule), fields)).toBe(key);
  });
});

describe('first-link matching', () => {
  test.each<[string, MatchRule[], MatchRecord[], MatchRecord[], ReturnType<typeof matchRecords>]>([
    [
      'external key first, then VAT; the rest unmatched on both sides',
      rules(EXT, VAT),
      [rec('1', { externalKey: '1' }), rec('2', { externalKey: '2', vatNumber: 'DE2' }), rec('3', { externalKey: '3' })],
      [rec('17', { externalKey: '1' }), rec('18', { externalKey: 'x', vatNumber: 'de2 ' }), rec('19', { externalKey: 'y' })],
      { linked: [{ a: '1', b: '17', rule: 0 }, { a: '2', b: '18', rule: 1 }], ambiguous: [], unmatched: { a: ['3'], b: ['19'] } },
    ],
    [
      'one record with two candidates → ambiguous, both named, neither created',
      rules(VAT),
      [rec('1', { vatNumber: 'DE1' })],
      [rec('17', { vatNumber: 'DE1' }), rec('18', { vatNumber: ' de1' })],
      { linked: [], ambiguous: [{ side: 'crm', key: '1', candidates: ['17', '18'], rule: 0, reason: '2 erp records match' }], unmatched: { a: [], b: [] } },
    ],
    [
      'two records wanting the same candidate → ambiguous on the candidate, both named',
      rules(VAT),
      [rec('1', { vatNumber: 'DE1' }), rec('2', { vatNumber: 'DE1' })],
      [rec('17', { vatNumber: 'DE1' })],
      { linked: [], ambiguous: [{ side: 'erp', key: '17', candidates: ['1', '2'], rule: 0, reason: '2 crm records match' }], unmatched: { a: [], b: [] } },
    ],
    [
      'the first rule that finds any candidate decides (no fall-through to a looser rule)',
      rules(VAT, NAME_COUNTRY),
      [rec('1', { vatNumber: 'DE1', name: 'Acme', address: { countryCode: 'DE' } })],
      [rec('17', { vatNumber: 'DE1' }), rec('18', { vatNumber: 'DE1' }), rec('19', { name: 'ACME', address: { countryCode: 'DE' } })],
      { linked: [], ambiguous: [{ side: 'crm', key: '1', candidates: ['17', '18'], rule: 0, reason: '2 erp records match' }], unmatched: { a: [], b: ['19'] } },
    ],
    [
      'no candidate under the first rule → the next rule is tried',
      rules(VAT, NAME_COUNTRY),
      [rec('1', { name: 'Acme  GmbH', address: { countryCode: 'DE' } })],
      [rec('17', { vatNumber: 'DE9', name: 'acme gmbh', address: { countryCode: 'DE' } })],
      { linked: [{ a: '1', b: '17', rule: 1 }], ambiguous: [], unmatched: { a: [], b: [] } },
    ],
    [
      'two records with the same two candidates → both ambiguous',
      rules(VAT),
      [rec('1', { vatNumber: 'DE1' }), rec('2', { vatNumber: 'de1' })],
      [rec('17', { vatNumber: 'DE1' }), rec('18', { vatNumber: 'DE1' })],
      {
        linked: [],
        ambiguous: [
          { side: 'crm', key: '1', candidates: ['17', '18'], rule: 0, reason: '2 erp records match' },
          { side: 'crm', key: '2', candidates: ['17', '18'], rule: 0, reason: '2 erp records match' },
        ],
        unmatched: { a: [], b: [] },
      },
    ],
    [
      'a candidate held by an ambiguity is not linked by a later rule',
      rules(VAT, NAME_COUNTRY),
      [rec('1', { vatNumber: 'DE1' }), rec('2', { name: 'Acme', address: { countryCode: 'DE' } })],
      [rec('17', { vatNumber: 'DE1', name: 'Acme', address: { countryCode: 'DE' } }), rec('18', { vatNumber: 'DE1' })],
      { linked: [], ambiguous: [{ side: 'crm', key: '1', candidates: ['17', '18'], rule: 0, reason: '2 erp records match' }], unmatched: { a: ['2'], b: [] } },
    ],
    [
      'an ambiguous record does not stop the others from linking',
      rules(VAT),
      [rec('1', { vatNumber: 'DE1' }), rec('2', { vatNumber: 'DE2' })],
      [rec('17', { vatNumber: 'DE1' }), rec('18', { vatNumber: 'DE1' }), rec('19', { vatNumber: 'DE2' })],
      {
        linked: [{ a: '2', b: '19', rule: 0 }],
        ambiguous: [{ side: 'crm', key: '1', candidates: ['17', '18'], rule: 0, reason: '2 erp records match' }],
        unmatched: { a: [], b: [] },
      },
    ],
    ['nothing on either side', rules(EXT), [], [], { linked: [], ambiguous: [], unmatched: { a: [], b: [] } }],
  ])('%s', (_n, r, a, b, expected) => {
    expect(matchRecords(r, SIDES, a, b)).toEqual(expected);
  });

  test('1,000 vs 1,000 with no ids in common, 20 ambiguous → 980 linked, 20 held with both candidates named', () => {
    const a: MatchRecord[] = [];
    const b: MatchRecord[] = [];
    for (let i = 0; i < 980; i++) {
      // half by VAT number, half by name + country only; keys never shared
      const vat = i % 2 === 0 ? `DE${100000 + i}` : undefined;
      a.push(rec(`crm-${i}`, { externalKey: `crm-${i}`, name: `Company ${i}`, vatNumber: vat, address: { countryCode: 'DE' } }));
      b.push(rec(`erp-${i}`, { externalKey: `erp-${i}`, name: ` company  ${i} `, vatNumber: vat?.toLowerCase(), address: { countryCode: 'DE' } }));
    }
    for (let g = 0; g < 10; g++) {
      // two CRM and two ERP records per name: each CRM record has two candidates
      for (const n of [0, 1]) {
        a.push(rec(`crm-dup-${g}-${n}`, { externalKey: `crm-dup-${g}-${n}`, name: `Twin ${g}`, address: { countryCode: 'FR' } }));
        b.push(rec(`erp-dup-${g}-${n}`, { externalKey: `erp-dup-${g}-${n}`, name: `twin ${g}`, address: { countryCode: 'FR' } }));
      }
    }
    const t = Date.now();
    const r = matchRecords(rules(EXT, VAT, NAME_COUNTRY), SIDES, a, b);
    expect(Date.now() - t).toBeLessThan(1000);
    expect(r.linked).toHaveLength(980);
    expect(r.linked.every((l) => l.a.replace('crm', '') === l.b.replace('erp', ''))).toBe(true);
    expect(r.linked.filter((l) => l.rule === 1)).toHaveLength(490);
    expect(r.ambiguous).toHaveLength(20);
    expect(r.ambiguous[0]).toEqual({ side: 'crm', key: 'crm-dup-0-0', candidates: ['erp-dup-0-0', 'erp-dup-0-1'], rule: 2, reason: '2 erp records match' });
    expect(r.ambiguous.every((x) => x.candidates.length === 2)).toBe(true);
    expect(r.unmatched).toEqual({ a: [], b: [] });
  });
});
