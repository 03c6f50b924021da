import { fromMinorUnits, moneyValue } from '../mappings/dsl/money';
import { activityInfo, heartbeat } from '@temporalio/activity';
import type { TrytonConnector } from '../connectors/tryton/connector';
import type { WriteOutcome } from '../connectors/types';
import { SyncError } from '../contracts/errors';
import type { DealSnapshot } from '../contracts/orders';
import type { CompiledMapping } from '../mappings/dsl/compile';
import type { DealsDb, OrdersCrm, OrderWriteBack } from './orders-crm';

/** The ERP side of a saga: the Tryton connector (or any connector with the sale steps). */
export type OrdersErp = Pick<TrytonConnector, 'upsert' | 'findByExternalKeys' | 'read' | 'delete' | 'quoteSalesOrders' | 'confirmSalesOrders'>;

/** Resolved lazily, so workers of other families never need the ERP's secrets. */
export interface OrdersDeps {
  erp(): OrdersErp;
  deals(): DealsDb;
  /** CRM account → canonical Customer, CRM product → canonical Product (mappings/definitions). */
  customerMapping(): CompiledMapping;
  productMapping(): CompiledMapping;
  /** A CRM of config/order-crms.json by name (inputs with `crm`); absent: only the demo CRM. */
  crm?(name: string): OrdersCrm;
}

/** The CRM a saga's activity input names (`crm`), or the demo CRM. */
type CrmRef = { crm?: string };

/** The sales order's external key in the ERP (Tryton: sale `reference`). */
export const orderExternalKey = (dealId: string): string => `DEAL-${dealId}`;

function check(outcome: WriteOutcome | undefined, what: string): string {
  if (!outcome) throw new SyncError('Transient', `${what}: the ERP returned no outcome`);
  if (!outcome.ok) throw new SyncError(outcome.error.type, `${what}: ${outcome.error.message}`, outcome.error.field ? { field: outcome.error.field } : {});
  return outcome.targetKey;
}

function mapped(mapping: CompiledMapping, row: Record<string, unknown> | undefined, what: string): Record<string, unknown> {
  if (!row) throw new SyncError('NotFound', `${what} does not exist in the CRM`);
  const r = mapping.apply(row);
  if (!r.ok) throw new SyncError('ValidationError', `${what} cannot be mapped: ${r.issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`, { field: r.issues[0]?.field });
  return r.value;
}

/** Net discount of a line after the deal's own discount, in percent. */
const combined = (line: number, deal: number): number => Math.round((100 - ((100 - line) * (100 - deal)) / 100) * 100) / 100;

/**
 * The steps of the order-to-cash saga and their undos. Each is idempotent by external key:
 * a retried create finds what the first attempt wrote instead of writing twice.
 */
