import { SyncError } from '../../contracts/errors';
import type { SourceRecord, WriteRequest } from '../types';
import type { LabelMap } from './batch';
import { decimalFromMinor, minorFromDecimal, TrytonDate, TrytonDecimal } from './codec';
import { keyedEntity, type EntityDeps, type EntityHandler } from './entity';
import { ids, modifiedAt, nested, nestedList, plain, str, type Row } from './values';

/** Lookups include archived records, like the customer and product entities' own searches. */
const ALL = { active_test: false };

/**
 * Sales orders ⇄ `sale.sale`. External key: the sale `reference` (the customer's reference
 * field, free text and searchable). `upsert` writes draft orders only; the workflow moves on
 * with quote/confirm (see sale-workflow.ts). Canonical `reference` goes to `description`.
 * Tryton 6.0 without sale_discount has no line discount, so a discount is folded into the
 * unit price (rounded to the currency's minor unit).
 */
const SALE_FIELDS = [
  'reference', 'number', 'state', 'description', 'party', 'party.code', 'currency', 'currency.code', 'sale_date',
  'invoice_state', 'shipment_state', 'total_amount', 'invoices', '_timestamp', 'create_date', 'write_date',
  'lines.product', 'lines.quantity', 'lines.unit_price', 'lines.description', 'lines.type',
];
const LABELS: LabelMap = { Party: 'customerExternalKey', Currency: 'currency', Quantity: 'lines.quantity', 'Unit Price': 'lines.unitPrice', Product: 'lines.productExternalKey', 'Invoice Address': 'customerExternalKey', Reference: 'externalKey' };

interface Line { productExternalKey: string; quantity: number; unitPrice: { amountMinor: number; currency: string }; discountPercent?: number; description?: string }
interface PartyInfo { id: number; address?: number }
interface ProductInfo { id: number; uom: number; name: string }

