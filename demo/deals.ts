import Database from 'better-sqlite3';
import { fromMinorUnits, toMinorUnits } from '../mappings/dsl/money';
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
export function dealAmountMinor(d: Pick<DemoDeal, 'currency' | 'discount' | 'lines'>): number {
  const lines = d.lines.reduce((sum, l) => sum + Math.round((l.quantity * toMinorUnits(l.unitPrice, d.currency) * (100 - (l.discount ?? 0))) / 100), 0);
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
        const amount = fromMinorUnits(dealAmountMinor(d), d.currency);
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

/** Countries and phones of the demo CRM that map cleanly (demo/seed.ts plants other values as defects). */
const CLEAN_COUNTRIES = ['Germany', 'DE', 'France', 'United Kingdom', 'USA', 'Netherlands', 'Deutschland', 'Switzerland', 'Japan', 'Spain'];
const BAD_PHONES = ['12-34', 'call reception', '+1 555'];

export interface SeedDealsOptions {
  /** Currency of every deal; only products priced in it are put on its lines. @default "EUR" (the Tryton test bed's company currency) */
  currency?: string;
  seed?: number;
}

/**
 * Seed `count` deals (ids 1..count, replacing deals of those ids) over the CRM's existing accounts
 * and products, deterministically: about a third won, a tenth lost, the rest in proposal. Each
 * deal's lines carry only active products priced in the deal's currency, and its account is one
 * whose record maps cleanly (a name, a known country, a phone), active or churned. Returns the
 * ids of the won deals.
 */
export function seedDeals(crmPath: string, count: number, opts: SeedDealsOptions = {}): number[] {
  const currency = opts.currency ?? 'EUR';
  const db = open(crmPath);
  let accounts: number[];
  let products: { id: number; price: string; currency: string }[];
  try {
    accounts = (
      db
        .prepare(
          `SELECT id FROM accounts WHERE trim(company_name) <> '' AND country IN (${CLEAN_COUNTRIES.map(() => '?').join(',')})
           AND phone NOT IN (${BAD_PHONES.map(() => '?').join(',')}) ORDER BY id LIMIT 500`,
        )
        .all(...CLEAN_COUNTRIES, ...BAD_PHONES) as { id: number }[]
    ).map((r) => r.id);
    products = db
      .prepare("SELECT id, price, currency FROM products WHERE price GLOB '[0-9]*.[0-9][0-9]' AND currency = ? AND active = 'yes' ORDER BY id LIMIT 200")
      .all(currency) as typeof products;
  } finally {
    db.close();
  }
  if (!accounts.length || !products.length) return [];
  let s = opts.seed ?? 7;
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
    deals.push({ id: i, accountId: accounts[Math.floor(rnd() * accounts.length)]!, name: `Deal ${i}`, stage, currency, lines, closeDate: '2026-06-30' });
  }
  upsertDeals(crmPath, deals);
  return deals.filter((d) => d.stage === 'won').map((d) => d.id);
}
