import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { CRM_SCHEMA } from '../demo/schema';
import type { Cursor } from '../contracts/cursor';
import { SyncError } from '../contracts/errors';
import { toMinorUnits } from '../mappings/dsl/money';
import type { DealSnapshot } from '../contracts/orders';

/** Write-back columns of the demo CRM's deals table. */
export interface DealWriteBack {
  erp_order_number?: string | null;
  erp_order_status?: string | null;
  erp_invoice_number?: string | null;
  erp_invoice_amount?: string | null;
  erp_payment_status?: string | null;
  last_sync_error?: string | null;
}

/** What the saga also writes back to CRMs that keep it (the demo CRM's deals have no column for it). */
export interface OrderWriteBack extends DealWriteBack {
  erp_invoice_status?: string | null;
}

/**
 * A CRM the order-to-cash saga takes its won deal from and writes the order's progress to:
 * the demo CRM's deals table, or a CRM of config/order-crms.json (Salesforce opportunities).
 */
export interface OrdersCrm {
  /** The deal with its lines; `accountId` and `productId`s are the ERP's external keys. */
  deal(dealId: string): Promise<DealSnapshot>;
  /** The deal's account as canonical Customer fields, to create the ERP customer. */
  customer(accountId: string): Promise<Record<string, unknown>>;
  /** A line's product as canonical Product fields, to create the ERP product. */
  product(productId: string): Promise<Record<string, unknown>>;
  writeBack(dealId: string, values: OrderWriteBack): Promise<void>;
}

/** A CRM amount in minor units of `currency`, by the mapping DSL's exact decimal conversion. */
const toMinor = (v: unknown, currency: string, field: string): number => {
  if (typeof v !== 'string' && typeof v !== 'number') throw new SyncError('ValidationError', `${field} is missing`, { field });
  try {
    return toMinorUnits(v, currency);
  } catch (e) {
    throw new SyncError('ValidationError', `${field}: ${(e as Error).message}`, { field });
  }
};

/**
 * The demo CRM's deals, over its SQLite file. Each call opens and closes the file: calls are
 * rare (a few per saga) and this keeps no handle across worker restarts or tests.
 */
export class DealsDb {
  constructor(private readonly file: string) {}

  private with<T>(fn: (db: Database.Database) => T): T {
    if (!existsSync(this.file)) {
      throw new SyncError('ConfigError', `the CRM database ${this.file} does not exist; run \`npm run demo:seed\` and \`npm run demo:deals\` to create the demo CRM with deals`);
    }
    const db = new Database(this.file, { fileMustExist: true });
    try {
      db.pragma('busy_timeout = 5000');
      db.exec(CRM_SCHEMA);
      return fn(db);
    } finally {
      db.close();
    }
  }

  deal(dealId: string): DealSnapshot {
    return this.with((db) => {
      const d = db.prepare('SELECT * FROM deals WHERE id = ?').get(dealId) as Record<string, unknown> | undefined;
      if (!d) throw new SyncError('NotFound', `deal ${dealId} does not exist in the CRM (the demo CRM gets deals from \`npm run demo:deals\`)`, { field: 'dealId' });
      const lines = db.prepare('SELECT * FROM deal_lines WHERE deal_id = ? ORDER BY line_no').all(dealId) as Record<string, unknown>[];
      if (!lines.length) throw new SyncError('ValidationError', `deal ${dealId} has no lines`, { field: 'lines' });
      const currency = String(d.currency ?? 'EUR');
      return {
        dealId: String(d.id), accountId: String(d.account_id), name: String(d.name), stage: String(d.stage), currency,
        amountMinor: toMinor(d.amount, currency, 'amount'), discountPercent: Number(d.discount ?? 0) || 0,
        lines: lines.map((l, n) => ({
          productId: String(l.product_id), quantity: Number(l.quantity), unitPriceMinor: toMinor(l.unit_price, currency, `lines.${n}.unit_price`),
          discountPercent: Number(l.discount ?? 0) || 0,
        })),
      };
    });
  }

  row(table: 'accounts' | 'products', id: string): Record<string, unknown> | undefined {
    return this.with((db) => db.prepare(`SELECT * FROM ${table} WHERE id = ?`).get(id) as Record<string, unknown> | undefined);
  }

  writeBack(dealId: string, values: DealWriteBack): void {
    const cols = Object.keys(values) as (keyof DealWriteBack)[];
    if (!cols.length) return;
    this.with((db) => {
      const set = cols.map((c) => `${c} = @${c}`).join(', ');
      db.prepare(`UPDATE deals SET ${set} WHERE id = @id`).run({ ...values, id: dealId });
    });
  }

  /** Won deals after the cursor, ordered by (updated_at, id); the cursor key is the deal id. */
  wonAfter(after: Cursor | null, limit: number): { ids: string[]; next: Cursor | null; hasMore: boolean } {
    return this.with((db) => {
      const rows = (after
        ? db.prepare("SELECT id, updated_at FROM deals WHERE stage = 'won' AND (updated_at > ? OR (updated_at = ? AND id > ?)) ORDER BY updated_at, id LIMIT ?")
            .all(after.modifiedAt, after.modifiedAt, Number(after.key), limit + 1)
        : db.prepare("SELECT id, updated_at FROM deals WHERE stage = 'won' ORDER BY updated_at, id LIMIT ?").all(limit + 1)) as { id: number; updated_at: string }[];
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      return { ids: page.map((r) => String(r.id)), next: last ? { modifiedAt: last.updated_at, key: String(last.id) } : after, hasMore: rows.length > limit };
    });
  }
}
