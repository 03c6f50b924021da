import Database from 'better-sqlite3';
import path from 'node:path';
import { TASK_QUEUES } from '../../contracts/queues';
import type { ReconcilePairResult, ReconcileReport } from '../../contracts/reconcile';
import { demoPaths, seedDemo } from '../../demo/seed';
import type { SyncWorkers } from '../../workers/worker';
import { queryDb, syncWorkersFor } from '../helpers/demo-env';
import { startDevEnv, type DevEnv } from '../helpers/env';

/**
 * First links by natural key (issue 8): 1,000 CRM accounts and 1,000 ERP customers that share
 * no ids (the ERP's external keys are its own legacy numbers), with the same business data.
 * The pair's rules (external key, then VAT number, then name + country) link 980 without a
 * single write; 20 CRM accounts are ambiguous (ten twin pairs with the same name and country,
 * no VAT number, on both sides) and go to quarantine with both ERP candidates named.
 */

jest.setTimeout(300_000);

const N = 1000;
const TWIN_GROUPS = 10;
const PAIR = 'demo-customers';
let env: DevEnv;
let sync: SyncWorkers;
let running: Promise<void>;
let dir: string;
let n = 0;

/** Account i: a clean record; the first 2×TWIN_GROUPS come in twins sharing name and country, without VAT numbers. */
function account(i: number) {
  const twin = i <= 2 * TWIN_GROUPS ? Math.ceil(i / 2) : 0;
  return {
    id: i,
    company_name: twin ? `Twin ${twin} GmbH` : `Company ${i} GmbH`,
    email: `info@c${i}.example`,
    phone: '030 901820',
    website: `https://www.c${i}.example`,
    vat_id: !twin && i % 2 ? `DE${100_000_000 + i}` : null,
    street: `${i} Main Street`,
    city: 'Berlin',
    zip: '10115',
    country: 'Germany',
    credit_limit: null,
    currency: 'EUR',
    tier: 'SMB',
    status: 'active',
    updated_at: '2026-01-01T00:00:00.000Z',
  };
}

beforeAll(async () => {
  env = await startDevEnv();
  dir = path.join(env.tmp, 'demo');
  seedDemo(dir, { accounts: 0, contacts: 0, products: 0 });
  sync = await syncWorkersFor(env, dir, ['sql']);
  // The same business records on both sides, through the pair's own mappings; the ERP keeps legacy keys.
  const crmMapping = sync.registry.mappings.get('crm-account-to-customer')!;
  const erpWrite = sync.registry.mappings.get('erp-customer-to-customer')!.write!;
  const crm = new Database(demoPaths(dir).crm);
  const erp = new Database(demoPaths(dir).erp);
  const insertAccount = crm.prepare(
    `INSERT INTO accounts (id, company_name, email, phone, website, vat_id, street, city, zip, country, credit_limit, currency, tier, status, updated_at)
     VALUES (@id, @company_name, @email, @phone, @website, @vat_id, @street, @city, @zip, @country, @credit_limit, @currency, @tier, @status, @updated_at)`,
  );
  const rows: Record<string, unknown>[] = [];
  crm.transaction(() => {
    for (let i = 1; i <= N; i++) {
      const a = account(i);
      insertAccount.run(a);
      const m = crmMapping.apply(a);
      if (!m.ok) throw new Error(`account ${i} does not map: ${JSON.stringify(m.issues)}`);
      const native = erpWrite.toNative({ ...m.value, externalKey: `LEGACY-${7000 + i}` }, 'all');
      if (!native.ok) throw new Error(`account ${i} cannot be written to the ERP: ${JSON.stringify(native.issues)}`);
      rows.push({ ...native.values, active: native.values.active ? 1 : 0, updated_at: '2025-06-01T00:00:00.000Z' });
    }
  })();
  erp.transaction(() => {
    // ERP ids run in reverse, so no id (or key) is shared with the CRM's.
    for (const r of rows.reverse()) {
      const cols = Object.keys(r);
      erp.prepare(`INSERT INTO customers (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`).run(...cols.map((c) => r[c] ?? null));
    }
  })();
  crm.close();
  erp.close();
  running = sync.run();
});

