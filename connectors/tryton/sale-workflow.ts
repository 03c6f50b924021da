import type { ErrorType } from '../../contracts/errors';
import { isRecordRefusal } from './batch';
import type { TrytonClient } from './client';
import { ids, type Row } from './values';

export interface SaleTransitionOutcome {
  targetKey: string;
  ok: boolean;
  /** The state re-read after the transition. */
  state: string | null;
  number?: string | null;
  error?: { type: ErrorType; message: string; field?: string };
}

const EXPECTED: Record<'quote' | 'confirm' | 'cancel', string[]> = {
  quote: ['quotation', 'confirmed', 'processing', 'done'],
  // `confirm` succeeds even when the queued `process` fails (reference §7.5): demand processing.
  confirm: ['processing', 'done'],
  cancel: ['cancelled'],
};

/**
 * Runs a sale workflow button and re-reads the states, because Tryton skips records in the
 * wrong state without an error and `confirm` reports success even when processing failed.
 * A refused batch is retried one sale at a time so one bad order does not block the others.
 */
export async function runSaleTransition(
  client: TrytonClient, button: 'quote' | 'confirm' | 'cancel', targetKeys: string[],
): Promise<SaleTransitionOutcome[]> {
  const list = ids(targetKeys);
  const refused = new Map<number, SaleTransitionOutcome['error']>();
  try {
    if (list.length) await client.model('sale.sale', button, [list]);
  } catch (err) {
    if (!isRecordRefusal(err)) throw err;
    for (const id of list) {
      try {
        await client.model('sale.sale', button, [[id]]);
      } catch (e) {
        if (!isRecordRefusal(e)) throw e;
        refused.set(id, { type: e.type, message: e.message, ...(e.field ? { field: e.field } : {}) });
      }
    }
  }
  const rows = list.length ? await client.model<Row[]>('sale.sale', 'read', [list, ['state', 'number']]) : [];
  const byId = new Map(rows.map((r) => [r.id, r]));
  return targetKeys.map((key) => {
    const row = byId.get(Number(key));
    const state = typeof row?.state === 'string' ? row.state : null;
    const number = typeof row?.number === 'string' ? row.number : null;
    const error = refused.get(Number(key));
    if (error) return { targetKey: key, ok: false, state, number, error };
    if (!row) return { targetKey: key, ok: false, state, error: { type: 'NotFound', message: `sale ${key} does not exist` } };
    if (state !== null && EXPECTED[button].includes(state)) return { targetKey: key, ok: true, state, number };
    const message = button === 'confirm' && state === 'confirmed'
      ? `sale ${key} was confirmed but Tryton could not process it (no invoice or shipment); see the trytond log, e.g. a product without an account category`
      : `sale ${key} is "${String(state)}" after ${button}; expected ${EXPECTED[button].join(' or ')}`;
    return { targetKey: key, ok: false, state, number, error: { type: 'ValidationError', message } };
  });
}
