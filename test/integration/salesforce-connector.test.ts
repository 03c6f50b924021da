import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSalesforceConnector, createSqliteApiGovernor, unlimitedApiGovernor } from '../../connectors/salesforce';
import type { Cursor } from '../../contracts/cursor';
import type { Connector, SourceRecord, WriteRequest } from '../../contracts/connector';
import { isSyncError } from '../../contracts/errors';
import { SOBJECTS } from '../../emulators/salesforce/schema';
import { startSalesforceEmulator } from '../../emulators/salesforce';
import type { SalesforceEmulator } from '../../emulators/salesforce';

/** The Salesforce connector against the emulator: reads, writes, errors and the governor. */

jest.setTimeout(120_000);

const TOKEN = '00DEm0000000001!connector-test';
const T0 = Date.parse('2026-03-02T10:00:00.000Z');
let dir: string;
let emu: SalesforceEmulator;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sf-connector-'));
  emu = await startSalesforceEmulator({ token: TOKEN, dbPath: join(dir, 'sf.db'), clientId: 'app', clientSecret: 'app-secret-value' });
});
afterAll(async () => {
  await emu.stop();
  rmSync(dir, { recursive: true, force: true });
});

function connector(clock: () => number, extra: Partial<Parameters<typeof createSalesforceConnector>[0]> = {}): Connector {
  return createSalesforceConnector({ instanceUrl: emu.baseUrl, auth: { kind: 'token', accessToken: TOKEN }, governor: unlimitedApiGovernor(), clock, ...extra });
}

async function readAll(c: Connector, entity: string, after: Cursor | null, limit: number, includeDeleted = false): Promise<{ records: SourceRecord[]; cursor: Cursor | null; pages: number }> {
  const records: SourceRecord[] = [];
  let cursor = after;
  let pages = 0;
  for (;;) {
    const page = await c.fetchChanges(entity, { after: cursor, limit, includeDeleted });
    records.push(...page.records);
    cursor = page.nextCursor;
    pages++;
    if (!page.hasMore) return { records, cursor, pages };
  }
}

describe('incremental reads', () => {
  it('reads records sharing one SystemModstamp exactly once across pages, only once their second is over', async () => {
    emu.store.now = () => T0 + 300; // 1,000 accounts, all stamped 10:00:00
    const account = SOBJECTS.Account!;
    emu.store.transaction(() => {
      for (let i = 0; i < 1000; i++) emu.store.insert(account, { Name: `Tie ${i}`, ERP_Id__c: `TIE-${i}` });
    });
    let now = T0 + 800;
    const c = connector(() => now);
    expect((await c.fetchChanges('accounts', { after: null, limit: 100 })).records).toHaveLength(0); // second not over
    now = T0 + 2000;
    const first = await readAll(c, 'accounts', null, 150);
    expect(first.pages).toBe(7);
    expect(first.records).toHaveLength(1000);
    expect(new Set(first.records.map((r) => r.key)).size).toBe(1000);
    expect(first.records.every((r) => r.modifiedAt === '2026-03-02T10:00:00.000Z')).toBe(true);
    expect(first.records.map((r) => r.key)).toEqual([...first.records.map((r) => r.key)].sort());

    // Changes in the next second, to records before and after the cursor's Id: all are read once.
    emu.store.now = () => T0 + 1500;
    const changed = [first.records[3]!, first.records[500]!, first.records[999]!];
    for (const r of changed) emu.store.update(account, r.key, { Phone: '+4930123' });
    expect((await c.fetchChanges('accounts', { after: first.cursor, limit: 150 })).records).toHaveLength(0); // 10:00:01 not over yet
    now = T0 + 3000;
    const second = await readAll(c, 'accounts', first.cursor, 150);
    expect(second.records.map((r) => r.key).sort()).toEqual(changed.map((r) => r.key).sort());
    expect(second.records.every((r) => r.data.Phone === '+4930123')).toBe(true);
    emu.store.now = Date.now;
  });

  it('returns deletes through queryAll flagged deleted, and reads deleted records by id', async () => {
    emu.store.now = () => T0 + 10_000;
    const account = SOBJECTS.Account!;
    const id = emu.store.insert(account, { Name: 'Doomed', ERP_Id__c: 'DOOMED-1' });
    emu.store.now = () => T0 + 11_000;
    emu.store.delete(account, id);
    const c = connector(() => T0 + 13_000);
    const after = { modifiedAt: '2026-03-02T10:00:09.000Z', key: '' };
    expect((await c.fetchChanges('accounts', { after, limit: 10 })).records).toHaveLength(0);
    const withDeleted = await c.fetchChanges('accounts', { after, limit: 10, includeDeleted: true });
    expect(withDeleted.records).toEqual([expect.objectContaining({ key: id, deleted: true, modifiedAt: '2026-03-02T10:00:11.000Z' })]);
    expect(await c.read('accounts', [id])).toEqual([expect.objectContaining({ key: id, deleted: true })]);
    emu.store.now = Date.now;
  });
});

