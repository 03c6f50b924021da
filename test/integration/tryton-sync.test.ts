import Database from 'better-sqlite3';
import path from 'node:path';
import type { TrytonClient } from '../../connectors/tryton/client';
import type { TrytonDecimal } from '../../connectors/tryton/codec';
import { createTrytonConnector, type TrytonConnector } from '../../connectors/tryton/connector';
import { TASK_QUEUES } from '../../contracts/queues';
import type { SyncResult } from '../../contracts/sync';
import { seedDemo } from '../../demo/seed';
import { startTryton, type TrytonInstance } from '../../scripts/tryton';
import { adminClient, payInvoice, postInvoices } from '../../scripts/tryton/admin-helpers';
import type { syncPipeline } from '../../workflows';
import type { SyncWorkers } from '../../workers/worker';
import { demoDbs, queryDb, syncWorkersFor, trytonVars } from '../helpers/demo-env';
import { startDevEnv, type DevEnv } from '../helpers/env';
import { linkedTargets } from '../helpers/links';

jest.setTimeout(300_000);

let env: DevEnv;
let tryton: TrytonInstance;
let admin: TrytonClient;
let sync: SyncWorkers;
let running: Promise<void>;
let dir: string;
let n = 0;

beforeAll(async () => {
  [env, tryton] = await Promise.all([startDevEnv(), startTryton()]);
  admin = adminClient(tryton);
  dir = path.join(env.tmp, 'demo');
  seedDemo(dir, { accounts: 300, contacts: 300, products: 100 });
  sync = await syncWorkersFor(env, dir, ['tryton'], trytonVars(tryton));
  running = sync.run();
});

afterAll(async () => {
  sync?.shutdown();
  await running;
  await admin?.logout();
  await tryton?.stop();
  await env?.teardown();
});

function run(input: Parameters<typeof syncPipeline>[0]): Promise<SyncResult> {
  return env.client.workflow.execute('syncPipeline', { taskQueue: TASK_QUEUES.tryton, workflowId: `tryton-${input.pipeline}-${++n}`, args: [input] });
}

interface Party { id: number; code: string; name: string; active: boolean; write_date: Date | null; 'addresses.': { city: string | null; 'country.': { code: string } | null }[]; 'contact_mechanisms.': { type: string; value: string }[] }
async function parties(): Promise<Map<string, Party>> {
  const rows = await admin.model<Party[]>('party.party', 'search_read', [
    [['code', 'like', 'CRM-%']], 0, null, null,
    ['code', 'name', 'active', 'write_date', 'addresses.city', 'addresses.country.code', 'contact_mechanisms.type', 'contact_mechanisms.value'],
  ], { active_test: false });
  return new Map(rows.map((r) => [r.code.slice('CRM-'.length), r]));
}

const crmRows = <T>(sql: string, ...params: unknown[]): T[] => queryDb<T>(demoDbs(dir).crm, sql, ...params);
function crmExec(fn: (db: Database.Database) => void): void {
  const db = new Database(demoDbs(dir).crm);
  try {
    db.transaction(() => fn(db))();
  } finally {
    db.close();
  }
}

