/**
 * The sObjects the emulator serves and their describe (reference §2). Field types follow the
 * describe vocabulary (id, string, double, currency, int, boolean, date, datetime, reference,
 * picklist, email, phone, url, textarea). `ERP_Id__c` is a unique external id on every object;
 * `Legacy_Id__c` on Account is an external id that is not unique, so an upsert by it can match
 * several records (HTTP 300).
 */
export type FieldType =
  | 'id' | 'string' | 'double' | 'currency' | 'int' | 'boolean' | 'date' | 'datetime'
  | 'reference' | 'picklist' | 'email' | 'phone' | 'url' | 'textarea';

export interface FieldDef {
  name: string;
  type: FieldType;
  length?: number;
  /** Required on create (not nillable and no default). */
  required?: boolean;
  externalId?: boolean;
  unique?: boolean;
  /** System fields: readable, never written by clients. */
  system?: boolean;
  referenceTo?: string;
  picklist?: string[];
  custom?: boolean;
  /** Set on create only (PricebookEntry's Pricebook2Id and Product2Id). */
  createOnly?: boolean;
}

export interface SObjectDef {
  name: string;
  label: string;
  keyPrefix: string;
  fields: FieldDef[];
}

const SYSTEM: FieldDef[] = [
  { name: 'Id', type: 'id', system: true },
  { name: 'IsDeleted', type: 'boolean', system: true },
  { name: 'CreatedDate', type: 'datetime', system: true },
  { name: 'CreatedById', type: 'reference', system: true, referenceTo: 'User' },
  { name: 'LastModifiedDate', type: 'datetime', system: true },
  { name: 'LastModifiedById', type: 'reference', system: true, referenceTo: 'User' },
  { name: 'SystemModstamp', type: 'datetime', system: true },
];
const ERP_ID: FieldDef = { name: 'ERP_Id__c', type: 'string', length: 64, externalId: true, unique: true, custom: true };
const str = (name: string, length = 255, required = false): FieldDef => ({ name, type: 'string', length, required });

export const SOBJECTS: Record<string, SObjectDef> = {
  Account: {
    name: 'Account', label: 'Account', keyPrefix: '001',
    fields: [
      ...SYSTEM, str('Name', 255, true), str('AccountNumber', 40), { name: 'Phone', type: 'phone', length: 40 },
      { name: 'Website', type: 'url', length: 255 }, str('BillingStreet', 255), str('BillingCity', 40),
      str('BillingPostalCode', 20), str('BillingCountry', 80), str('BillingCountryCode', 10),
      { name: 'Industry', type: 'picklist', length: 255 }, { name: 'AnnualRevenue', type: 'currency' },
      { name: 'NumberOfEmployees', type: 'int' }, { name: 'Type', type: 'picklist', length: 255 },
      { name: 'Description', type: 'textarea', length: 32000 },
      ERP_ID, { name: 'Legacy_Id__c', type: 'string', length: 64, externalId: true, custom: true },
      { name: 'Credit_Limit__c', type: 'currency', custom: true }, str('ERP_Credit_Currency__c', 3),
      { name: 'ERP_Email__c', type: 'email', length: 80 }, str('ERP_VAT_Number__c', 40), str('ERP_Segment__c', 40),
      { name: 'ERP_Active__c', type: 'boolean' },
    ],
  },
  Contact: {
    name: 'Contact', label: 'Contact', keyPrefix: '003',
    fields: [
      ...SYSTEM, { name: 'AccountId', type: 'reference', referenceTo: 'Account' }, str('FirstName', 40),
      str('LastName', 80, true), { name: 'Email', type: 'email', length: 80 }, { name: 'Phone', type: 'phone', length: 40 },
      str('Title', 128), ERP_ID,
    ],
  },
  Product2: {
    name: 'Product2', label: 'Product', keyPrefix: '01t',
    fields: [
      ...SYSTEM, str('Name', 255, true), str('ProductCode', 255), { name: 'Description', type: 'textarea', length: 4000 },
      { name: 'IsActive', type: 'boolean' }, str('Family', 255), ERP_ID,
    ],
  },
  Pricebook2: {
    name: 'Pricebook2', label: 'Price Book', keyPrefix: '01s',
    fields: [...SYSTEM, str('Name', 255, true), { name: 'IsActive', type: 'boolean' }, { name: 'IsStandard', type: 'boolean' }],
  },
  PricebookEntry: {
    name: 'PricebookEntry', label: 'Price Book Entry', keyPrefix: '01u',
    fields: [
      ...SYSTEM, { name: 'Pricebook2Id', type: 'reference', referenceTo: 'Pricebook2', required: true, createOnly: true },
      { name: 'Product2Id', type: 'reference', referenceTo: 'Product2', required: true, createOnly: true },
      { name: 'UnitPrice', type: 'currency', required: true }, { name: 'IsActive', type: 'boolean' },
      { name: 'UseStandardPrice', type: 'boolean' }, str('CurrencyIsoCode', 3), ERP_ID,
    ],
  },
  Opportunity: {
    name: 'Opportunity', label: 'Opportunity', keyPrefix: '006',
    fields: [
      ...SYSTEM, { name: 'AccountId', type: 'reference', referenceTo: 'Account' }, str('Name', 120, true),
      { name: 'StageName', type: 'picklist', length: 255, required: true,
        picklist: ['Prospecting', 'Qualification', 'Proposal/Price Quote', 'Negotiation/Review', 'Closed Won', 'Closed Lost'] },
      { name: 'CloseDate', type: 'date', required: true }, { name: 'Amount', type: 'currency' },
      { name: 'Pricebook2Id', type: 'reference', referenceTo: 'Pricebook2' }, str('CurrencyIsoCode', 3), ERP_ID,
      str('ERP_Order_Number__c', 40), str('ERP_Order_Status__c', 40), str('ERP_Invoice_Number__c', 40),
      str('ERP_Invoice_Status__c', 40), str('ERP_Invoice_Amount__c', 40), str('ERP_Payment_Status__c', 40),
      { name: 'ERP_Sync_Error__c', type: 'textarea', length: 1000 },
    ],
  },
  OpportunityLineItem: {
    name: 'OpportunityLineItem', label: 'Opportunity Product', keyPrefix: '00k',
    fields: [
      ...SYSTEM, { name: 'OpportunityId', type: 'reference', referenceTo: 'Opportunity', required: true },
      { name: 'PricebookEntryId', type: 'reference', referenceTo: 'PricebookEntry', required: true },
      { name: 'Product2Id', type: 'reference', referenceTo: 'Product2' },
      { name: 'Quantity', type: 'double', required: true }, { name: 'UnitPrice', type: 'currency' },
      { name: 'Discount', type: 'double' }, ERP_ID,
    ],
  },
};