const customer = (key: string, name: string, extra: Record<string, unknown> = {}): WriteRequest => ({
  externalKey: key,
  fields: { externalKey: key, name, address: { city: 'Berlin', countryCode: 'DE' }, creditLimit: { amountMinor: 123456, currency: 'EUR' }, ...extra },
});

describe('writes', () => {
  it('upserts through Collections: one bad record of 200 is its own outcome, the rest are written', async () => {
    const c = connector(Date.now);
    const batch = Array.from({ length: 200 }, (_, i) => customer(`ERP-${i}`, `Customer ${i}`));
    batch[42] = customer('ERP-42', 'x'.repeat(300));
    const out = await c.upsert('accounts', batch);
    expect(out.filter((o) => o.ok)).toHaveLength(199);
    expect(out[42]).toEqual({ externalKey: 'ERP-42', ok: false, error: { type: 'ValidationError', field: 'Name', message: expect.stringMatching(/^STRING_TOO_LONG: Name: data value too large/) } });
    expect(out[0]).toMatchObject({ externalKey: 'ERP-0', ok: true, action: 'created' });
    const again = await c.upsert('accounts', [customer('ERP-0', 'Customer 0 renamed')]);
    expect(again[0]).toMatchObject({ ok: true, action: 'updated' });
    const found = await c.findByExternalKeys('accounts', ['ERP-0', 'ERP-1', 'nope']);
    expect([...found.keys()].sort()).toEqual(['ERP-0', 'ERP-1']);
    const [row] = await c.read('accounts', [found.get('ERP-0')!]);
    expect(row!.data).toMatchObject({ Name: 'Customer 0 renamed', BillingCity: 'Berlin', BillingCountryCode: 'DE', Credit_Limit__c: 1234.56, ERP_Id__c: 'ERP-0' });
  });

  it('upserts above bulkThreshold through one Bulk 2.0 job, failed rows as outcomes in request order', async () => {
    const c = connector(Date.now, { bulkThreshold: 50, bulkPollIntervalMs: 100 });
    const batch = Array.from({ length: 120 }, (_, i) => customer(`BULKC-${i}`, `Bulk customer ${i}`));
    batch[7] = customer('BULKC-7', '');
    batch[99] = customer('BULKC-99', 'y'.repeat(300));
    const before = emu.limits.used();
    const out = await c.upsert('accounts', batch);
    expect(out.map((o) => o.externalKey)).toEqual(batch.map((w) => w.externalKey));
    expect(out.filter((o) => !o.ok).map((o) => o.externalKey)).toEqual(['BULKC-7', 'BULKC-99']);
    expect(out[7]).toMatchObject({ ok: false, error: { type: 'ValidationError', field: 'Name', message: expect.stringMatching(/^REQUIRED_FIELD_MISSING/) } });
    // One job: open, upload, close, a few polls, three result downloads; not 120 / 200 record calls.
    expect(emu.limits.used() - before).toBeLessThan(20);
    expect(emu.store.count('Account')).toBeGreaterThan(118);
  });
});

describe('products and their standard price', () => {
  it('upserts Product2 by ERP_Id__c with one standard PricebookEntry each, updated (not duplicated) when the price changes', async () => {
    const c = connector(Date.now);
    const product = (key: string, amountMinor: number): WriteRequest => ({ externalKey: key, fields: { externalKey: key, sku: `SKU-${key}`, name: `Product ${key}`, listPrice: { amountMinor, currency: 'EUR' }, active: true } });
    const out = await c.upsert('products', [product('P-1', 1999), product('P-2', 500), product('P-3', 12345)]);
    expect(out.map((o) => o.ok)).toEqual([true, true, true]);
    const standard = emu.store.all('Pricebook2').find((p) => p.data.IsStandard === true)!;
    const entries = () => emu.store.all('PricebookEntry').filter((p) => String(p.data.ERP_Id__c).startsWith('P-'));
    expect(entries().map((p) => [p.data.ERP_Id__c, p.data.UnitPrice, p.data.Pricebook2Id, p.data.Product2Id])).toEqual(
      out.map((o, i) => [`P-${i + 1}`, [19.99, 5, 123.45][i], standard.id, o.ok ? o.targetKey : '']),
    );
    const again = await c.upsert('products', [product('P-2', 750)]);
    expect(again[0]).toMatchObject({ ok: true, action: 'updated' });
    expect(entries()).toHaveLength(3);
    expect(entries().find((p) => p.data.ERP_Id__c === 'P-2')!.data.UnitPrice).toBe(7.5);
  });
});

