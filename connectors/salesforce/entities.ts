import type { EntityDescription } from '../../contracts/connector';
import { minorToDecimal } from '../hubspot/entities';

/**
 * The Salesforce objects the connector serves, and how canonical fields become sObject fields.
 * Every writable object carries the ERP key in the unique external-id field `ERP_Id__c`, the key
 * of upserts by external id (Collections and Bulk 2.0).
 */
export interface SalesforceEntity {
  name: string;
  sobject: string;
  canonical?: string;
  /** Fields read by fetchChanges/read (Id, SystemModstamp and IsDeleted are always added). */
  readFields: string[];
  /** External-id field of upserts; entities without one are read-only. */
  externalIdField?: string;
  toFields?: (fields: Record<string, unknown>) => Record<string, unknown>;
  /**
   * After the upsert, keep a standard price book entry per written record (keyed by the same
   * ERP_Id__c) with this canonical Money field as its UnitPrice (Product2 with its list price).
   */
  standardPriceField?: string;
  /**
   * The record's Account (Contact.AccountId). Writes: the canonical field `field` holds the
   * customer's ERP key; the Account is the one whose ERP_Id__c is that key, else, for a key
   * `<prefix><Account Id>` (an ERP customer made from a Salesforce Account, e.g. `SF-001…`), that
   * Account; a record whose Account is not in Salesforce is refused (NotFound). Reads: `readAs`
   * is added to each record with its Account's ERP_Id__c (null when the Account has none).
   */
  accountLink?: { field: string; readAs: string };
  /** Incremental reads see only records meeting this SOQL condition. */
  where?: string;
  /**
   * Writes of a key `<prefix><Id>` whose Id has this key prefix (e.g. `003`, a Contact made in
   * Salesforce that the ERP holds as `SF-003…`) update that record by Id, without setting its
   * external id: the record comes back to itself instead of being created again.
   */
  ownIdPrefix?: string;
}

/** Canonical-side field the connector fills with a resolved Account Id (see `accountLink`). */
export const ACCOUNT_ID_FIELD = '$AccountId';

interface Money {
  amountMinor: number;
  currency: string;
}

function at(fields: Record<string, unknown>, path: string): unknown {
  let v: unknown = fields;
  for (const part of path.split('.')) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

/** `[sfField, canonicalPath]` copies; `[sfField, canonicalPath, 'money']` writes a decimal from minor units. */
type Rule = readonly [string, string] | readonly [string, string, 'money'];

function fieldsBy(rules: readonly Rule[]): (fields: Record<string, unknown>) => Record<string, unknown> {
  return (fields) => {
    const out: Record<string, unknown> = {};
    for (const rule of rules) {
      const v = at(fields, rule[1]);
      if (v === undefined) continue;
      if (v === null) out[rule[0]] = null;
      else if (rule.length === 3) out[rule[0]] = Number(minorToDecimal((v as Money).amountMinor));
      else out[rule[0]] = v;
    }
    return out;
  };
}

export const SALESFORCE_ENTITIES: Record<string, SalesforceEntity> = {
  accounts: {
    name: 'accounts',
    sobject: 'Account',
    canonical: 'Customer',
    readFields: [
      'Name', 'Phone', 'Website', 'BillingStreet', 'BillingCity', 'BillingPostalCode', 'BillingCountryCode', 'Credit_Limit__c',
      'ERP_Credit_Currency__c', 'ERP_Email__c', 'ERP_VAT_Number__c', 'ERP_Segment__c', 'ERP_Active__c', 'ERP_Id__c', 'LastModifiedDate',
    ],
    externalIdField: 'ERP_Id__c',
    toFields: fieldsBy([
      ['Name', 'name'],
      ['Phone', 'phone'],
      ['Website', 'website'],
      ['BillingStreet', 'address.street'],
      ['BillingCity', 'address.city'],
      ['BillingPostalCode', 'address.postalCode'],
      ['BillingCountryCode', 'address.countryCode'],
      ['Credit_Limit__c', 'creditLimit', 'money'],
      ['ERP_Credit_Currency__c', 'creditLimit.currency'],
      ['ERP_Email__c', 'email'],
      ['ERP_VAT_Number__c', 'vatNumber'],
      ['ERP_Segment__c', 'segment'],
      ['ERP_Active__c', 'active'],
    ]),
  },
  contacts: {
    name: 'contacts',
    sobject: 'Contact',
    canonical: 'Contact',
    readFields: ['AccountId', 'FirstName', 'LastName', 'Email', 'Phone', 'Title', 'ERP_Id__c', 'LastModifiedDate'],
    externalIdField: 'ERP_Id__c',
    accountLink: { field: 'customerExternalKey', readAs: 'Account_ERP_Id__c' },
    ownIdPrefix: '003',
    toFields: fieldsBy([
      ['AccountId', ACCOUNT_ID_FIELD],
      ['FirstName', 'firstName'],
      ['LastName', 'lastName'],
      ['Email', 'email'],
      ['Phone', 'phone'],
      ['Title', 'jobTitle'],
    ]),
  },
  /** Read-only: Contacts made in Salesforce (no ERP_Id__c): what salesforce-contacts-to-erp reads. */
  salesforceContacts: {
    name: 'salesforceContacts',
    sobject: 'Contact',
    canonical: 'Contact',
    readFields: ['AccountId', 'FirstName', 'LastName', 'Email', 'Phone', 'Title', 'ERP_Id__c', 'LastModifiedDate'],
    accountLink: { field: 'customerExternalKey', readAs: 'Account_ERP_Id__c' },
    where: 'ERP_Id__c = null',
  },
  products: {
    name: 'products',
    sobject: 'Product2',
    canonical: 'Product',
    readFields: ['Name', 'ProductCode', 'Description', 'IsActive', 'Family', 'ERP_Id__c', 'LastModifiedDate'],
    externalIdField: 'ERP_Id__c',
    toFields: fieldsBy([
      ['Name', 'name'],
      ['ProductCode', 'sku'],
      ['Description', 'description'],
      ['IsActive', 'active'],
    ]),
    standardPriceField: 'listPrice',
  },
  opportunities: {
    name: 'opportunities',
    sobject: 'Opportunity',
    readFields: ['Name', 'AccountId', 'StageName', 'CloseDate', 'Amount', 'ERP_Id__c', 'LastModifiedDate'],
  },
  /** Read-only: the products of an opportunity (readRelated by OpportunityId). */
  opportunityLines: {
    name: 'opportunityLines',
    sobject: 'OpportunityLineItem',
    readFields: ['OpportunityId', 'PricebookEntryId', 'Product2Id', 'Quantity', 'UnitPrice', 'Discount', 'LastModifiedDate'],
  },
};

export function describeEntity(e: SalesforceEntity): EntityDescription {
  const canWrite = e.externalIdField !== undefined && e.toFields !== undefined;
  return { name: e.name, ...(e.canonical ? { canonical: e.canonical } : {}), canRead: true, canWrite, canDelete: canWrite, incremental: true };
}
