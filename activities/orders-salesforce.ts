import { isNativeWriter, isRelatedReader, type Connector, type NativeWriter, type RelatedReader, type SourceRecord } from '../contracts/connector';
import { SyncError } from '../contracts/errors';
import type { DealSnapshot } from '../contracts/orders';
import type { CompiledMapping } from '../mappings/dsl/compile';
import { toMinorUnits } from '../mappings/dsl/money';
import type { OrderCrm } from '../pipelines/order-crms';
import type { OrdersCrm, OrderWriteBack } from './orders-crm';

type SalesforceLike = Connector & NativeWriter & RelatedReader;

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const num = (v: unknown): number => (typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN);

function minor(v: unknown, currency: string, field: string): number {
  try {
    return toMinorUnits(v as string | number, currency);
  } catch (e) {
    throw new SyncError('ValidationError', `${field}: ${(e as Error).message}`, { field });
  }
}

/** Keeps only what fits: a failure reason longer than the field would be refused. */
const clip = (v: string | null | undefined, max: number): string | null | undefined => (typeof v === 'string' && v.length > max ? `${v.slice(0, max - 1)}…` : v);

/**
 * Salesforce as the CRM of an order-to-cash saga, through the connector's capabilities only:
 * `read` (Opportunity, Product2, Account), `readRelated` (OpportunityLineItem by OpportunityId)
 * and `patchNative` (the write-back fields of config/order-crms.json).
 *
 * The deal is the Opportunity: won when `StageName` is the configured won stage; its account is
 * the ERP customer `<keyPrefix><AccountId>` (the key the Salesforce pipelines and pairs give it);
 * each line's product is the ERP product whose key is the Product2's `ERP_Id__c` (products come
 * from the ERP, pipeline erp-products-to-salesforce: a product without it, or unknown to the ERP,
 * stops the saga before anything is ordered).
 */
export function salesforceOrdersCrm(connector: Connector, config: OrderCrm, customerMapping: CompiledMapping): OrdersCrm {
  if (!isNativeWriter(connector) || !isRelatedReader(connector)) {
    throw new SyncError('ConfigError', `system "${config.system}" cannot serve as the CRM "${config.name}" of order-to-cash (it needs patchNative and readRelated)`);
  }
  const sf: SalesforceLike = connector;
  const e = config.entities;

  async function one(entity: string, id: string, what: string): Promise<SourceRecord> {
    const [r] = await sf.read(entity, [id]);
    if (!r || r.deleted) throw new SyncError('NotFound', `${what} ${id} does not exist in Salesforce${r?.deleted ? ' (it is in the Recycle Bin)' : ''}`);
    return r;
  }

  const accountIdOf = (customerKey: string): string => {
    if (!customerKey.startsWith(config.keyPrefix)) throw new SyncError('ValidationError', `customer key ${customerKey} is not a Salesforce account's (expected the prefix "${config.keyPrefix}")`, { field: 'accountId' });
    return customerKey.slice(config.keyPrefix.length);
  };

  return {
    async deal(dealId: string): Promise<DealSnapshot> {
      const opp = await one(e.deals, dealId, 'Opportunity');
      const d = opp.data;
      const currency = config.currency;
      const accountId = str(d.AccountId);
      if (!accountId) throw new SyncError('ValidationError', `Opportunity ${dealId} has no AccountId: set its account in Salesforce`, { field: 'AccountId' });
      const items = await sf.readRelated(e.lines, 'OpportunityId', [dealId]);
      if (!items.length) throw new SyncError('ValidationError', `Opportunity ${dealId} has no products (OpportunityLineItems)`, { field: 'lines' });
      const productIds = [...new Set(items.map((l) => str(l.data.Product2Id)).filter((p): p is string => p !== null))];
      const products = new Map((await sf.read(e.products, productIds)).map((p) => [p.key, p]));
      const lines = items.map((l, n) => {
        const pid = str(l.data.Product2Id);
        const product = pid ? products.get(pid) : undefined;
        const erpKey = str(product?.data.ERP_Id__c);
        if (!erpKey) {
          throw new SyncError('ValidationError', `OpportunityLineItem ${l.key}: Product2 ${pid ?? '(none)'} has no ERP_Id__c; products come from the ERP (pipeline erp-products-to-salesforce)`, { field: `lines.${n}.Product2Id` });
        }
        const quantity = num(l.data.Quantity);
        if (!Number.isFinite(quantity) || quantity <= 0) throw new SyncError('ValidationError', `OpportunityLineItem ${l.key}: Quantity must be a positive number`, { field: `lines.${n}.Quantity` });
        return {
          productId: erpKey, quantity, unitPriceMinor: minor(l.data.UnitPrice, currency, `lines.${n}.UnitPrice`),
          discountPercent: Number.isFinite(num(l.data.Discount)) ? num(l.data.Discount) : 0,
        };
      });
      const net = lines.reduce((sum, l) => sum + Math.round((l.quantity * l.unitPriceMinor * (100 - l.discountPercent)) / 100), 0);
      return {
        dealId, accountId: `${config.keyPrefix}${accountId}`, name: str(d.Name) ?? dealId,
        stage: d.StageName === config.wonStage ? 'won' : String(d.StageName ?? ''), currency,
        amountMinor: d.Amount === null || d.Amount === undefined ? net : minor(d.Amount, currency, 'Amount'), discountPercent: 0, lines,
      };
    },

    async customer(customerKey: string): Promise<Record<string, unknown>> {
      const account = await one(e.accounts, accountIdOf(customerKey), 'Account');
      const r = customerMapping.apply(account.data, { keyPrefix: config.keyPrefix });
      if (!r.ok) throw new SyncError('ValidationError', `Account ${account.key} cannot be mapped: ${r.issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`, { field: r.issues[0]?.field });
      return r.value;
    },

    product(productId: string): Promise<Record<string, unknown>> {
      return Promise.reject(
        new SyncError('NotFound', `product ${productId} (ERP_Id__c of a Salesforce Product2) does not exist in the ERP; products come from the ERP (pipeline erp-products-to-salesforce)`, { field: 'ERP_Id__c' }),
      );
    },

    async writeBack(dealId: string, values: OrderWriteBack): Promise<void> {
      const fields: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(values)) {
        const field = config.writeBack[k as keyof OrderWriteBack];
        if (field) fields[field] = k === 'last_sync_error' ? clip(v, 1000) : clip(v, 40);
      }
      if (!Object.keys(fields).length) return;
      const [out] = await sf.patchNative(e.deals, [{ key: dealId, values: fields }]);
      if (!out) throw new SyncError('Transient', `write-back to Opportunity ${dealId}: Salesforce returned no outcome`);
      if (!out.ok) throw new SyncError(out.error.type, `write-back to Opportunity ${dealId}: ${out.error.message}`, out.error.field ? { field: out.error.field } : {});
    },
  };
}
