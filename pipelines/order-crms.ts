import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigFileError, type Registry } from './load';

/** Fields of a deal the order-to-cash saga writes back (the demo CRM's deal columns name them). */
export const WRITE_BACK_FIELDS = [
  'erp_order_number', 'erp_order_status', 'erp_invoice_number', 'erp_invoice_status', 'erp_invoice_amount', 'erp_payment_status', 'last_sync_error',
] as const;

const sfField = z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,79}$/, 'expected a Salesforce field API name, e.g. "ERP_Order_Status__c"');

/** One CRM whose won deals the saga can take (config/order-crms.json). */
export const OrderCrmSchema = z
  .object({
    kind: z.literal('salesforce', { error: 'expected "salesforce" (the only CRM kind with deals besides the demo CRM)' }),
    /** The system of config/systems.json (kind salesforce). */
    system: z.string().min(1),
    /** The StageName of a won opportunity. */
    wonStage: z.string().min(1).default('Closed Won'),
    /** The org's currency: amounts of opportunities and their lines (multi-currency orgs are not read yet). */
    currency: z.string().regex(/^[A-Z]{3}$/, 'expected an ISO 4217 code, e.g. "EUR"').default('EUR'),
    entities: z
      .object({
        deals: z.string().default('opportunities'),
        lines: z.string().default('opportunityLines'),
        products: z.string().default('products'),
        accounts: z.string().default('accounts'),
      })
      .strict()
      .prefault({}),
    /** Mapping of mappings/definitions: the deal's account → canonical Customer. */
    customerMapping: z.string().default('salesforce-account-to-customer'),
    /** Saga value → the deal's field; values without a field are not written. */
    writeBack: z.partialRecord(z.enum(WRITE_BACK_FIELDS), sfField),
  })
  .strict();
export type OrderCrm = z.infer<typeof OrderCrmSchema> & { name: string; keyPrefix: string };

/**
 * config/order-crms.json, checked against the registry (the system exists and is of the kind,
 * the mapping exists); no file: no CRMs besides the demo CRM.
 */
export function loadOrderCrms(file: string, registry: Registry): Map<string, OrderCrm> {
  const out = new Map<string, OrderCrm>();
  if (!existsSync(file)) return out;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigFileError(file, '', `not valid JSON: ${(e as Error).message}`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigFileError(file, '', 'expected an object of CRM name → CRM config');
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    if (name.startsWith('$')) continue;
    if (!/^[a-z][a-z0-9-]{0,39}$/.test(name)) throw new ConfigFileError(file, name, 'a CRM name is lower-case letters, digits and "-", e.g. "salesforce"');
    const r = OrderCrmSchema.safeParse(value);
    if (!r.success) {
      const issue = r.error.issues[0]!;
      throw new ConfigFileError(file, [name, ...issue.path.map(String)].join('.'), issue.message);
    }
    const sys = registry.systems.get(r.data.system);
    if (!sys) throw new ConfigFileError(file, `${name}.system`, `no system "${r.data.system}" in systems.json (known: ${[...registry.systems.keys()].join(', ')})`);
    if (sys.kind !== r.data.kind) throw new ConfigFileError(file, `${name}.system`, `system "${r.data.system}" is of kind "${sys.kind}", expected "${r.data.kind}"`);
    if (!registry.mappings.has(r.data.customerMapping)) throw new ConfigFileError(file, `${name}.customerMapping`, `no mapping "${r.data.customerMapping}" in mappings/definitions`);
    out.set(name, { ...r.data, name, keyPrefix: sys.keyPrefix });
  }
  return out;
}