export function createSalesOrders(deps: EntityDeps): EntityHandler {
  const { client, lookups, customerCodePrefix: prefix } = deps;

  function toRecord(row: Row): SourceRecord {
    const code = str(nested(row, 'party')?.code);
    const data = {
      ...Object.fromEntries(Object.entries(row).filter(([k]) => !k.endsWith('.'))),
      customerExternalKey: code?.startsWith(prefix) ? code.slice(prefix.length) : null,
      currency_code: nested(row, 'currency')?.code ?? null,
      lines: nestedList(row, 'lines').map((l) => ({ product: l.product, quantity: l.quantity, unit_price: l.unit_price, description: l.description, type: l.type })),
    };
    return { key: String(row.id), modifiedAt: modifiedAt(row).toISOString(), data: plain(data) as Record<string, unknown> };
  }

  async function byReferences(keys: string[]): Promise<Map<string, Row>> {
    const rows = await client.model<Row[]>('sale.sale', 'search_read', [[['reference', 'in', keys]], 0, null, [['id', 'ASC']], SALE_FIELDS]);
    return new Map(rows.map((r) => [String(r.reference), r]));
  }

  async function parties(keys: string[]): Promise<Map<string, PartyInfo>> {
    // Archived parties too, as "ensure customer" finds them: a churned account's customer is inactive.
    const rows = await client.model<Row[]>('party.party', 'search_read', [[['code', 'in', keys.map((k) => prefix + k)]], 0, null, null, ['code', 'addresses']], ALL);
    return new Map(rows.map((r) => [String(r.code).slice(prefix.length), { id: r.id, address: (r.addresses as number[] | undefined)?.[0] }]));
  }

  async function products(codes: string[]): Promise<Map<string, ProductInfo>> {
    const rows = await client.model<Row[]>('product.product', 'search_read', [[['code', 'in', codes]], 0, null, null, ['code', 'template.sale_uom', 'template.name']], ALL);
    return new Map(rows.map((r) => [String(r.code), { id: r.id, uom: Number(nested(r, 'template')?.sale_uom), name: String(nested(r, 'template')?.name ?? '') }]));
  }

  /** Header + line values of a draft sale, resolving customer, products and currency. */
  async function saleValues(r: WriteRequest, ps: Map<string, PartyInfo>, prods: Map<string, ProductInfo>) {
    const f = r.fields;
    const party = ps.get(String(f.customerExternalKey));
    if (!party) throw new SyncError('NotFound', `customer "${String(f.customerExternalKey)}" does not exist in Tryton`, { field: 'customerExternalKey' });
    if (party.address === undefined) throw new SyncError('ValidationError', `customer "${String(f.customerExternalKey)}" has no address in Tryton (needed for invoicing and shipping)`, { field: 'customerExternalKey' });
    const currency = await lookups.currency(String(f.currency));
    if (!currency) throw new SyncError('ValidationError', `currency "${String(f.currency)}" is not defined in Tryton`, { field: 'currency' });
    const lines = (Array.isArray(f.lines) ? (f.lines as Line[]) : []).map((l, n) => {
      const p = prods.get(l.productExternalKey);
      if (!p) throw new SyncError('NotFound', `product "${l.productExternalKey}" does not exist in Tryton`, { field: `lines.${n}.productExternalKey` });
      if (l.unitPrice.currency !== f.currency) throw new SyncError('ValidationError', `line ${n} is priced in ${l.unitPrice.currency}, the order in ${String(f.currency)}`, { field: `lines.${n}.unitPrice.currency` });
      const net = Math.round((l.unitPrice.amountMinor * (100 - (l.discountPercent ?? 0))) / 100);
      return { type: 'line', product: p.id, unit: p.uom, quantity: l.quantity, unit_price: decimalFromMinor(net, currency.digits), description: l.description ?? p.name };
    });
    const header = {
      party: party.id, invoice_address: party.address, shipment_address: party.address, currency: currency.id,
      sale_date: typeof f.orderDate === 'string' ? new TrytonDate(f.orderDate) : null, description: f.reference ?? null,
    };
    return { header, lines };
  }

  function sameSale(cur: Row, header: Record<string, unknown>, lines: Record<string, unknown>[]): boolean {
    const d = cur.sale_date instanceof TrytonDate ? cur.sale_date.iso : null;
    const want = header.sale_date instanceof TrytonDate ? header.sale_date.iso : null;
    if (cur.party !== header.party || cur.currency !== header.currency || d !== want || (cur.description ?? null) !== header.description) return false;
    const have = nestedList(cur, 'lines');
    return have.length === lines.length && have.every((h, i) => {
      const w = lines[i];
      return !!w && h.product === w.product && h.quantity === w.quantity && (h.description ?? null) === w.description
        && h.unit_price instanceof TrytonDecimal && w.unit_price instanceof TrytonDecimal
        && minorFromDecimal(h.unit_price, 4) === minorFromDecimal(w.unit_price, 4);
    });
  }

  return {
    description: { name: 'salesOrders', canonical: 'SalesOrder', canRead: true, canWrite: true, canDelete: true, incremental: true },

    ...keyedEntity({
      client, model: 'sale.sale', fields: SALE_FIELDS, labels: LABELS, toRecord, byKeys: byReferences,
      // Customers and products of the whole batch, one search each.
      async prepare(requests) {
        const ps = await parties(requests.map((r) => String(r.fields.customerExternalKey)));
        const lineKeys = requests.flatMap((r) => (Array.isArray(r.fields.lines) ? (r.fields.lines as Line[]).map((l) => l.productExternalKey) : []));
        return { ps, prods: await products([...new Set(lineKeys)]) };
      },
      async plan(r, cur, { ps, prods }) {
        const { header, lines } = await saleValues(r, ps, prods);
        if (!cur) return { create: { ...header, reference: r.externalKey, lines: [['create', lines]] } };
        if (sameSale(cur, header, lines)) return { unchanged: cur.id };
        if (cur.state !== 'draft') {
          throw new SyncError('Conflict', `sale ${String(cur.number ?? cur.id)} is ${String(cur.state)} in Tryton; only draft orders can be changed`);
        }
        const old = nestedList(cur, 'lines').map((l) => l.id);
        return { write: { ...header, lines: [['delete', old], ['create', lines]] }, id: cur.id, timestamp: str(cur._timestamp) };
      },
    }),

    /** Cancels draft/quoted orders, then deletes them (Tryton deletes only cancelled sales). */
    async delete(targetKeys) {
      const list = ids(targetKeys);
      if (!list.length) return;
      await client.model('sale.sale', 'cancel', [list]);
      await client.model('sale.sale', 'delete', [list]);
    },
  };
}