describe('errors and limits', () => {
  it('maps a bad token to AuthError without the token in the message', async () => {
    const c = createSalesforceConnector({ instanceUrl: emu.baseUrl, auth: { kind: 'token', accessToken: 'not-the-token-1234' }, governor: unlimitedApiGovernor() });
    const err = await c.fetchChanges('accounts', { after: null, limit: 1 }).catch((e: unknown) => e);
    expect(isSyncError(err) && err.type).toBe('AuthError');
    expect(String((err as Error).message)).not.toContain('not-the-token-1234');
  });

  it('logs in by OAuth client credentials, the secret never in messages', async () => {
    const good = createSalesforceConnector({ instanceUrl: emu.baseUrl, auth: { kind: 'clientCredentials', clientId: 'app', clientSecret: 'app-secret-value' }, governor: unlimitedApiGovernor() });
    expect((await good.findByExternalKeys('accounts', ['ERP-1'])).size).toBe(1);
    const bad = createSalesforceConnector({ instanceUrl: emu.baseUrl, auth: { kind: 'clientCredentials', clientId: 'app', clientSecret: 'wrong-secret-value' }, governor: unlimitedApiGovernor() });
    const err = await bad.findByExternalKeys('accounts', ['ERP-1']).catch((e: unknown) => e);
    expect(isSyncError(err) && err.type).toBe('AuthError');
    expect(String((err as Error).message)).not.toContain('wrong-secret-value');
  });

  it('turns 403 REQUEST_LIMIT_EXCEEDED into RateLimited with a retry delay, and the governor learns the usage', async () => {
    const small = await startSalesforceEmulator({ token: TOKEN, dailyLimit: 4 });
    const gdir = mkdtempSync(join(tmpdir(), 'sf-gov-'));
    const governor = createSqliteApiGovernor({ path: join(gdir, 'g.db'), account: 'org', dailyLimit: 1000, dailyBudgetPercent: 100 });
    try {
      const c = createSalesforceConnector({ instanceUrl: small.baseUrl, auth: { kind: 'token', accessToken: TOKEN }, governor });
      for (let i = 0; i < 4; i++) await c.findByExternalKeys('accounts', ['x']);
      expect(governor.snapshot()).toMatchObject({ used: 4, limit: 4 });
      // The governor now knows the org's allowance is spent: it refuses before sending.
      const own = await c.findByExternalKeys('accounts', ['x']).catch((e: unknown) => e);
      expect(isSyncError(own) && own.type).toBe('RateLimited');
      expect(small.limits.stats.refusedDaily).toBe(0);
      // A governor that does not know (another process spent it) meets Salesforce's 403.
      const blind = createSalesforceConnector({ instanceUrl: small.baseUrl, auth: { kind: 'token', accessToken: TOKEN }, governor: unlimitedApiGovernor() });
      const err = await blind.findByExternalKeys('accounts', ['x']).catch((e: unknown) => e);
      expect(isSyncError(err) && err.type).toBe('RateLimited');
      expect(isSyncError(err) && err.retryAfterMs! > 0).toBe(true);
      expect(isSyncError(err) && err.details).toMatchObject({ errorCode: 'REQUEST_LIMIT_EXCEEDED', limit: 'daily' });
      expect(small.limits.stats.refusedDaily).toBe(1);
    } finally {
      await governor.close();
      await small.stop();
      rmSync(gdir, { recursive: true, force: true });
    }
  });

  it('two connectors sharing one governor file never exceed its concurrency cap', async () => {
    const slow = await startSalesforceEmulator({ token: TOKEN, concurrencyLimit: 3, latencyMs: 100 });
    const gdir = mkdtempSync(join(tmpdir(), 'sf-gov-'));
    const g1 = createSqliteApiGovernor({ path: join(gdir, 'g.db'), account: 'org', maxConcurrent: 3 });
    const g2 = createSqliteApiGovernor({ path: join(gdir, 'g.db'), account: 'org', maxConcurrent: 3 });
    try {
      const mk = (g: typeof g1) => createSalesforceConnector({ instanceUrl: slow.baseUrl, auth: { kind: 'token', accessToken: TOKEN }, governor: g });
      const [a, b] = [mk(g1), mk(g2)];
      await Promise.all(Array.from({ length: 16 }, (_, i) => (i % 2 ? a : b).findByExternalKeys('accounts', [`k${i}`])));
      expect(slow.limits.stats.refusedConcurrency).toBe(0);
      expect(slow.limits.stats.peakConcurrency).toBeLessThanOrEqual(3);
      expect(slow.limits.stats.accepted).toBe(16);
      expect(g1.snapshot().granted).toBe(16);
    } finally {
      await g1.close();
      await g2.close();
      await slow.stop();
      rmSync(gdir, { recursive: true, force: true });
    }
  });
});
