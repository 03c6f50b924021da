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

/**
 * How canonical fields become properties: `[property, field]` copies a field (a dotted path
 * reads into a nested object), `[amountProperty, currencyProperty, field]` writes a Money field.
 * `undefined` leaves a property alone, `null` clears it.
 */
type PropertyRule = readonly [property: string, field: string] | readonly [amountProperty: string, currencyProperty: string, field: string];

function fieldValue(fields: Record<string, unknown>, path: string): unknown {
  let v: unknown = fields;
  for (const part of path.split('.')) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

function toPropertiesBy(rules: readonly PropertyRule[]): (fields: Record<string, unknown>) => Record<string, string> {
  return (fields) => {
    const out: Record<string, string> = {};
    for (const rule of rules) {
      const value = fieldValue(fields, rule.length === 3 ? rule[2] : rule[1]);
      if (value === undefined) continue;
      if (value === null) {
        out[rule[0]] = '';
      } else if (rule.length === 3) {
        const m = value as Money;
        out[rule[0]] = minorToDecimal(m.amountMinor);
        out[rule[1]] = m.currency;
      } else {
        out[rule[0]] = String(value);
      }
    }
    return out;
  };
}

const customerProperties = toPropertiesBy([
  ['erp_customer_id', 'externalKey'],
  ['name', 'name'],
  ['erp_email', 'email'],
  ['phone', 'phone'],
  ['website', 'website'],
  ['erp_vat_number', 'vatNumber'],
  ['address', 'address.street'],
  ['city', 'address.city'],
  ['zip', 'address.postalCode'],
  ['country', 'address.countryCode'],
  ['erp_credit_limit', 'erp_credit_currency', 'creditLimit'],
  ['erp_segment', 'segment'],
  ['erp_active', 'active'],
]);

const contactProperties = toPropertiesBy([
  ['erp_contact_id', 'externalKey'],
  ['erp_customer_id', 'customerExternalKey'],
  ['firstname', 'firstName'],
  ['lastname', 'lastName'],
  ['email', 'email'],
  ['phone', 'phone'],
  ['jobtitle', 'jobTitle'],
]);

const productProperties = toPropertiesBy([
  ['erp_product_id', 'externalKey'],
  ['hs_sku', 'sku'],
  ['name', 'name'],
  ['description', 'description'],
  ['price', 'hs_price_currency', 'listPrice'],
  ['erp_unit', 'unit'],
  ['erp_active', 'active'],
]);

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
