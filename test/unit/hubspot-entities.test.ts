import { HUBSPOT_ENTITIES, minorToDecimal } from '../../connectors/hubspot/entities';

describe('HubSpot property mapping', () => {
  it('turns minor units into decimal strings without floating point', () => {
    expect(minorToDecimal(123_456)).toBe('1234.56');
    expect(minorToDecimal(5)).toBe('0.05');
    expect(minorToDecimal(-1999)).toBe('-19.99');
    expect(minorToDecimal(900_719_925_474_099)).toBe('9007199254740.99');
  });

  it('maps a canonical customer to company properties; null clears, undefined leaves alone', () => {
    const props = HUBSPOT_ENTITIES.companies?.toProperties?.({
      externalKey: 'C-1',
      name: 'Acme',
      email: 'info@acme.test',
      phone: null,
      address: { street: 'Main 1', city: 'Berlin', postalCode: '10115', countryCode: 'DE' },
      creditLimit: { amountMinor: 500_000, currency: 'EUR' },
      segment: 'smb',
      active: false,
    });
    expect(props).toEqual({
      erp_customer_id: 'C-1',
      name: 'Acme',
      erp_email: 'info@acme.test',
      phone: '',
      address: 'Main 1',
      city: 'Berlin',
      zip: '10115',
      country: 'DE',
      erp_credit_limit: '5000.00',
      erp_credit_currency: 'EUR',
      erp_segment: 'smb',
      erp_active: 'false',
    });
  });

  it('maps products and contacts', () => {
    expect(
      HUBSPOT_ENTITIES.products?.toProperties?.({ externalKey: 'P-1', sku: 'SKU', name: 'Widget', listPrice: { amountMinor: 1999, currency: 'USD' }, unit: 'hour', active: true }),
    ).toEqual({ erp_product_id: 'P-1', hs_sku: 'SKU', name: 'Widget', price: '19.99', hs_price_currency: 'USD', erp_unit: 'hour', erp_active: 'true' });
    expect(HUBSPOT_ENTITIES.contacts?.toProperties?.({ externalKey: 'K-1', customerExternalKey: 'C-1', lastName: 'Doe', email: 'd@x.test' })).toEqual({
      erp_contact_id: 'K-1',
      erp_customer_id: 'C-1',
      lastname: 'Doe',
      email: 'd@x.test',
    });
  });
});
