import type { EntityDescription } from '../types';

/**
 * The HubSpot objects this connector knows, and how canonical fields become HubSpot properties.
 * The ERP key lives in a custom property with unique values (`keyProperty`), used as the
 * batch-upsert `idProperty`.
 */

export interface HubSpotEntity {
  name: string;
  objectType: string;
  canonical?: string;
  /** Unique-value property holding the ERP key; entities without one are read-only. */
  keyProperty?: string;
  /** Property carrying the modification time (contacts use `lastmodifieddate`). */
  modifiedProperty: string;
  /** Properties read back by fetchChanges/read. */
  readProperties: string[];
  toProperties?: (fields: Record<string, unknown>) => Record<string, string>;
  /** A default association written with each upserted record (see `AssociationRule`). */
  association?: AssociationRule;
}

/**
 * After a batch upsert, associate each written record with the record of `toObjectType` whose
 * unique property `toKeyProperty` equals the canonical field `field` (e.g. a contact with the
 * company whose `erp_customer_id` is the contact's `customerExternalKey`), with HubSpot's default
 * association type. A record whose target does not exist (yet) is reported `ok: false`.
 */
export interface AssociationRule {
  toObjectType: string;
  toKeyProperty: string;
  field: string;
}

interface Money {
  amountMinor: number;
  currency: string;
}

/** Minor units to a decimal string without floating point: 123456 → "1234.56". */
export function minorToDecimal(amountMinor: number, digits = 2): string {
  const negative = amountMinor < 0;
  const s = String(Math.abs(Math.trunc(amountMinor))).padStart(digits + 1, '0');
  return `${negative ? '-' : ''}${s.slice(0, -digits)}.${s.slice(-digits)}`;
}

function put(out: Record<string, string>, name: string, value: unknown): void {
  if (value === undefined) return;
  if (value === null) out[name] = '';
  else if (typeof value === 'boolean') out[name] = value ? 'true' : 'false';
  else out[name] = String(value);
}

function money(out: Record<string, string>, amountProp: string, currencyProp: string, value: unknown): void {
  if (value === undefined) return;
  if (value === null) {
    out[amountProp] = '';
    return;
  }
  const m = value as Money;
  out[amountProp] = minorToDecimal(m.amountMinor);
  out[currencyProp] = m.currency;
}

function customerProperties(f: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  put(out, 'erp_customer_id', f.externalKey);
  put(out, 'name', f.name);
  put(out, 'erp_email', f.email);
  put(out, 'phone', f.phone);
  put(out, 'website', f.website);
  put(out, 'erp_vat_number', f.vatNumber);
  const address = (f.address ?? undefined) as Record<string, unknown> | undefined;
  if (address) {
    put(out, 'address', address.street);
    put(out, 'city', address.city);
    put(out, 'zip', address.postalCode);
    put(out, 'country', address.countryCode);
  }
  money(out, 'erp_credit_limit', 'erp_credit_currency', f.creditLimit);
  put(out, 'erp_segment', f.segment);
  put(out, 'erp_active', f.active);
  return out;
}

function contactProperties(f: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  put(out, 'erp_contact_id', f.externalKey);
  put(out, 'erp_customer_id', f.customerExternalKey);
  put(out, 'firstname', f.firstName);
  put(out, 'lastname', f.lastName);
  put(out, 'email', f.email);
  put(out, 'phone', f.phone);
  put(out, 'jobtitle', f.jobTitle);
  return out;
}

function productProperties(f: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  put(out, 'erp_product_id', f.externalKey);
  put(out, 'hs_sku', f.sku);
  put(out, 'name', f.name);
  put(out, 'description', f.description);
  money(out, 'price', 'hs_price_currency', f.listPrice);
  put(out, 'erp_unit', f.unit);
  put(out, 'erp_active', f.active);
  return out;
}

export const HUBSPOT_ENTITIES: Record<string, HubSpotEntity> = {
  companies: {
    name: 'companies',
    objectType: 'companies',
    canonical: 'Customer',
    keyProperty: 'erp_customer_id',
    modifiedProperty: 'hs_lastmodifieddate',
    readProperties: ['name', 'domain', 'website', 'phone', 'address', 'city', 'zip', 'country', 'erp_customer_id', 'erp_email', 'erp_vat_number', 'erp_credit_limit', 'erp_credit_currency', 'erp_segment', 'erp_active'],
    toProperties: customerProperties,
  },
  contacts: {
    name: 'contacts',
    objectType: 'contacts',
    canonical: 'Contact',
    keyProperty: 'erp_contact_id',
    modifiedProperty: 'lastmodifieddate',
    readProperties: ['firstname', 'lastname', 'email', 'phone', 'jobtitle', 'associatedcompanyid', 'erp_contact_id', 'erp_customer_id'],
    toProperties: contactProperties,
    association: { toObjectType: 'companies', toKeyProperty: 'erp_customer_id', field: 'customerExternalKey' },
  },
  products: {
    name: 'products',
    objectType: 'products',
    canonical: 'Product',
    keyProperty: 'erp_product_id',
    modifiedProperty: 'hs_lastmodifieddate',
    readProperties: ['name', 'description', 'price', 'hs_sku', 'hs_price_currency', 'erp_product_id', 'erp_unit', 'erp_active'],
    toProperties: productProperties,
  },
  deals: {
    name: 'deals',
    objectType: 'deals',
    modifiedProperty: 'hs_lastmodifieddate',
    readProperties: ['dealname', 'amount', 'closedate', 'pipeline', 'dealstage', 'deal_currency_code', 'erp_order_id'],
  },
  line_items: {
    name: 'line_items',
    objectType: 'line_items',
    modifiedProperty: 'hs_lastmodifieddate',
    readProperties: ['name', 'quantity', 'amount', 'price', 'hs_discount_percentage', 'hs_product_id', 'hs_sku', 'description'],
  },
};

export function describeEntity(e: HubSpotEntity): EntityDescription {
  const canWrite = e.keyProperty !== undefined && e.toProperties !== undefined;
  return {
    name: e.name,
    ...(e.canonical !== undefined ? { canonical: e.canonical } : {}),
    canRead: true,
    canWrite,
    canDelete: canWrite,
    incremental: true,
  };
}
