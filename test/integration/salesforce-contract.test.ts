import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from 'jsforce';
import { startSalesforceEmulator } from '../../emulators/salesforce';
import type { SalesforceEmulator } from '../../emulators/salesforce';

/**
 * Contract tests: the endpoints the Salesforce connector uses, called through jsforce itself
 * against the emulator, so requests are built and answers parsed by the vendor's client.
 */

const TOKEN = '00DEm0000000001!contract';
const VERSION = '62.0';

interface SfApiError {
  errorCode: string;
  message: string;
  data?: unknown;
}

async function failure(p: PromiseLike<unknown>): Promise<SfApiError> {
  try {
    await p;
  } catch (err) {
    return err as SfApiError;
  }
  throw new Error('expected the call to fail');
}

interface SaveResult {
  id: string | null;
  success: boolean;
  errors: { statusCode: string; message: string; fields: string[] }[];
  created?: boolean;
}

jest.setTimeout(120_000);

let dir: string;
let emu: SalesforceEmulator;
let conn: Connection;

const connect = (e: SalesforceEmulator, accessToken = TOKEN): Connection => new Connection({ instanceUrl: e.baseUrl, accessToken, version: VERSION });
const accounts = (n: number, from = 0, prefix = 'A'): Record<string, unknown>[] =>
  Array.from({ length: n }, (_, i) => ({ attributes: { type: 'Account' }, Name: `${prefix} ${from + i}`, ERP_Id__c: `${prefix}-${from + i}`, AnnualRevenue: (from + i) * 10 }));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sf-contract-'));
  emu = await startSalesforceEmulator({ token: TOKEN, dbPath: join(dir, 'sf.db'), clientId: 'app-1', clientSecret: 's3cret', bulkQueryPageSize: 1000 });
  conn = connect(emu);
});
afterAll(async () => {
  await emu.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('auth and describe', () => {
  it('refuses a bad token with 401 INVALID_SESSION_ID', async () => {
    const err = await failure(connect(emu, 'wrong').query('SELECT Id FROM Account'));
    expect(err.errorCode).toBe('INVALID_SESSION_ID');
    expect(err.message).toBe('Session expired or invalid');
  });

  it('issues a token by the OAuth client-credentials flow, and refuses a wrong secret', async () => {
    const c = new Connection({ oauth2: { clientId: 'app-1', clientSecret: 's3cret', loginUrl: emu.baseUrl }, version: VERSION });
    await c.authorize({ grant_type: 'client_credentials' });
    expect(c.instanceUrl).toBe(emu.baseUrl);
    expect((await c.query('SELECT Id FROM Account')).done).toBe(true);
    const bad = new Connection({ oauth2: { clientId: 'app-1', clientSecret: 'nope', loginUrl: emu.baseUrl }, version: VERSION });
    const err = await failure(bad.authorize({ grant_type: 'client_credentials' }));
    expect(String((err as unknown as Error).message)).toMatch(/invalid client credentials/);
  });

  it('describes the six objects, ERP_Id__c an external id and unique', async () => {
    for (const name of ['Account', 'Contact', 'Product2', 'PricebookEntry', 'Opportunity', 'OpportunityLineItem']) {
      const d = await conn.sobject(name).describe();
      expect(d.name).toBe(name);
      const erp = d.fields.find((f) => f.name === 'ERP_Id__c');
      expect(erp).toMatchObject({ externalId: true, unique: true, custom: true, type: 'string', idLookup: true });
      expect(d.fields.map((f) => f.name)).toEqual(expect.arrayContaining(['Id', 'SystemModstamp', 'LastModifiedDate', 'IsDeleted']));
    }
  });
});

describe('sObject rows', () => {
  it('creates, reads, updates, upserts by external id (201 created, 200 updated) and deletes', async () => {
    const created = (await conn.sobject('Account').create({ Name: 'Acme', ERP_Id__c: 'C-1' })) as SaveResult;
    expect(created).toMatchObject({ success: true, errors: [] });
    expect(created.id).toMatch(/^001[A-Za-z0-9]{15}$/);
    const read = (await conn.sobject('Account').retrieve(created.id!)) as unknown as Record<string, unknown>;
    expect(read).toMatchObject({ Name: 'Acme', ERP_Id__c: 'C-1', IsDeleted: false });
    expect(read.SystemModstamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000\+0000$/);
    await conn.sobject('Account').update({ Id: created.id!, Phone: '+49 30 1234' });
    const up1 = (await conn.sobject('Account').upsert({ ERP_Id__c: 'C-1', Name: 'Acme GmbH' }, 'ERP_Id__c')) as SaveResult;
    expect(up1).toMatchObject({ id: created.id, success: true, created: false });
    const up2 = (await conn.sobject('Account').upsert({ ERP_Id__c: 'C-2', Name: 'Beta' }, 'ERP_Id__c')) as SaveResult;
    expect(up2).toMatchObject({ success: true, created: true });
    expect(((await conn.sobject('Account').retrieve(created.id!)) as unknown as Record<string, unknown>).Phone).toBe('+49 30 1234');
    await conn.sobject('Account').destroy(up2.id!);
    const gone = await failure(conn.sobject('Account').retrieve(up2.id!));
    expect(gone.errorCode).toBe('NOT_FOUND');
  });

  it('refuses a duplicate ERP_Id__c and a missing required field with the error body shape', async () => {
    const dup = await failure(conn.sobject('Account').create({ Name: 'Dup', ERP_Id__c: 'C-1' }));
    expect(dup.errorCode).toBe('DUPLICATE_VALUE');
    expect(dup.data).toMatchObject({ errorCode: 'DUPLICATE_VALUE', fields: ['ERP_Id__c'] });
    const missing = await failure(conn.sobject('Contact').create({ FirstName: 'No last name' }));
    expect(missing.errorCode).toBe('REQUIRED_FIELD_MISSING');
    expect(missing.message).toBe('Required fields are missing: [LastName]');
  });

  it('answers 300 with the matching records when an external id matches several', async () => {
    await conn.sobject('Account').create([
      { Name: 'Twin 1', Legacy_Id__c: 'L-1' },
      { Name: 'Twin 2', Legacy_Id__c: 'L-1' },
    ]);
    const err = await failure(conn.sobject('Account').upsert({ Legacy_Id__c: 'L-1', Name: 'Which?' }, 'Legacy_Id__c'));
    expect(err.errorCode).toBe('MULTIPLE_CHOICES');
    expect(err.data).toEqual([expect.stringMatching(/\/sobjects\/Account\/001/), expect.stringMatching(/\/sobjects\/Account\/001/)]);
    // In a collection the same match is that record's error; the others are written.
    const res = (await conn.sobject('Account').upsert(
      [{ Legacy_Id__c: 'L-1', Name: 'Which?' }, { Legacy_Id__c: 'L-2', Name: 'New' }],
      'Legacy_Id__c',
    )) as SaveResult[];
    expect(res[0]).toMatchObject({ success: false, errors: [{ statusCode: 'DUPLICATE_EXTERNAL_ID', fields: ['Legacy_Id__c'] }] });
    expect(res[1]).toMatchObject({ success: true, created: true });
  });
});

describe('products and price books', () => {
  it('prices a product in the standard price book; Product2Id is create-only', async () => {
    const std = await conn.query<{ Id: string }>('SELECT Id FROM Pricebook2 WHERE IsStandard = true');
    expect(std.totalSize).toBe(1);
    const product = (await conn.sobject('Product2').create({ Name: 'Widget', ProductCode: 'W-1', ERP_Id__c: 'P-1', IsActive: true })) as SaveResult;
    const entry = (await conn.sobject('PricebookEntry').create({ Pricebook2Id: std.records[0]!.Id, Product2Id: product.id, UnitPrice: 19.99, IsActive: true, ERP_Id__c: 'P-1' })) as SaveResult;
    expect(entry.success).toBe(true);
    const err = await failure(conn.sobject('PricebookEntry').update({ Id: entry.id!, Product2Id: product.id! }));
    expect(err.errorCode).toBe('INVALID_FIELD_FOR_INSERT_UPDATE');
    const priced = await conn.query<{ UnitPrice: number }>("SELECT UnitPrice FROM PricebookEntry WHERE ERP_Id__c = 'P-1' AND UnitPrice > 19.5");
    expect(priced.records.map((r) => r.UnitPrice)).toEqual([19.99]);
  });
});

describe('SOQL query and queryAll', () => {
  beforeAll(async () => {
    for (let i = 0; i < 4600; i += 200) await conn.sobject('Account').create(accounts(200, i, 'Q'), { allOrNone: true });
  });

  it('pages at 2,000 with nextRecordsUrl, and at batchSize with Sforce-Query-Options', async () => {
    const soql = "SELECT Id, Name FROM Account WHERE ERP_Id__c LIKE 'Q-%' ORDER BY Id";
    const first = await conn.query<{ Id: string }>(soql, { autoFetch: false });
    expect(first).toMatchObject({ totalSize: 4600, done: false });
    expect(first.records).toHaveLength(2000);
    expect(first.nextRecordsUrl).toMatch(/\/services\/data\/v62\.0\/query\/01g[A-Za-z0-9]+-2000$/);
    const second = await conn.queryMore<{ Id: string }>(first.nextRecordsUrl!);
    expect(second.records).toHaveLength(2000);
    expect(second.records[0]!.Id > first.records[1999]!.Id).toBe(true);
    const all = await conn.query<{ Id: string }>(soql).run({ autoFetch: true, maxFetch: 10_000 });
    expect(new Set(all.records.map((r) => r.Id)).size).toBe(4600);

    const small = await conn.request<{ records: unknown[]; nextRecordsUrl?: string }>({
      method: 'GET',
      url: `/services/data/v${VERSION}/query?q=${encodeURIComponent(soql)}`,
      headers: { 'Sforce-Query-Options': 'batchSize=500' },
    });
    expect(small.records).toHaveLength(500);
    expect(small.nextRecordsUrl).toMatch(/-500$/);
  });

  it('filters with AND/OR on strings, numbers and datetimes, orders and limits', async () => {
    const r = await conn.query<{ Name: string; AnnualRevenue: number }>(
      "SELECT Name, AnnualRevenue FROM Account WHERE (AnnualRevenue >= 100 AND AnnualRevenue < 150) OR Name = 'q 4499' ORDER BY AnnualRevenue DESC LIMIT 3",
    );
    expect(r.records.map((x) => x.Name)).toEqual(['Q 4499', 'Q 14', 'Q 13']);
    const since = await conn.query('SELECT Id FROM Account WHERE SystemModstamp > 2000-01-01T00:00:00Z AND SystemModstamp <= 2999-01-01T00:00:00.000+0000 LIMIT 5');
    expect(since.records).toHaveLength(5);
    const none = await conn.query('SELECT Id FROM Account WHERE SystemModstamp > 2999-01-01T00:00:00Z');
    expect(none.totalSize).toBe(0);
    const bad = await failure(conn.query('SELECT Nope__c FROM Account'));
    expect(bad.errorCode).toBe('INVALID_FIELD');
    const malformed = await failure(conn.query('SELECT FROM WHERE'));
    expect(malformed.errorCode).toBe('MALFORMED_QUERY');
  });

  it('queryAll returns deleted records with IsDeleted, query does not', async () => {
    const some = await conn.query<{ Id: string }>("SELECT Id FROM Account WHERE ERP_Id__c IN ('Q-1', 'Q-2', 'Q-3')");
    await conn.sobject('Account').destroy(some.records.map((r) => r.Id));
    const live = await conn.query("SELECT Id FROM Account WHERE ERP_Id__c IN ('Q-1', 'Q-2', 'Q-3')");
    expect(live.totalSize).toBe(0);
    const all = await conn.query<{ IsDeleted: boolean }>("SELECT Id, IsDeleted FROM Account WHERE ERP_Id__c IN ('Q-1', 'Q-2', 'Q-3')", { scanAll: true });
    expect(all.records.map((x) => x.IsDeleted)).toEqual([true, true, true]);
  });
});

describe('sObject Collections', () => {
  it('upserts 200 with one bad record: 199 written, one per-record error', async () => {
    const batch = accounts(200, 0, 'COL');
    batch[57] = { ...batch[57], Name: 'x'.repeat(256) };
    const res = (await conn.sobject('Account').upsert(batch, 'ERP_Id__c')) as SaveResult[];
    expect(res).toHaveLength(200);
    expect(res.filter((r) => r.success)).toHaveLength(199);
    expect(res[57]).toEqual({ id: null, success: false, errors: [{ statusCode: 'STRING_TOO_LONG', message: expect.stringMatching(/^Name: data value too large/), fields: ['Name'] }] });
    expect(res[0]).toMatchObject({ success: true, created: true, errors: [] });
    const again = (await conn.sobject('Account').upsert(batch.slice(0, 3), 'ERP_Id__c')) as SaveResult[];
    expect(again.map((r) => r.created)).toEqual([false, false, false]);
  });

  it('allOrNone rolls every record back on one failure', async () => {
    const batch = accounts(5, 0, 'AON');
    batch[2] = { attributes: { type: 'Account' }, ERP_Id__c: 'AON-2' };
    const res = (await conn.sobject('Account').upsert(batch, 'ERP_Id__c', { allOrNone: true })) as SaveResult[];
    expect(res[2]!.errors[0]!.statusCode).toBe('REQUIRED_FIELD_MISSING');
    expect(res.filter((r) => r.errors[0]?.statusCode === 'ALL_OR_NONE_OPERATION_ROLLED_BACK')).toHaveLength(4);
    expect((await conn.query("SELECT Id FROM Account WHERE ERP_Id__c LIKE 'AON-%'")).totalSize).toBe(0);
  });

  it('refuses more than 200 records', async () => {
    const err = await failure(
      conn.request({ method: 'PATCH', url: `/services/data/v${VERSION}/composite/sobjects/Account/ERP_Id__c`, body: JSON.stringify({ allOrNone: false, records: accounts(201, 0, 'BIG') }), headers: { 'Content-Type': 'application/json' } }),
    );
    expect(err.errorCode).toBe('EXCEEDED_ID_LIMIT');
  });
});

describe('Bulk API 2.0', () => {
  it('ingests an upsert by external id with failed rows reported', async () => {
    const rows = Array.from({ length: 1000 }, (_, i) => ({ Name: i % 250 === 7 ? '' : `Bulk ${i}`, ERP_Id__c: `BULK-${i}`, AnnualRevenue: i % 333 === 5 ? 'lots' : String(i) }));
    const res = await conn.bulk2.loadAndWaitForResults({ object: 'Account', operation: 'upsert', externalIdFieldName: 'ERP_Id__c', input: rows, pollInterval: 100, pollTimeout: 60_000 });
    const failed = res.failedResults as unknown as Record<string, string>[];
    const failedKeys = failed.map((r) => r.ERP_Id__c).sort();
    // Row 7 and 257 etc. have no Name (required on create); 5, 338, 671 are not numbers.
    expect(failedKeys).toEqual(['BULK-257', 'BULK-338', 'BULK-5', 'BULK-507', 'BULK-671', 'BULK-7', 'BULK-757']);
    expect(failed.find((r) => r.ERP_Id__c === 'BULK-5')!.sf__Error).toMatch(/^INVALID_TYPE_ON_FIELD_IN_RECORD:AnnualRevenue: value not of required type: lots:AnnualRevenue/);
    expect(failed.find((r) => r.ERP_Id__c === 'BULK-7')!.sf__Error).toMatch(/^REQUIRED_FIELD_MISSING:/);
    expect(res.successfulResults).toHaveLength(993);
    expect(res.successfulResults[0]).toMatchObject({ sf__Created: 'true', sf__Id: expect.stringMatching(/^001/) });
    expect((await conn.query("SELECT Id FROM Account WHERE ERP_Id__c LIKE 'BULK-%'")).totalSize).toBe(993);
  });

  it('walks the job states and refuses data after the upload is closed', async () => {
    const job = conn.bulk2.createJob({ object: 'Account', operation: 'insert' });
    const opened = await job.open();
    expect(opened.state).toBe('Open');
    await job.uploadData([{ Name: 'State 1' }]);
    await job.close();
    expect(['UploadComplete', 'InProgress', 'JobComplete']).toContain((await job.check()).state);
    // jsforce refuses a second upload itself; the raw PUT shows the server's answer.
    const late = await failure(
      conn.request({ method: 'PUT', url: `/services/data/v${VERSION}/jobs/ingest/${job.id}/batches`, body: 'Name\nlate\n', headers: { 'Content-Type': 'text/csv' } }),
    );
    expect(late.errorCode).toBe('INVALIDJOBSTATE');
    await job.poll(100, 30_000);
    expect(await job.check()).toMatchObject({ state: 'JobComplete', numberRecordsProcessed: 1, numberRecordsFailed: 0 });
  });

  it('runs a query job whose results page with Sforce-Locator', async () => {
    const soql = "SELECT Id, Name FROM Account WHERE ERP_Id__c LIKE 'Q-%'";
    const stream = await conn.bulk2.query(soql, { pollInterval: 100, pollTimeout: 60_000 });
    const rows = ((await stream.toArray?.()) ?? []) as { Id: string; Name: string }[];
    // Every results page starts with the CSV header, as on Salesforce; jsforce 3.10.16 feeds the
    // pages into one CSV parser, so the header lines of pages 2..5 come out as rows (the connector
    // reads the pages itself for that reason).
    const data = rows.filter((r) => r.Id !== 'Id');
    expect(rows.length - data.length).toBe(4);
    expect(new Set(data.map((r) => r.Id)).size).toBe(4597);
    // The raw chain jsforce followed: pages of 1,000 (the emulator's page size here), then 'null'.
    const created = await conn.request<{ id: string }>({ method: 'POST', url: `/services/data/v${VERSION}/jobs/query`, body: JSON.stringify({ operation: 'query', query: soql }), headers: { 'Content-Type': 'application/json' } });
    await conn.bulk2.job('query', { id: created.id }).poll(100, 60_000);
    const chain: string[] = [];
    let locator = '';
    do {
      const res = await fetch(`${emu.baseUrl}/services/data/v${VERSION}/jobs/query/${created.id}/results${locator ? `?locator=${locator}` : ''}`, { headers: { Authorization: `Bearer ${TOKEN}` } });
      expect(res.headers.get('sforce-limit-info')).toMatch(/^api-usage=\d+\/100000$/);
      locator = res.headers.get('sforce-locator') ?? 'null';
      chain.push(`${res.headers.get('sforce-numberofrecords')}:${locator === 'null' ? 'null' : 'next'}`);
      await res.text();
    } while (locator !== 'null');
    expect(chain).toEqual(['1000:next', '1000:next', '1000:next', '1000:next', '597:null']);
  });
});

describe('org limits', () => {
  let small: SalesforceEmulator;
  afterEach(async () => {
    await small?.stop();
  });

  it('carries Sforce-Limit-Info on every answer and refuses past the daily allowance with 403 REQUEST_LIMIT_EXCEEDED', async () => {
    small = await startSalesforceEmulator({ token: TOKEN, dailyLimit: 3 });
    const c = connect(small);
    await c.query('SELECT Id FROM Account');
    expect(c.limitInfo.apiUsage).toEqual({ used: 1, limit: 3 });
    await c.query('SELECT Id FROM Account');
    await c.query('SELECT Id FROM Account');
    const err = await failure(c.query('SELECT Id FROM Account'));
    expect(err).toMatchObject({ errorCode: 'REQUEST_LIMIT_EXCEEDED', message: 'TotalRequests Limit exceeded.' });
    const raw = await fetch(`${small.baseUrl}/services/data/v${VERSION}/limits`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(raw.status).toBe(403);
    expect(raw.headers.get('sforce-limit-info')).toBe('api-usage=3/3');
    expect(await raw.json()).toEqual([{ message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }]);
  });

  it('refuses requests over the concurrency limit with 403 REQUEST_LIMIT_EXCEEDED', async () => {
    small = await startSalesforceEmulator({ token: TOKEN, concurrencyLimit: 2, latencyMs: 500 });
    const c = connect(small);
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => c.query('SELECT Id FROM Account')));
    const refused = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason as SfApiError);
    expect(results.filter((r) => r.status === 'fulfilled').length).toBeGreaterThanOrEqual(2);
    expect(refused.length).toBeGreaterThan(0);
    for (const e of refused) expect(e).toMatchObject({ errorCode: 'REQUEST_LIMIT_EXCEEDED', message: 'ConcurrentPerOrgLongTxn Limit exceeded.' });
    expect(small.limits.stats.peakConcurrency).toBe(2);
    // The refusal as sent: 403, the usage header, the error body.
    const url = `${small.baseUrl}/services/data/v${VERSION}/query?q=${encodeURIComponent('SELECT Id FROM Account')}`;
    const raw = await Promise.all(Array.from({ length: 4 }, () => fetch(url, { headers: { Authorization: `Bearer ${TOKEN}` } })));
    const over = raw.filter((r) => r.status === 403);
    expect(over.length).toBeGreaterThan(0);
    for (const r of over) {
      expect(r.headers.get('sforce-limit-info')).toMatch(/^api-usage=\d+\/\d+$/);
      expect(await r.json()).toEqual([{ message: 'ConcurrentPerOrgLongTxn Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }]);
    }
    await Promise.all(raw.filter((r) => r.status !== 403).map((r) => r.arrayBuffer()));
  });
});