describe('demo CRM ⇄ Tryton through Temporal (real trytond)', () => {
  let first: SyncResult;

  test('customers: every valid account becomes exactly one party keyed by its code; refusals are quarantined with the field', async () => {
    first = await run({ pipeline: 'tryton-customers' });
    expect(first.status).toBe('completed');
    expect(first.totals.read).toBe(300);
    expect(first.totals.created + first.totals.quarantined).toBe(300);

    const q = await sync.store.listQuarantine('tryton-customers', 1000);
    expect(q).toHaveLength(first.totals.quarantined);
    // map stage: the mapping refuses; Tryton refuses none: the test bed defines every country the demo uses (JP too)
    expect(q.some((e) => e.stage === 'map' && e.field === 'name')).toBe(true);
    expect(q.filter((e) => e.stage === 'write')).toEqual([]);

    const inTryton = await parties();
    const quarantined = new Set(q.map((e) => e.sourceKey));
    const accounts = crmRows<{ id: number; company_name: string; city: string }>('SELECT id, company_name, city FROM accounts');
    const expected = accounts.filter((a) => !quarantined.has(String(a.id))).map((a) => String(a.id)).sort();
    expect([...inTryton.keys()].sort()).toEqual(expected);
    for (const a of accounts) {
      const p = inTryton.get(String(a.id));
      if (!p) continue;
      expect(p.name).toBe(a.company_name.trim());
      expect(p['addresses.'][0]?.city?.toLowerCase()).toBe(a.city.trim().toLowerCase());
      expect(p['contact_mechanisms.'].map((m) => m.type).sort()).toEqual(['email', 'phone', 'website']);
    }
  });

  test('products: valid EUR catalogue items become Tryton products keyed by their variant code', async () => {
    const result = await run({ pipeline: 'tryton-products' });
    expect(result.status).toBe('completed');
    expect(result.totals.read).toBe(100);
    const q = await sync.store.listQuarantine('tryton-products', 1000);
    expect(result.totals.created + q.length).toBe(100);
    // list prices must be in the company currency: USD/GBP items are refused at write, with the field
    expect(q.find((e) => e.stage === 'write')).toMatchObject({ field: 'listPrice.currency' });
    // … and nothing else: inactive products are written (inactive template and variant), not refused by Tryton's domain
    expect(q.filter((e) => e.stage === 'write' && e.field !== 'listPrice.currency')).toEqual([]);

    const rows = await admin.model<{ code: string; 'template.': { name: string; list_price: TrytonDecimal } }[]>(
      'product.product', 'search_read', [[], 0, null, null, ['code', 'template.name', 'template.list_price']], { active_test: false });
    const byCode = new Map(rows.map((r) => [r.code, r]));
    const crm = crmRows<{ id: number; name: string; price: string; currency: string }>('SELECT id, name, price, currency FROM products');
    const bad = new Set(q.map((e) => e.sourceKey));
    const written = crm.filter((p) => !bad.has(String(p.id)));
    expect(written.length).toBe(result.totals.created);
    expect(rows.length).toBe(result.totals.created);
    for (const p of written) {
      const t = byCode.get(String(p.id));
      expect(t?.['template.'].name).toBe(p.name.trim());
      expect(Number(t?.['template.'].list_price.value)).toBeCloseTo(Number(p.price), 2);
      expect(p.currency).toBe('EUR');
    }
  });

  test('an update writes exactly the changed customers: the rest are unchanged and keep their Tryton write_date', async () => {
    const before = await parties();
    const changed = [...before.keys()].slice(10, 15);
    // Inherent wait: the test tells written from untouched parties by write_date, so the update
    // must happen visibly later than the first sync's writes; only time passing can give that.
    await new Promise((r) => setTimeout(r, 1100));
    const now = new Date().toISOString();
    crmExec((db) => {
      const upd = db.prepare('UPDATE accounts SET city = ?, updated_at = ? WHERE id = ?');
      for (const k of changed) upd.run(`Changed City ${k}`, now, Number(k));
    });

    const second = await run({ pipeline: 'tryton-customers' });
    expect(second.totals).toMatchObject({ created: 0, updated: changed.length });
    // the lookback re-read the last minute of seeded rows too: no-ops, or refused again (never written)
    expect(second.totals.read).toBeGreaterThan(changed.length);
    expect(second.totals.unchanged + second.totals.quarantined).toBe(second.totals.read - changed.length);

    const after = await parties();
    const moved = [...after].filter(([k, p]) => p.write_date?.getTime() !== before.get(k)?.write_date?.getTime()).map(([k]) => k);
    expect(moved.sort()).toEqual([...changed].sort());
    for (const k of changed) expect(after.get(k)!['addresses.'][0]?.city).toBe(`Changed City ${k}`);

    // a full re-read finds nothing to write
    const full = await run({ pipeline: 'tryton-customers', mode: 'full' });
    expect(full.totals.created + full.totals.updated).toBe(0);
    expect(full.totals.unchanged).toBe(first.totals.created);
  });

  test('contacts: written as named contact mechanisms; a contact Tryton refuses to move is quarantined with its message, the rest is written', async () => {
    const created = await run({ pipeline: 'tryton-contacts' });
    expect(created.status).toBe('completed');
    expect(created.totals.created).toBeGreaterThan(200);
    const mechs = await admin.model<{ comment: string; name: string; type: string; party: number }[]>(
      'party.contact_mechanism', 'search_read', [[['comment', 'like', '[crm-contact:%']], 0, null, null, ['comment', 'name', 'type', 'party']]);
    expect(new Set(mechs.map((m) => m.comment.split('\n')[0])).size).toBe(created.totals.created);

    // In the CRM: one contact moves to another account, three get a new title.
    const bound = await linkedTargets(sync.store, sync.registry, 'tryton-contacts', crmRows<{ id: number }>('SELECT id FROM contacts').map((r) => String(r.id)));
    const keys = [...bound.keys()].slice(0, 4);
    const [moving, ...retitled] = keys as [string, ...string[]];
    const accountKeys = [...(await parties()).keys()];
    const from = crmRows<{ account_id: number }>('SELECT account_id FROM contacts WHERE id = ?', Number(moving))[0]!.account_id;
    const to = Number(accountKeys.find((k) => Number(k) !== from));
    const now = new Date().toISOString();
    crmExec((db) => {
      db.prepare('UPDATE contacts SET account_id = ?, updated_at = ? WHERE id = ?').run(to, now, Number(moving));
      const t = db.prepare("UPDATE contacts SET title = 'Chief Sync Officer', updated_at = ? WHERE id = ?");
      for (const k of retitled) t.run(now, Number(k));
    });

    const second = await run({ pipeline: 'tryton-contacts' });
    expect(second.totals).toMatchObject({ created: 0, updated: 3 });
    const q = (await sync.store.listQuarantine('tryton-contacts', 1000)).filter((e) => e.syncId === second.syncId && e.stage === 'write');
    const refused = q.filter((e) => /change the party/.test(e.reason));
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ sourceKey: moving, field: 'customerExternalKey', rule: 'ValidationError' });
    expect(refused[0]!.reason).toMatch(/^You cannot change the party of contact mechanism/);
    // the other write refusals of this run are lookback re-reads of contacts whose account is not in Tryton
    expect(q.filter((e) => e !== refused[0]).every((e) => e.rule === 'NotFound')).toBe(true);
    const titled = await admin.model<{ comment: string }[]>('party.contact_mechanism', 'search_read', [
      ['OR', ...retitled.map((k) => ['comment', '=', `[crm-contact:${k}]\nChief Sync Officer`])], 0, null, null, ['comment']]);
    expect(new Set(titled.map((m) => m.comment)).size).toBe(3);
  });

  test('invoices: posted and paid in Tryton, they reach the CRM with their payment state', async () => {
    const conn: TrytonConnector = createTrytonConnector({ url: tryton.url, database: tryton.database, user: tryton.user, password: tryton.password });
    try {
      const customers = await parties();
      const customer = [...customers].find(([, p]) => p['addresses.'].length > 0 && p.active)![0];
      const product = (await admin.model<{ code: string }[]>('product.product', 'search_read', [[['salable', '=', true]], 0, 1, [['id', 'ASC']], ['code']]))[0]!.code;
      const invoiceOf = async (key: string): Promise<number> => {
        const [o] = await conn.upsert('salesOrders', [{
          externalKey: key,
          fields: {
            externalKey: key, customerExternalKey: customer, orderDate: new Date().toISOString().slice(0, 10), currency: 'EUR',
            lines: [{ productExternalKey: product, quantity: 3, unitPrice: { amountMinor: 1000, currency: 'EUR' }, discountPercent: 0 }],
          },
        }]);
        if (!o?.ok) throw new Error(`order refused: ${JSON.stringify(o)}`);
        await conn.quoteSalesOrders([o.targetKey]);
        expect(await conn.confirmSalesOrders([o.targetKey])).toEqual([expect.objectContaining({ ok: true })]);
        const [sale] = await conn.read('salesOrders', [o.targetKey]);
        return (sale!.data.invoices as number[])[0]!;
      };
      const paid = await invoiceOf('DEAL-1');
      const open = await invoiceOf('DEAL-2');
      await postInvoices(admin, [paid, open]);
      await payInvoice(admin, paid);

      const result = await run({ pipeline: 'tryton-invoices' });
      expect(result.totals).toMatchObject({ read: 2, created: 2, quarantined: 0 });
      type Inv = { external_key: string; number: string; customer_external_key: string; total_minor: number; amount_due_minor: number; currency: string; state: string };
      const rows = crmRows<Inv>('SELECT * FROM erp_invoices ORDER BY external_key');
      const byKey = new Map(rows.map((r) => [r.external_key, r]));
      expect(byKey.get(String(paid))).toMatchObject({ customer_external_key: customer, total_minor: 3000, amount_due_minor: 0, currency: 'EUR', state: 'paid' });
      expect(byKey.get(String(open))).toMatchObject({ customer_external_key: customer, total_minor: 3000, amount_due_minor: 3000, state: 'posted' });
      expect(byKey.get(String(paid))!.number).toMatch(/^INV/);

      // the open invoice gets paid later: the next incremental run carries just that change
      await payInvoice(admin, open);
      const next = await run({ pipeline: 'tryton-invoices' });
      expect(next.totals).toMatchObject({ created: 0, updated: 1 });
      expect(crmRows<Inv>('SELECT * FROM erp_invoices WHERE external_key = ?', String(open))[0]).toMatchObject({ state: 'paid', amount_due_minor: 0 });
    } finally {
      await conn.close();
    }
  });
});
