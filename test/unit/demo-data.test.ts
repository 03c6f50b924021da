import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createSqlConnector } from '../../connectors/sql/connector';
import { isSyncError } from '../../contracts/errors';
import { seedDeals } from '../../demo/deals';
import { demoPaths, isDemoSeeded, seedDemo, touchAccounts } from '../../demo/seed';
import { CRM_SCHEMA } from '../../demo/schema';

const SIZE = { accounts: 300, contacts: 10, products: 400 };
let dir: string;
beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'demo-data-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const count = (file: string, table: string) => {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare(`SELECT count(*) AS c FROM ${table}`).get() as { c: number }).c;
  } finally {
    db.close();
  }
};

test('an empty crm.db left by a worker started first is seeded, not taken for a seeded CRM', () => {
  new Database(demoPaths(dir).crm).close(); // what opening a missing SQLite file used to leave
  expect(isDemoSeeded(demoPaths(dir).crm)).toBe(false);
  expect(seedDemo(dir, SIZE)).toBe(true);
  expect(count(demoPaths(dir).crm, 'accounts')).toBe(300);
  expect(seedDemo(dir, SIZE)).toBe(false); // seeded now: left alone
});

test('a CRM with its tables but no rows (no seed marker) is seeded', () => {
  const db = new Database(demoPaths(dir).crm);
  db.exec(CRM_SCHEMA);
  db.close();
  expect(seedDemo(dir, SIZE)).toBe(true);
  expect(count(demoPaths(dir).crm, 'products')).toBe(400);
  expect(isDemoSeeded(demoPaths(dir).crm)).toBe(true);
});

test('a missing demo database is a ConfigError that says what to run, and no empty file is left behind', async () => {
  const file = path.join(dir, 'crm.db');
  const connector = (): ReturnType<typeof createSqlConnector> =>
    createSqlConnector(
      { kind: 'sql', dialect: 'sqlite', path: file, setupHint: 'run `npm run demo:seed`', entities: { accounts: { table: 'accounts', keyColumn: 'id', keyType: 'integer', modifiedAtColumn: 'updated_at' } } },
      'demo-crm',
    );
  let err: unknown;
  try {
    connector();
  } catch (e) {
    err = e;
  }
  expect(isSyncError(err) && err.type).toBe('ConfigError');
  expect((err as Error).message).toBe(`demo-crm: database ${file} does not exist; run \`npm run demo:seed\``);
  expect(existsSync(file)).toBe(false);

  new Database(file).close(); // an empty file from before this fix
  const c = connector();
  await expect(c.fetchChanges('accounts', { after: null, limit: 10 })).rejects.toThrow(/no such table: accounts \(in .*crm\.db\); run `npm run demo:seed`/);
  await c.close();
});

test('seeded deals carry only products of their own currency, over accounts that map cleanly', () => {
  seedDemo(dir, SIZE);
  const crm = demoPaths(dir).crm;
  const won = seedDeals(crm, 60);
  expect(won.length).toBeGreaterThan(10);
  const db = new Database(crm, { readonly: true });
  try {
    const mixed = db
      .prepare('SELECT d.id, d.currency, p.currency AS product_currency FROM deals d JOIN deal_lines l ON l.deal_id = d.id JOIN products p ON p.id = l.product_id WHERE p.currency <> d.currency OR p.active <> ?')
      .all('yes');
    expect(mixed).toEqual([]);
    const dirty = db
      .prepare("SELECT a.id, a.country, a.phone FROM deals d JOIN accounts a ON a.id = d.account_id WHERE trim(a.company_name) = '' OR a.country IN ('Atlantis','Narnia','Wakanda') OR a.phone IN ('12-34','call reception','+1 555')")
      .all();
    expect(dirty).toEqual([]);
  } finally {
    db.close();
  }
});

test('touchAccounts changes n named accounts; once the ERP holds customers, only accounts it holds', () => {
  seedDemo(dir, SIZE);
  const changed = (ids: number[]) => {
    const db = new Database(demoPaths(dir).crm, { readonly: true });
    try {
      return (db.prepare(`SELECT id FROM accounts WHERE city LIKE 'Changed City %' ORDER BY id`).all() as { id: number }[]).map((r) => r.id).filter((id) => ids.includes(id));
    } finally {
      db.close();
    }
  };
  // Before any sync (empty ERP): evenly spread over all named accounts.
  const first = touchAccounts(dir, 10, '2026-01-02T00:00:00.000Z');
  expect(first).toHaveLength(10);
  expect(changed(first)).toEqual([...first].sort((a, b) => a - b));

  // An ERP holding every third account: the next 10 changes are all among them, still 10.
  const erp = new Database(demoPaths(dir).erp);
  const ins = erp.prepare("INSERT INTO customers (external_key, name, updated_at) VALUES (?, 'x', '2026-01-01T00:00:00Z')");
  for (let id = 3; id <= SIZE.accounts; id += 3) ins.run(String(id));
  erp.close();
  const second = touchAccounts(dir, 10, '2026-01-03T00:00:00.000Z');
  expect(second).toHaveLength(10);
  expect(second.every((id) => id % 3 === 0)).toBe(true);
  expect(new Set(second).size).toBe(10);
});

test('touching an account again changes it again (its credit limit grows by 100)', () => {
  seedDemo(dir, SIZE);
  const read = (id: number) => {
    const db = new Database(demoPaths(dir).crm, { readonly: true });
    try {
      return db.prepare('SELECT city, credit_limit, updated_at FROM accounts WHERE id = ?').get(id) as { city: string; credit_limit: string; updated_at: string };
    } finally {
      db.close();
    }
  };
  const [id] = touchAccounts(dir, 1, '2026-01-02T00:00:00.000Z');
  expect(read(id!)).toEqual({ city: `Changed City ${id}`, credit_limit: `${1000 + id!}.00`, updated_at: '2026-01-02T00:00:00.000Z' });
  expect(touchAccounts(dir, 1, '2026-01-03T00:00:00.000Z')).toEqual([id]);
  expect(read(id!)).toEqual({ city: `Changed City ${id}`, credit_limit: `${1100 + id!}.00`, updated_at: '2026-01-03T00:00:00.000Z' });
});
