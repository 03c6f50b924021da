import { z } from 'zod';

/**
 * The canonical model: what a record looks like between a source and a target, whatever the
 * systems. Mappings produce these shapes; connectors write them. Pure: no I/O, no clock.
 */

const isoDate = z.iso.date();
const isoDateTime = z.iso.datetime({ offset: true });
const iso2 = z.string().regex(/^[A-Z]{2}$/, 'expected an ISO 3166-1 alpha-2 country code');
const currency = z.string().regex(/^[A-Z]{3}$/, 'expected an ISO 4217 currency code');
const e164 = z.string().regex(/^\+[1-9]\d{6,14}$/, 'expected an E.164 phone number like +4930123456');

/** An amount in minor units (cents) with its currency: no floating point money. */
export const MoneySchema = z.object({ amountMinor: z.number().int(), currency });
export type Money = z.infer<typeof MoneySchema>;

export const AddressSchema = z.object({
  street: z.string().max(200).optional(),
  city: z.string().max(100).optional(),
  postalCode: z.string().max(20).optional(),
  countryCode: iso2.optional(),
});
export type Address = z.infer<typeof AddressSchema>;

/** A customer account (CRM account / company; ERP customer / party). */
export const CustomerSchema = z.object({
  externalKey: z.string().min(1),
  name: z.string().min(1).max(200),
  email: z.email().optional(),
  phone: e164.optional(),
  website: z.string().max(200).optional(),
  vatNumber: z.string().max(40).optional(),
  address: AddressSchema.optional(),
  creditLimit: MoneySchema.optional(),
  segment: z.enum(['enterprise', 'mid-market', 'smb']).optional(),
  active: z.boolean().default(true),
});
export type Customer = z.infer<typeof CustomerSchema>;

/** A person at a customer. */
export const ContactSchema = z.object({
  externalKey: z.string().min(1),
  customerExternalKey: z.string().min(1),
  firstName: z.string().max(100).optional(),
  lastName: z.string().min(1).max(100),
  email: z.email().optional(),
  phone: e164.optional(),
  jobTitle: z.string().max(100).optional(),
});
export type Contact = z.infer<typeof ContactSchema>;

/** A sellable product with its list price. */
export const ProductSchema = z.object({
  externalKey: z.string().min(1),
  sku: z.string().min(1).max(64),
  name: z.string().min(1).max(200),
  description: z.string().max(2000).optional(),
  listPrice: MoneySchema,
  unit: z.enum(['unit', 'hour', 'day', 'kg', 'license']).default('unit'),
  active: z.boolean().default(true),
});
export type Product = z.infer<typeof ProductSchema>;

export const SalesOrderLineSchema = z.object({
  productExternalKey: z.string().min(1),
  quantity: z.number().positive(),
  unitPrice: MoneySchema,
  /** Discount in percent, 0–100. */
  discountPercent: z.number().min(0).max(100).default(0),
  description: z.string().max(500).optional(),
});
export type SalesOrderLine = z.infer<typeof SalesOrderLineSchema>;

/** An order, typically from a won deal. */
export const SalesOrderSchema = z.object({
  externalKey: z.string().min(1),
  customerExternalKey: z.string().min(1),
  orderDate: isoDate,
  currency,
  lines: z.array(SalesOrderLineSchema).min(1),
  reference: z.string().max(100).optional(),
  status: z.enum(['draft', 'quotation', 'confirmed', 'processing', 'done', 'cancelled']).default('draft'),
});
export type SalesOrder = z.infer<typeof SalesOrderSchema>;

export const InvoiceSchema = z.object({
  externalKey: z.string().min(1),
  number: z.string().optional(),
  customerExternalKey: z.string().min(1),
  orderExternalKey: z.string().optional(),
  invoiceDate: isoDate.optional(),
  total: MoneySchema,
  amountDue: MoneySchema,
  state: z.enum(['draft', 'validated', 'posted', 'paid', 'cancelled']),
});
export type Invoice = z.infer<typeof InvoiceSchema>;

export const PaymentSchema = z.object({
  externalKey: z.string().min(1),
  invoiceExternalKey: z.string().min(1),
  amount: MoneySchema,
  paidAt: isoDateTime,
});
export type Payment = z.infer<typeof PaymentSchema>;

/** Canonical entities by name, as pipelines and mappings refer to them. */
export const CANONICAL_SCHEMAS = {
  Customer: CustomerSchema,
  Contact: ContactSchema,
  Product: ProductSchema,
  SalesOrder: SalesOrderSchema,
  Invoice: InvoiceSchema,
  Payment: PaymentSchema,
} as const;
export type CanonicalEntity = keyof typeof CANONICAL_SCHEMAS;
export const CANONICAL_ENTITY_NAMES = Object.keys(CANONICAL_SCHEMAS) as CanonicalEntity[];