export function createOrderActivities(deps: OrdersDeps) {
  const demoCrm: OrdersCrm = {
    deal: (dealId) => Promise.resolve().then(() => deps.deals().deal(dealId)),
    customer: (id) => Promise.resolve().then(() => mapped(deps.customerMapping(), deps.deals().row('accounts', id), `account ${id}`)),
    product: (id) => Promise.resolve().then(() => mapped(deps.productMapping(), deps.deals().row('products', id), `product ${id}`)),
    writeBack: (dealId, values) => {
      const { erp_invoice_status: _status, ...columns } = values;
      void _status; // the demo CRM's deals have no column for it
      return Promise.resolve().then(() => deps.deals().writeBack(dealId, columns));
    },
  };
  const crmOf = (ref: CrmRef): OrdersCrm => {
    if (ref.crm === undefined) return demoCrm;
    if (!deps.crm) throw new SyncError('ConfigError', `this worker knows no CRM "${ref.crm}" (only the demo CRM); add it to config/order-crms.json`, { field: 'crm' });
    return deps.crm(ref.crm);
  };
  const writeBack = (ref: CrmRef & { dealId: string }, values: OrderWriteBack): Promise<void> => crmOf(ref).writeBack(ref.dealId, values);

  return {
    async loadDeal(input: { dealId: string } & CrmRef): Promise<DealSnapshot> {
      const deal = await crmOf(input).deal(input.dealId);
      if (deal.stage !== 'won') throw new SyncError('ValidationError', `deal ${deal.dealId} is "${deal.stage}", not won`, { field: 'stage' });
      return deal;
    },

    /** Creates the ERP customer when missing; `created` tells the saga to undo it on failure. */
    async ensureCustomer(input: { accountId: string } & CrmRef): Promise<{ customerKey: string; targetKey: string; created: boolean }> {
      const erp = deps.erp();
      const found = (await erp.findByExternalKeys('customers', [input.accountId])).get(input.accountId);
      // An earlier attempt that created the customer and then failed left a heartbeat saying so:
      // the customer is still this run's to undo.
      const earlier = activityInfo().heartbeatDetails as { creating?: string[] } | undefined;
      if (found) return { customerKey: input.accountId, targetKey: found, created: earlier?.creating?.includes(input.accountId) === true };
      heartbeat({ creating: [input.accountId] });
      const fields = await crmOf(input).customer(input.accountId);
      const [out] = await erp.upsert('customers', [{ externalKey: input.accountId, fields }]);
      const targetKey = check(out, `customer ${input.accountId}`);
      return { customerKey: input.accountId, targetKey, created: out?.ok === true && out.action === 'created' };
    },

    /** Creates missing products; returns the target keys of those it created (for the undo). */
    async ensureProducts(input: { productIds: string[] } & CrmRef): Promise<{ createdTargetKeys: string[]; existing: number }> {
      const erp = deps.erp();
      const ids = [...new Set(input.productIds)];
      const found = await erp.findByExternalKeys('products', ids);
      const earlier = new Set((activityInfo().heartbeatDetails as { creating?: string[] } | undefined)?.creating ?? []);
      const createdBefore = ids.filter((id) => found.has(id) && earlier.has(id)).map((id) => found.get(id)!);
      const missing = ids.filter((id) => !found.has(id));
      if (!missing.length) return { createdTargetKeys: createdBefore, existing: ids.length - createdBefore.length };
      heartbeat({ creating: [...earlier, ...missing] });
      const crm = crmOf(input);
      const batch: { externalKey: string; fields: Record<string, unknown> }[] = [];
      for (const id of missing) batch.push({ externalKey: id, fields: await crm.product(id) });
      const outs = await erp.upsert('products', batch);
      const created = outs.map((o, n) => ({ key: check(o, `product ${missing[n]}`), created: o.ok && o.action === 'created' }));
      return { createdTargetKeys: [...createdBefore, ...created.filter((c) => c.created).map((c) => c.key)], existing: ids.length - missing.length - createdBefore.length };
    },

    /** The sales order as a draft, carrying the deal as external reference. */
    async createDraftOrder(input: { deal: DealSnapshot; orderDate: string }): Promise<{ orderKey: string; externalKey: string }> {
      const { deal } = input;
      const externalKey = orderExternalKey(deal.dealId);
      const fields = {
        externalKey, customerExternalKey: deal.accountId, orderDate: input.orderDate, currency: deal.currency,
        reference: `CRM deal ${deal.dealId}: ${deal.name}`,
        lines: deal.lines.map((l) => ({
          productExternalKey: l.productId, quantity: l.quantity, unitPrice: { amountMinor: l.unitPriceMinor, currency: deal.currency },
          discountPercent: combined(l.discountPercent, deal.discountPercent),
        })),
      };
      const [out] = await deps.erp().upsert('salesOrders', [{ externalKey, fields }]);
      return { orderKey: check(out, `sales order ${externalKey}`), externalKey };
    },

    async quoteOrder(input: { orderKey: string }): Promise<{ state: string | null; number: string | null }> {
      const [r] = await deps.erp().quoteSalesOrders([input.orderKey]);
      if (!r?.ok) throw new SyncError(r?.error?.type ?? 'ValidationError', `quote of sale ${input.orderKey}: ${r?.error?.message ?? 'no outcome'}`);
      return { state: r.state, number: r.number ?? null };
    },

    /** Confirms and demands that the order really reached processing (invoice and shipment made). */
    async confirmOrder(input: { orderKey: string }): Promise<{ state: string | null; number: string | null }> {
      const [r] = await deps.erp().confirmSalesOrders([input.orderKey]);
      if (!r?.ok) throw new SyncError(r?.error?.type ?? 'ValidationError', `confirmation of sale ${input.orderKey}: ${r?.error?.message ?? 'no outcome'}`);
      return { state: r.state, number: r.number ?? null };
    },

    async writeBackOrder(input: { dealId: string; orderNumber: string | null; orderStatus: string } & CrmRef): Promise<void> {
      await writeBack(input, { erp_order_number: input.orderNumber, erp_order_status: input.orderStatus, last_sync_error: null });
    },

    /** The order's invoice as the ERP holds it now (null while there is none). */
    async checkInvoice(input: { orderKey: string }): Promise<InvoiceState | null> {
      const erp = deps.erp();
      const [sale] = await erp.read('salesOrders', [input.orderKey]);
      if (!sale) throw new SyncError('NotFound', `sale ${input.orderKey} no longer exists in the ERP`);
      const invoiceIds = ((sale.data.invoices as number[] | undefined) ?? []).map(String);
      if (!invoiceIds.length) return null;
      const invoices = (await erp.read('invoices', invoiceIds)).filter((i) => i.data.state !== 'cancelled');
      const inv = invoices[0];
      if (!inv) return null;
      const total = inv.data.total as { amountMinor: number; currency: string } | null;
      const due = inv.data.amountDue as { amountMinor: number; currency: string } | null;
      return {
        invoiceKey: inv.key, number: (inv.data.number as string | null) ?? null, state: String(inv.data.state),
        posted: inv.data.state === 'posted' || inv.data.state === 'paid', paid: inv.data.paid === true,
        totalMinor: total?.amountMinor ?? null, amountDueMinor: due?.amountMinor ?? null, currency: total?.currency ?? null,
      };
    },

    async writeBackInvoice(input: { dealId: string; invoice: InvoiceState } & CrmRef): Promise<void> {
      const { invoice } = input;
      await writeBack(input, {
        erp_invoice_number: invoice.number,
        erp_invoice_status: invoice.state,
        erp_invoice_amount: invoice.totalMinor === null ? null : invoice.currency ? moneyValue(invoice.totalMinor, invoice.currency) : fromMinorUnits(invoice.totalMinor, 'EUR'),
        erp_payment_status: invoice.paid ? 'paid' : 'open',
      });
    },

    async writeBackPayment(input: { dealId: string; paymentStatus: string } & CrmRef): Promise<void> {
      await writeBack(input, { erp_payment_status: input.paymentStatus, ...(input.crm !== undefined && input.paymentStatus === 'paid' ? { erp_invoice_status: 'paid' } : {}) });
    },

    // ---- undos (compensations): idempotent, a second run is a no-op ----

    async cancelDraftOrder(input: { orderKey: string }): Promise<void> {
      const erp = deps.erp();
      const [sale] = await erp.read('salesOrders', [input.orderKey]);
      if (!sale) return;
      await erp.delete('salesOrders', [input.orderKey]);
    },

    async archiveProducts(input: { targetKeys: string[] }): Promise<void> {
      if (input.targetKeys.length) await deps.erp().delete('products', input.targetKeys);
    },

    async deactivateCustomer(input: { targetKey: string }): Promise<void> {
      await deps.erp().delete('customers', [input.targetKey]);
    },

    async recordDealFailure(input: { dealId: string; reason: string; orderStatus: string | null } & CrmRef): Promise<void> {
      await writeBack(input, { last_sync_error: input.reason.slice(0, 1000), ...(input.orderStatus ? { erp_order_status: input.orderStatus } : {}) });
    },
  };
}

export interface InvoiceState {
  invoiceKey: string;
  number: string | null;
  state: string;
  posted: boolean;
  paid: boolean;
  totalMinor: number | null;
  amountDueMinor: number | null;
  currency: string | null;
}

export type OrderActivities = ReturnType<typeof createOrderActivities>;
