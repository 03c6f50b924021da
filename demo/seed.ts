import Database from 'better-sqlite3';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { CRM_SCHEMA, ERP_SCHEMA } from './schema';

export interface SeedSize {
  accounts: number;
  contacts: number;
  products: number;
}
export const DEMO_SIZE: SeedSize = { accounts: 10_000, contacts: 30_000, products: 2_000 };

/** Deterministic PRNG (mulberry32): the same seed gives the same demo data on every machine. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = ['Acme', 'Globex', 'Initech', 'Umbrella', 'Stark', 'Wayne', 'Hooli', 'Vandelay', 'Soylent', 'Tyrell', 'Wonka', 'Cyberdyne', 'Nakatomi', 'Oceanic', 'Gringotts', 'Pied Piper'];
const SUFFIX = ['GmbH', 'Ltd', 'Inc.', 'SARL', 'AG', 'BV', 'S.p.A.', 'LLC'];
const COUNTRIES: [string, string, string][] = [
  // country as CRM users type it, a valid local phone, currency
  ['Germany', '030 901820', 'EUR'],
  ['DE', '+49 89 1234567', 'EUR'],
  ['France', '01 42 68 53 00', 'EUR'],
  ['United Kingdom', '020 7946 0958', 'GBP'],
  ['USA', '(212) 555-0147', 'USD'],
  ['Netherlands', '020 123 4567', 'EUR'],
  ['Deutschland', '040 3333 4444', 'EUR'],
  ['Switzerland', '044 668 18 00', 'CHF'],
  ['Japan', '03-1234-5678', 'JPY'],
  ['Spain', '912 345 678', 'EUR'],
];
const CITIES = ['berlin', 'PARIS', 'London', 'new york', 'Amsterdam', 'Zürich', 'tokyo', 'Madrid'];
const FIRST = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Frances', 'Ken', 'Margaret', 'Linus', 'Radia', 'Tim'];
const LAST = ['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Allen', 'Thompson', 'Hamilton', 'Torvalds', 'Perlman', 'Berners-Lee'];
const TIERS = ['ENT', 'MM', 'SMB', 'smb', ' mm ', null];
const UNITS = ['pc', 'piece', 'h', 'day', 'license', 'Licence', 'kg'];

const BASE_MS = Date.UTC(2026, 0, 1);
/** Groups of three records share one timestamp, to exercise the (modifiedAt, id) tie-break. */
const stamp = (i: number) => new Date(BASE_MS + Math.floor(i / 3) * 1000).toISOString();

export interface DemoPaths {
  crm: string;
  erp: string;
}

export function demoPaths(dataDir: string): DemoPaths {
  return { crm: path.join(dataDir, 'crm.db'), erp: path.join(dataDir, 'erp.db') };
}

/** The marker table a complete seed leaves in the CRM (written in the seed's own transaction). */
const SEED_MARKER = 'CREATE TABLE IF NOT EXISTS demo_seed (id INTEGER PRIMARY KEY CHECK (id = 1), seed INTEGER NOT NULL, accounts INTEGER NOT NULL, seeded_at TEXT NOT NULL)';

/** Whether the CRM at `file` holds a complete demo seed (the marker, or accounts from a seed before the marker existed). */
export function isDemoSeeded(file: string): boolean {
  if (!existsSync(file)) return false;
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const has = (t: string) => db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(t) !== undefined;
    if (has('demo_seed') && db.prepare('SELECT 1 FROM demo_seed').get() !== undefined) return true;
    return has('accounts') && db.prepare('SELECT 1 FROM accounts LIMIT 1').get() !== undefined;
  } finally {
    db.close();
  }
}

/**
 * Create and fill the demo CRM (with a few realistic defects: missing names, bad phones, unknown
 * countries, duplicate SKUs, malformed prices) and an empty demo ERP. Idempotent: a CRM that
 * holds a complete seed is left as it is; a missing, empty or half-seeded one (e.g. a file an
 * earlier process created) is seeded in place, in one transaction with the seed marker, so an
 * interrupted seed leaves nothing and is redone. Returns true when it seeded.
 */
