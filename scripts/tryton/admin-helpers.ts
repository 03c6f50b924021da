import { TrytonClient } from '../../connectors/tryton/client';
import { TrytonDate, type TrytonDecimal } from '../../connectors/tryton/codec';
import type { TrytonInstance } from './instance';

/**
 * Test-bed helpers that act as the Tryton admin (what an accountant would do in the GUI):
 * post invoices and register payments. Not part of the connector.
 */
export function adminClient(inst: Pick<TrytonInstance, 'url' | 'database' | 'admin'>): TrytonClient {
  return new TrytonClient({ url: inst.url, database: inst.database, user: inst.admin.user, password: inst.admin.password });
}

export async function postInvoices(admin: TrytonClient, invoiceIds: number[]): Promise<void> {
  await admin.model('account.invoice', 'post', [invoiceIds]);
}

/** Pays an invoice in full with the bootstrap's "Cash" payment method (wizard account.invoice.pay). */
export async function payInvoice(admin: TrytonClient, invoiceId: number, date = new Date()): Promise<void> {
  const [inv] = await admin.model<Array<{ id: number; amount_to_pay: TrytonDecimal; currency: number }>>(
    'account.invoice', 'read', [[invoiceId], ['amount_to_pay', 'currency']],
  );
  if (!inv) throw new Error(`invoice ${invoiceId} not found`);
  const [method] = await admin.model<number[]>('account.invoice.payment.method', 'search', [[['name', '=', 'Cash']], 0, 1, null]);
  const active = { active_model: 'account.invoice', active_id: invoiceId, active_ids: [invoiceId] };
  const [session] = await admin.wizard<[number, string, string]>('account.invoice.pay', 'create', []);
  try {
    await admin.wizard('account.invoice.pay', 'execute', [session, {
      start: {
        amount: inv.amount_to_pay, currency: inv.currency, payment_method: method,
        date: new TrytonDate(date.toISOString().slice(0, 10)), description: `payment of invoice ${invoiceId}`,
      },
    }, 'choice'], active);
  } finally {
    await admin.wizard('account.invoice.pay', 'delete', [session], active);
  }
}

export interface DealInvoice {
  id: number;
  number: string | null;
  state: string;
  total: string;
  amountToPay: string;
}

/** The customer invoices of the Tryton sale made for a CRM deal (sale reference `DEAL-<id>`). */
export async function dealInvoices(admin: TrytonClient, dealId: string): Promise<{ sale: { id: number; number: string | null; state: string } | null; invoices: DealInvoice[] }> {
  const [sale] = await admin.model<Array<{ id: number; number: string | null; state: string; invoices: number[] }>>(
    'sale.sale', 'search_read', [[['reference', '=', `DEAL-${dealId}`]], 0, 1, null, ['number', 'state', 'invoices']], { active_test: false },
  );
  if (!sale) return { sale: null, invoices: [] };
  const rows = sale.invoices.length
    ? await admin.model<Array<{ id: number; number: string | null; state: string; total_amount: TrytonDecimal; amount_to_pay: TrytonDecimal }>>(
        'account.invoice', 'read', [sale.invoices, ['number', 'state', 'total_amount', 'amount_to_pay']],
      )
    : [];
  return {
    sale: { id: sale.id, number: sale.number, state: sale.state },
    invoices: rows.map((r) => ({ id: r.id, number: r.number, state: r.state, total: String(r.total_amount), amountToPay: String(r.amount_to_pay) })),
  };
}
