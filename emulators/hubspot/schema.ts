/** Object types, default properties and association types the emulator knows. */

export const OBJECT_TYPES = ['companies', 'contacts', 'deals', 'line_items', 'products'] as const;
export type ObjectType = (typeof OBJECT_TYPES)[number];

const TYPE_IDS: Record<string, ObjectType> = {
  '0-1': 'contacts',
  '0-2': 'companies',
  '0-3': 'deals',
  '0-7': 'products',
  '0-8': 'line_items',
  contact: 'contacts',
  company: 'companies',
  deal: 'deals',
  product: 'products',
  line_item: 'line_items',
};

export function resolveObjectType(raw: string): ObjectType | undefined {
  const lower = raw.toLowerCase();
  if ((OBJECT_TYPES as readonly string[]).includes(lower)) return lower as ObjectType;
  return TYPE_IDS[lower];
}

export type PropertyType = 'string' | 'number' | 'datetime' | 'enumeration' | 'bool';

export interface PropertyDefinition {
  name: string;
  type: PropertyType;
  hasUniqueValue: boolean;
  /** Allowed values for enumerations. */
  options?: string[];
  /** Set by the system, refused on writes. */
  readOnly?: boolean;
  /** `email` values are checked for a plausible address. */
  format?: 'email';
}

/** Properties every object has; their values live in columns, not in the JSON bag. */
export const SYSTEM_PROPERTIES: readonly PropertyDefinition[] = [
  { name: 'hs_object_id', type: 'number', hasUniqueValue: true, readOnly: true },
  { name: 'createdate', type: 'datetime', hasUniqueValue: false, readOnly: true },
  { name: 'hs_lastmodifieddate', type: 'datetime', hasUniqueValue: false, readOnly: true },
];

const s = (name: string, extra: Partial<PropertyDefinition> = {}): PropertyDefinition => ({
  name,
  type: 'string',
  hasUniqueValue: false,
  ...extra,
});
const n = (name: string): PropertyDefinition => ({ name, type: 'number', hasUniqueValue: false });
const bool = (name: string): PropertyDefinition => ({ name, type: 'bool', hasUniqueValue: false, options: ['true', 'false'] });

/** Standard properties plus the ERP custom properties the connector writes. */
export const DEFAULT_PROPERTIES: Record<ObjectType, PropertyDefinition[]> = {
  companies: [
    s('name'), s('domain'), s('website'), s('phone'), s('address'), s('city'), s('zip'), s('country'),
    s('industry'), s('description'), n('numberofemployees'), n('annualrevenue'),
    s('erp_customer_id', { hasUniqueValue: true }), s('erp_email', { format: 'email' }), s('erp_vat_number'),
    n('erp_credit_limit'), s('erp_credit_currency'),
    { name: 'erp_segment', type: 'enumeration', hasUniqueValue: false, options: ['enterprise', 'mid-market', 'smb'] },
    bool('erp_active'),
  ],
  contacts: [
    s('firstname'), s('lastname'), s('email', { hasUniqueValue: true, format: 'email' }), s('phone'), s('jobtitle'),
    s('company'), { name: 'lastmodifieddate', type: 'datetime', hasUniqueValue: false, readOnly: true },
    s('erp_contact_id', { hasUniqueValue: true }), s('erp_customer_id'),
    // HubSpot's "Primary Associated Company ID": kept in step with the contact→company association.
    n('associatedcompanyid'),
  ],
  deals: [
    s('dealname'), n('amount'), { name: 'closedate', type: 'datetime', hasUniqueValue: false }, s('pipeline'),
    s('dealstage'), s('deal_currency_code'), s('erp_order_id', { hasUniqueValue: true }),
  ],
  line_items: [
    s('name'), n('quantity'), n('amount'), n('price'), n('hs_discount_percentage'), s('hs_product_id'),
    s('hs_sku'), s('description'),
  ],
  products: [
    s('name'), s('description'), n('price'), s('hs_sku'), s('hs_price_currency'),
    s('erp_product_id', { hasUniqueValue: true }),
    { name: 'erp_unit', type: 'enumeration', hasUniqueValue: false, options: ['unit', 'hour', 'day', 'kg', 'license'] },
    bool('erp_active'),
  ],
};

/** Properties returned when the request names none (reference §1 "Default returned properties"). */
export const DEFAULT_RETURNED: Record<ObjectType, string[]> = {
  companies: ['name', 'domain', 'createdate', 'hs_lastmodifieddate', 'hs_object_id'],
  contacts: ['firstname', 'lastname', 'email', 'lastmodifieddate', 'hs_object_id', 'createdate'],
  deals: ['dealname', 'amount', 'closedate', 'pipeline', 'dealstage', 'createdate', 'hs_lastmodifieddate', 'hs_object_id'],
  line_items: ['quantity', 'amount', 'price', 'createdate', 'hs_lastmodifieddate', 'hs_object_id'],
  products: ['name', 'description', 'price', 'createdate', 'hs_lastmodifieddate', 'hs_object_id'],
};

/** Default (unlabeled) association type ids, both directions. */
const DEFAULT_ASSOCIATIONS: Record<string, number> = {
  'companies->contacts': 280,
  'contacts->companies': 279,
  'deals->line_items': 19,
  'line_items->deals': 20,
  'companies->deals': 342,
  'deals->companies': 341,
  'contacts->deals': 4,
  'deals->contacts': 3,
};

export function defaultAssociationTypeId(from: ObjectType, to: ObjectType): number | undefined {
  return DEFAULT_ASSOCIATIONS[`${from}->${to}`];
}

/** Column-backed properties: their SQL expression. */
export function columnFor(type: ObjectType, property: string): string | undefined {
  if (property === 'hs_object_id') return 'id';
  if (property === 'createdate') return 'created_at';
  if (property === 'hs_lastmodifieddate') return 'updated_at';
  if (property === 'lastmodifieddate' && type === 'contacts') return 'updated_at';
  return undefined;
}

/** The target type of an association type id used inline on create. */
export function associationTarget(from: ObjectType, typeId: number): ObjectType | undefined {
  for (const [key, id] of Object.entries(DEFAULT_ASSOCIATIONS)) {
    const [f, t] = key.split('->') as [ObjectType, ObjectType];
    if (f === from && id === typeId) return t;
  }
  return undefined;
}