afterAll(async () => {
  sync?.shutdown();
  await running;
  await env?.teardown();
});

async function reconcile(input: Record<string, unknown> = {}): Promise<ReconcilePairResult> {
  return (await env.client.workflow.execute('reconcilePair', {
    taskQueue: TASK_QUEUES.sql,
    workflowId: `first-link-${++n}`,
    args: [{ pair: PAIR, pageSize: 300, ...input }],
  })) as ReconcilePairResult;
}
/** Every row of both sides, as a fingerprint of what is stored (a write changes updated_at at least). */
const snapshot = () => ({
  crm: queryDb(demoPaths(dir).crm, 'SELECT * FROM accounts ORDER BY id'),
  erp: queryDb(demoPaths(dir).erp, 'SELECT * FROM customers ORDER BY id'),
});

test('1,000 records on both sides with no ids in common: 980 linked with no field writes, 20 in quarantine naming both candidates', async () => {
  const before = snapshot();
  expect(before.crm).toHaveLength(N);
  expect(before.erp).toHaveLength(N);
  const erpIdOf = new Map(before.erp.map((r) => [String(r.external_key), String(r.id)]));
  const erpOf = (i: number) => erpIdOf.get(`LEGACY-${7000 + i}`)!;

  const r = await reconcile();
  expect(r.status).toBe('completed');
  expect(r.counts).toMatchObject({
    read: { crm: N, erp: N },
    compared: 0,
    linkedByMatch: N - 2 * TWIN_GROUPS,
    matchedWithDiffs: 0,
    ambiguous: 2 * TWIN_GROUPS,
    orphans: { crm: 0, erp: 0 },
    duplicates: { crm: TWIN_GROUPS, erp: TWIN_GROUPS },
  });
  expect(snapshot()).toEqual(before); // no write on either side

  // The links: by VAT number or by name + country, each to the ERP record holding the same business data.
  const links = await sync.store.listLinks(PAIR, { limit: 5000 });
  expect(links).toHaveLength(N - 2 * TWIN_GROUPS);
  const linked = new Map(links.map((l) => [l.keys.crm!, l.keys.erp!]));
  for (let i = 2 * TWIN_GROUPS + 1; i <= N; i++) expect([i, linked.get(String(i))]).toEqual([i, erpOf(i)]);

  // The twins: quarantined, each naming both ERP candidates, never a guess.
  const held = await sync.store.listQuarantine(PAIR, 100);
  expect(held).toHaveLength(2 * TWIN_GROUPS);
  for (let i = 1; i <= 2 * TWIN_GROUPS; i++) {
    const entry = held.find((q) => q.sourceKey === `crm:${i}`)!;
    const candidates = [erpOf(i % 2 ? i : i - 1), erpOf(i % 2 ? i + 1 : i)].sort();
    expect(entry.rule).toBe('ambiguous');
    expect((entry.record as { candidates: { keys: string[] } }).candidates.keys.sort()).toEqual(candidates);
    for (const c of candidates) expect(entry.reason).toContain(c);
    expect(linked.has(String(i))).toBe(false);
  }
  const report = await sync.store.loadPage<ReconcileReport>(r.reportId);
  expect(report.items.ambiguous).toHaveLength(2 * TWIN_GROUPS);
  expect(report.items.duplicate.map((d) => d.candidates!.length)).toEqual(Array(2 * TWIN_GROUPS).fill(2));

  // A second reconciliation compares the 980 links field by field: nothing differs, nothing new is linked.
  const again = await reconcile();
  expect(again.counts).toMatchObject({ compared: N - 2 * TWIN_GROUPS, fieldDiffs: 0, linkedByMatch: 0, ambiguous: 2 * TWIN_GROUPS });
  expect(snapshot()).toEqual(before);
});