export function seedDemo(dataDir: string, size: SeedSize = DEMO_SIZE, seed = 42): boolean {
  mkdirSync(dataDir, { recursive: true });
  const paths = demoPaths(dataDir);
  const erp = new Database(paths.erp);
  erp.pragma('journal_mode = WAL');
  erp.exec(ERP_SCHEMA);
  erp.close();
  if (isDemoSeeded(paths.crm)) {
    const crm = new Database(paths.crm);
    try {
      crm.pragma('busy_timeout = 5000');
      crm.exec(CRM_SCHEMA); // tables added since (erp_invoices, deals)
      crm.exec(SEED_MARKER);
    } finally {
      crm.close();
    }
    return false;
  }

  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const crm = new Database(paths.crm);
  crm.pragma('journal_mode = WAL');
  crm.pragma('busy_timeout = 5000');
  crm.exec(CRM_SCHEMA);
  crm.exec(SEED_MARKER);
  const acc = crm.prepare(
    'INSERT INTO accounts (id, company_name, email, phone, website, vat_id, street, city, zip, country, credit_limit, currency, tier, status, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)',
  );
  const con = crm.prepare('INSERT INTO contacts (id, account_id, full_name, email, phone, title, updated_at) VALUES (?,?,?,?,?,?,?)');
  const prod = crm.prepare('INSERT INTO products (id, sku, name, description, price, currency, unit, active, updated_at) VALUES (?,?,?,?,?,?,?,?,?)');

  crm.transaction(() => {
    // Rows an earlier, partial run may have left (the marker is absent, so they are not a seed).
    for (const t of ['accounts', 'contacts', 'products']) crm.exec(`DELETE FROM ${t}`);
    for (let i = 1; i <= size.accounts; i++) {
      const [country, phone, currency] = pick(COUNTRIES);
      const name = `${pick(WORDS)} ${pick(WORDS)} ${pick(SUFFIX)} #${i}`;
      const r = rnd();
      const defectName = r < 0.004; // missing required name
      const defectPhone = r >= 0.004 && r < 0.012; // not a phone number
      const defectCountry = r >= 0.012 && r < 0.017; // no such country
      acc.run(
        i,
        defectName ? '   ' : `  ${name} `,
        `info@${name.split(' ')[0]!.toLowerCase()}${i}.example`,
        defectPhone ? pick(['12-34', 'call reception', '+1 555']) : phone,
        `https://www.${name.split(' ')[0]!.toLowerCase()}${i}.example`,
        rnd() < 0.5 ? `de${100000000 + i}` : null,
        `${1 + Math.floor(rnd() * 200)} Main Street`,
        pick(CITIES),
        String(10000 + Math.floor(rnd() * 89999)),
        defectCountry ? pick(['Atlantis', 'Narnia', 'Wakanda']) : country,
        rnd() < 0.7 ? (Math.floor(rnd() * 5_000_000) / 100).toFixed(2) : null,
        currency,
        pick(TIERS),
        pick(['active', 'active', 'prospect', 'churned']),
        stamp(i),
      );
    }
    for (let i = 1; i <= size.contacts; i++) {
      const r = rnd();
      const fullName = r < 0.005 ? '' : `${pick(FIRST)} ${pick(LAST)}`;
      con.run(
        i,
        1 + Math.floor(rnd() * size.accounts),
        fullName,
        r >= 0.005 && r < 0.01 ? 'not-an-email' : `${fullName.toLowerCase().replace(/\W+/g, '.')}.${i}@example.com`,
        rnd() < 0.1 ? 'n/a' : '+44 20 7946 0958',
        pick(['CFO', 'CTO', 'Buyer', 'Head of Ops', null]),
        stamp(i),
      );
    }
    for (let i = 1; i <= size.products; i++) {
      const r = rnd();
      const dupSku = r < 0.005 && i > 10; // duplicates an earlier SKU: the ERP refuses it
      const badPrice = r >= 0.005 && r < 0.01;
      prod.run(
        i,
        dupSku ? `sku-${String(i - 7).padStart(5, '0')}` : `sku-${String(i).padStart(5, '0')}`,
        `${pick(WORDS)} ${pick(['Widget', 'Gadget', 'Support Plan', 'Consulting Day', 'Licence'])} ${i}`,
        rnd() < 0.5 ? 'Durable and certified.' : null,
        badPrice ? 'call us' : (1 + Math.floor(rnd() * 99_999) / 100).toFixed(2),
        pick(['EUR', 'EUR', 'USD', 'GBP']),
        pick(UNITS),
        rnd() < 0.9 ? 'yes' : 'no',
        stamp(i),
      );
    }
    crm.prepare('INSERT OR REPLACE INTO demo_seed (id, seed, accounts, seeded_at) VALUES (1, ?, ?, ?)').run(seed, size.accounts, new Date().toISOString());
  })();
  crm.close();
  return true;
}

/**
 * Change `n` accounts (evenly spread, deterministic) as a CRM user would: new city and credit
 * limit (a limit 100 higher when touched before), updated_at = now. Returns the changed ids. Accounts without a name are skipped, and once
 * a sync has filled the demo ERP, so are accounts it does not hold (quarantined for the demo's
 * defects): each of the `n` changes is then one update the next sync (or dry run) plans.
 */
export function touchAccounts(dataDir: string, n: number, nowIso = new Date().toISOString()): number[] {
  const synced = syncedAccountKeys(dataDir);
  const db = new Database(demoPaths(dataDir).crm);
  const total = (db.prepare('SELECT count(*) AS c FROM accounts').get() as { c: number }).c;
  const step = Math.max(1, Math.floor(total / n));
  const ids: number[] = [];
  // A first touch sets city and credit limit; touching the same account again raises the limit
  // by 100, so every touch is a change to sync.
  const upd = db.prepare(
    "UPDATE accounts SET credit_limit = CASE WHEN city = @city THEN printf('%.2f', CAST(credit_limit AS REAL) + 100) ELSE @credit END, city = @city, updated_at = @now WHERE id = @id AND trim(company_name) <> ''",
  );
  db.transaction(() => {
    // 1, 1 + step, 1 + 2·step, …; where some are skipped, the same again from 2, then from 3, …
    for (let offset = 0; offset < step && ids.length < n; offset++) {
      for (let id = 1 + offset; ids.length < n && id <= total; id += step) {
        if (synced && !synced.has(String(id))) continue;
        const changed = upd.run({ city: `Changed City ${id}`, credit: `${1000 + id}.00`, now: nowIso, id }).changes;
        if (changed) ids.push(id);
      }
    }
  })();
  db.close();
  return ids;
}

/** The external keys of the demo ERP's customers, or undefined while it holds none (no sync yet). */
function syncedAccountKeys(dataDir: string): Set<string> | undefined {
  const file = demoPaths(dataDir).erp;
  if (!existsSync(file)) return undefined;
  const erp = new Database(file, { readonly: true });
  try {
    const hasTable = erp.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'customers'").get();
    if (!hasTable) return undefined;
    const keys = (erp.prepare('SELECT external_key FROM customers').all() as { external_key: string }[]).map((r) => r.external_key);
    return keys.length > 0 ? new Set(keys) : undefined;
  } finally {
    erp.close();
  }
}
