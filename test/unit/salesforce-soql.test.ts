import { parseQuery } from '@jetstreamapp/soql-parser-js';
import { parseBulkError } from '../../connectors/salesforce/connector';
import { inSoql, isoFromSalesforce, keysetSoql, soqlString } from '../../connectors/salesforce/soql';

describe('Salesforce keyset SOQL', () => {
  it('continues strictly after (SystemModstamp, Id), leaves out unsettled seconds, and parses', () => {
    const q = keysetSoql({ sobject: 'Account', fields: ['Name'], after: { modifiedAt: '2026-03-02T10:00:00.000Z', key: "001'x" }, settledBefore: Date.parse('2026-03-02T10:05:00.900Z'), limit: 11 });
    expect(q).toBe(
      "SELECT Id, SystemModstamp, IsDeleted, Name FROM Account WHERE (SystemModstamp > 2026-03-02T10:00:00Z OR (SystemModstamp = 2026-03-02T10:00:00Z AND Id > '001\\'x')) AND SystemModstamp < 2026-03-02T10:05:00Z ORDER BY SystemModstamp ASC, Id ASC LIMIT 11",
    );
    expect(parseQuery(q).limit).toBe(11);
  });

  it('a lookback cursor (no key, any millisecond) starts at the whole second, inclusive', () => {
    expect(keysetSoql({ sobject: 'Contact', fields: [], after: { modifiedAt: '2026-03-02T10:00:00.750Z', key: '' }, limit: 5 })).toBe(
      'SELECT Id, SystemModstamp, IsDeleted FROM Contact WHERE SystemModstamp >= 2026-03-02T10:00:00Z ORDER BY SystemModstamp ASC, Id ASC LIMIT 5',
    );
  });

  it('quotes IN lists and converts Salesforce datetimes', () => {
    expect(inSoql('Account', ['ERP_Id__c'], 'ERP_Id__c', ["a'b", 'c\\d'])).toBe("SELECT Id, SystemModstamp, IsDeleted, ERP_Id__c FROM Account WHERE ERP_Id__c IN ('a\\'b', 'c\\\\d')");
    expect(soqlString('x')).toBe("'x'");
    expect(isoFromSalesforce('2026-03-02T10:00:00.000+0000')).toBe('2026-03-02T10:00:00.000Z');
  });

  it('reads a Bulk 2.0 sf__Error into code, message and fields', () => {
    expect(parseBulkError('REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --')).toEqual({ statusCode: 'REQUIRED_FIELD_MISSING', message: 'Required fields are missing: [Name]', fields: ['Name'] });
    expect(parseBulkError('garbage')).toEqual({ statusCode: 'UNKNOWN_EXCEPTION', message: 'garbage' });
  });
});
