import Database from 'better-sqlite3';
import { CRM_SCHEMA } from './schema';

/** A CRM deal as the demo CRM stores it: money as decimal text, discounts in percent. */
export interface DemoDeal {
  id: number;
  accountId: number;
  name: string;
  stage: 'open' | 'proposal' | 'negotiation' | 'won' | 'lost';
  currency: string;
  /** Deal-level discount in percent. @default 0 */
  discount?: number;
  closeDate?: string;
  lines: { productId: number; quantity: number; unitPrice: string; discount?: number }[];
  updatedAt?: string;
}

/** Net amount in minor units: lines after line discount, then the deal discount. */
export function dealAmountMinor(d: Pick<DemoDeal, 'discount' | 'lines'>): number {
  const lines = d.lines.reduce((sum, l) => sum + Math.round(l.quantity * Math.round(Number(l.unitPrice) * 100) * (100 - (l.discount ?? 0))) / 100, 0);
  return Math.round((lines * (100 - (d.discount ?? 0))) / 100);
}

function open(crmPath: string): Database.Database {
  const db = new Database(crmPath);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  db.exec(CRM_SCHEMA); // adds the deal tables to a CRM seeded before they existed
  return db;
}

/** Insert or replace deals with their lines (one transaction). */
export function upsertDeals(crmPath: string, deals: DemoDeal[], nowIso = new Date().toISOString()): void {
  const db = open(crmPath);
  try {
    const deal = db.prepare(
      `INSERT INTO deals (id, account_id, name, stage, amount, currency, discount, close_date, updated_at) VALUES (?,?,?,?,?,?,?,?,?)
       ON CONFLICT(id) DO UPDATE SET account_id=excluded.account_id, name=excluded.name, stage=excluded.stage, amount=excluded.amount,
         currency=excluded.currency, discount=excluded.discount, close_date=excluded.close_date, updated_at=excluded.updated_at`,
    );
    const del = db.prepare('DELETE FROM deal_lines WHERE deal_id = ?');
    const line = db.prepare('INSERT INTO deal_lines (deal_id, line_no, product_id, quantity, unit_price, discount) VALUES (?,?,?,?,?,?)');
    db.transaction(() => {
      for (const d of deals) {
        const amount = (dealAmountMinor(d) / 100).toFixed(2);
        deal.run(d.id, d.accountId, d.name, d.stage, amount, d.currency, String(d.discount ?? 0), d.closeDate ?? null, d.updatedAt ?? nowIso);
        del.run(d.id);
        d.lines.forEach((l, n) => line.run(d.id, n + 1, l.productId, l.quantity, l.unitPrice, String(l.discount ?? 0)));
      }
    })();
  } finally {
    db.close();
  }
}

/** Move a deal to another stage (e.g. `won`), bumping updated_at so watchers see it. */
export function setDealStage(crmPath: string, id: number, stage: DemoDeal['stage'], nowIso = new Date().toISOString()): void {
  const db = open(crmPath);
  try {
    db.prepare('UPDATE deals SET stage = ?, updated_at = ? WHERE id = ?').run(stage, nowIso, id);
  } finally {
    db.close();
  }
}

/**
 * Seed `count` deals over the CRM's existing accounts and products (deterministic): about a
 * third won, a tenth lost, the rest open. Returns the ids of the won deals.
 */
export function seedDeals(crmPath: string, count: number, seed = 7): number[] {
  const db = open(crmPath);
  let accounts: number[];
  let products: { id: number; price: string; currency: string }[];
  try {
    accounts = (db.prepare("SELECT id FROM accounts WHERE trim(company_name) <> '' ORDER BY id LIMIT 500").all() as { id: number }[]).map((r) => r.id);
    products = db.prepare("SELECT id, price, currency FROM products WHERE price GLOB '[0-9]*.[0-9][0-9]' ORDER BY id LIMIT 200").all() as typeof products;
  } finally {
    db.close();
  }
  if (!accounts.length || !products.length) return [];
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  const deals: DemoDeal[] = [];
  for (let i = 1; i <= count; i++) {
    const r = rnd();
    const stage: DemoDeal['stage'] = r < 0.33 ? 'won' : r < 0.43 ? 'lost' : 'proposal';
    const n = 1 + Math.floor(rnd() * 3);
    const lines = Array.from({ length: n }, () => {
      const p = products[Math.floor(rnd() * products.length)]!;
      return { productId: p.id, quantity: 1 + Math.floor(rnd() * 10), unitPrice: p.price, discount: rnd() < 0.2 ? 10 : 0 };
    });
    deals.push({ id: i, accountId: accounts[Math.floor(rnd() * accounts.length)]!, name: `Deal ${i}`, stage, currency: 'EUR', lines, closeDate: '2026-06-30' });
  }
  upsertDeals(crmPath, deals);
  return deals.filter((d) => d.stage === 'won').map((d) => d.id);
}