for (const o of Object.values(SOBJECTS)) for (const f of o.fields) if (f.name.endsWith('__c')) f.custom = true;

export const SYSTEM_COLUMNS: Record<string, string> = {
  Id: 'id',
  IsDeleted: 'is_deleted',
  CreatedDate: 'created_date',
  LastModifiedDate: 'last_modified_date',
  SystemModstamp: 'system_modstamp',
};

export function sobjectOf(name: string): SObjectDef | undefined {
  // sObject names are case-insensitive in URLs and SOQL.
  const exact = SOBJECTS[name];
  if (exact) return exact;
  return Object.values(SOBJECTS).find((o) => o.name.toLowerCase() === name.toLowerCase());
}

export function fieldOf(o: SObjectDef, name: string): FieldDef | undefined {
  const lower = name.toLowerCase();
  return o.fields.find((f) => f.name.toLowerCase() === lower);
}

/** `GET /sobjects/{S}/describe` (the parts clients read). */
export function describe(o: SObjectDef, version: string): Record<string, unknown> {
  const base = `/services/data/v${version}/sobjects/${o.name}`;
  return {
    name: o.name, label: o.label, labelPlural: `${o.label}s`, keyPrefix: o.keyPrefix, custom: false,
    createable: true, updateable: true, deletable: true, queryable: true, retrieveable: true, searchable: true, undeletable: true,
    urls: { sobject: base, describe: `${base}/describe`, rowTemplate: `${base}/{ID}` },
    fields: o.fields.map((f) => ({
      name: f.name, label: f.name.replace(/__c$/, '').replace(/_/g, ' '), type: f.type, soapType: soapType(f.type),
      length: f.length ?? 0, custom: f.custom === true, externalId: f.externalId === true, unique: f.unique === true,
      idLookup: f.type === 'id' || f.externalId === true, nillable: !f.required && !f.system,
      createable: !f.system, updateable: !f.system && !f.createOnly, defaultedOnCreate: f.system === true, calculated: false,
      referenceTo: f.referenceTo ? [f.referenceTo] : [],
      picklistValues: (f.picklist ?? []).map((v) => ({ active: true, defaultValue: false, label: v, value: v })),
    })),
  };
}

function soapType(t: FieldType): string {
  switch (t) {
    case 'id': case 'reference': return 'tns:ID';
    case 'double': case 'currency': return 'xsd:double';
    case 'int': return 'xsd:int';
    case 'boolean': return 'xsd:boolean';
    case 'date': return 'xsd:date';
    case 'datetime': return 'xsd:dateTime';
    default: return 'xsd:string';
  }
}
