import { SyncError } from '../../contracts/errors';
import type { SourceRecord } from '../types';
import { minorFromDecimal, TrytonDecimal } from './codec';
import type { EntityDeps, EntityHandler } from './entity';
import { fetchIncremental } from './incremental';
import { ids, modifiedAt, nested, nestedList, plain, str, type Row } from './values';

/**
 * Customer invoices (`account.invoice`, type `out`), read-only. Keys are invoice ids. Payment
 * state: Tryton 6.0 marks an invoice `paid` once its receivable lines are reconciled;
 * `amount_to_pay` is what is still due and `reconciled` the date it was settled.
 */
const FIELDS = [
  'number', 'reference', 'type', 'state', 'invoice_date', 'party', 'party.code', 'currency', 'currency.code', 'currency.digits',
  'untaxed_amount', 'tax_amount', 'total_amount', 'amount_to_pay', 'reconciled', 'sales', 'sales.reference',
  'payment_lines', 'create_date', 'write_date',
];
const OUT = [['type', '=', 'out']];

/** Canonical money ({amountMinor, currency}) from a Tryton Decimal, or null. */
function money(v: unknown, currency: string | undefined, digits: number): { amountMinor: number; currency: string } | null {
  return v instanceof TrytonDecimal && currency ? { amountMinor: minorFromDecimal(v, digits), currency } : null;
}

export function createInvoices(deps: EntityDeps): EntityHandler {
  const { client, customerCodePrefix: prefix } = deps;

  function toRecord(row: Row): SourceRecord {
    const code = str(nested(row, 'party')?.code);
    const cur = str(nested(row, 'currency')?.code);
    const digits = Number(nested(row, 'currency')?.digits ?? 2);
    const data = {
      id: row.id, number: row.number ?? null, reference: row.reference ?? null, type: row.type, state: row.state,
      paid: row.state === 'paid', invoice_date: row.invoice_date ?? null, reconciled: row.reconciled ?? null,
      party: row.party, party_code: code ?? null, customerExternalKey: code?.startsWith(prefix) ? code.slice(prefix.length) : null,
      currency: cur ?? null,
      total: money(row.total_amount, cur, digits),
      amountDue: money(row.amount_to_pay, cur, digits),
      untaxed_amount: row.untaxed_amount, tax_amount: row.tax_amount, total_amount: row.total_amount, amount_to_pay: row.amount_to_pay,
      sales: row.sales ?? [], orderExternalKeys: nestedList(row, 'sales').map((s) => s.reference ?? null),
      payment_lines: row.payment_lines ?? [], create_date: row.create_date, write_date: row.write_date,
    };
    return { key: String(row.id), modifiedAt: modifiedAt(row).toISOString(), data: plain(data) as Record<string, unknown> };
  }

  const readOnly = (): never => {
    throw new SyncError('ConfigError', 'the Tryton connector reads invoices only; they are created by sales processing');
  };

  return {
    description: { name: 'invoices', canonical: 'Invoice', canRead: true, canWrite: false, canDelete: false, incremental: true },
    fetchChanges: (request) => fetchIncremental(client, { model: 'account.invoice', fields: FIELDS, domain: OUT, toRecord }, request),
    async read(keys) {
      const rows = await client.model<Row[]>('account.invoice', 'search_read', [[...OUT, ['id', 'in', ids(keys)]], 0, null, null, FIELDS]);
      return rows.map(toRecord);
    },
    upsert: async () => readOnly(),
    findByExternalKeys: async () => readOnly(),
    delete: async () => readOnly(),
  };
}
