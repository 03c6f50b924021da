/**
 * The Salesforce API-usage governor on PostgreSQL: governors with separate connection pools (as
 * on separate worker hosts) on one database share one org's cap on requests in flight and its
 * daily budget. The cap is checked by the Salesforce emulator itself (it refuses a request over
 * its concurrency limit and records the peak); the budget on the rows the database holds.
 */
import { Client } from 'pg';
import { createPostgresApiGovernor, createSalesforceConnector, type ApiUsageGovernor } from '../../connectors/salesforce';
import { isSyncError } from '../../contracts/errors';
import { startSalesforceEmulator, type SalesforceEmulator } from '../../emulators/salesforce';
import { startPostgres, type TestPostgres } from '../helpers/postgres';

jest.setTimeout(120_000);

const TOKEN = 'sf-governor-token';
let pg: TestPostgres;
let url: string;
let sql: Client;
const governors: ApiUsageGovernor[] = [];
const emulators: SalesforceEmulator[] = [];

beforeAll(async () => {
  pg = await startPostgres();
  url = await pg.createDatabase('sf_governor');
  sql = new Client({ connectionString: url });
  await sql.connect();
});
afterAll(async () => {
  await Promise.all(governors.map((g) => g.close()));
  await Promise.all(emulators.map((e) => e.stop()));
  await sql?.end();
  await pg?.stop();
});

function governor(opts: { account: string; maxConcurrent?: number; dailyLimit?: number; dailyBudgetPercent?: number; leaseMs?: number }): ApiUsageGovernor {
  const g = createPostgresApiGovernor({ url, ...opts });
  governors.push(g);
  return g;
}

async function emulator(opts: { concurrencyLimit?: number; latencyMs?: number; dailyLimit?: number }): Promise<SalesforceEmulator> {
  const e = await startSalesforceEmulator({ token: TOKEN, ...opts });
  emulators.push(e);
  return e;
}

const connector = (e: SalesforceEmulator, g: ApiUsageGovernor) => createSalesforceConnector({ instanceUrl: e.baseUrl, auth: { kind: 'token', accessToken: TOKEN }, governor: g });

test('four pools racing never exceed the shared in-flight cap at Salesforce', async () => {
  const slow = await emulator({ concurrencyLimit: 3, latencyMs: 100 });
  const gs = Array.from({ length: 4 }, () => governor({ account: 'org-cap', maxConcurrent: 3 }));
  // All four set up the schema at once (as workers starting together).
  await Promise.all(gs.map((g) => g.acquire().then((release) => release())));
  // Make each attempt read the day slowly: without the per-org lock, overlapping attempts would
  // both count the same free slot and the emulator would refuse (and this test fail).
  await sql.query(`CREATE OR REPLACE FUNCTION salesforce_api_today() RETURNS date LANGUAGE plpgsql VOLATILE AS
    $$ BEGIN PERFORM pg_sleep(0.01); RETURN (clock_timestamp() AT TIME ZONE 'UTC')::date; END $$`);
  const connectors = gs.map((g) => connector(slow, g));
  const n = 40;
  await Promise.all(Array.from({ length: n }, (_, i) => connectors[i % 4]!.findByExternalKeys('accounts', [`k${i}`])));
  expect(slow.limits.stats.refusedConcurrency).toBe(0);
  expect(slow.limits.stats.peakConcurrency).toBe(3); // the cap was reached, and never passed
  expect(slow.limits.stats.accepted).toBe(n);
  const row = (await sql.query<{ granted: number }>("SELECT granted FROM salesforce_api_usage WHERE account = 'org-cap'")).rows[0]!;
  expect(row.granted).toBe(n + 4);
  // Every lease was given back.
  await Promise.all(governors.map((g) => g.close()));
  governors.length = 0;
  expect((await sql.query("SELECT 1 FROM salesforce_api_leases WHERE account = 'org-cap'")).rowCount).toBe(0);
});

test('four pools share one daily budget: exactly the budget is granted, the rest is RateLimited until 00:00 UTC', async () => {
  const gs = Array.from({ length: 4 }, () => governor({ account: 'org-budget', dailyLimit: 40, dailyBudgetPercent: 50 }));
  const outcomes = await Promise.all(
    Array.from({ length: 48 }, (_, i) =>
      gs[i % 4]!.acquire().then(
        (release) => {
          release();
          return 'granted';
        },
        (err: unknown) => (isSyncError(err) && err.type === 'RateLimited' && err.retryAfterMs! > 0 ? 'limited' : err),
      ),
    ),
  );
  expect(outcomes.filter((o) => o === 'granted')).toHaveLength(20); // 50% of 40
  expect(outcomes.filter((o) => o === 'limited')).toHaveLength(28);
  const row = (await sql.query<{ used: number; granted: number }>("SELECT used, granted FROM salesforce_api_usage WHERE account = 'org-budget'")).rows[0]!;
  expect(row).toEqual({ used: 20, granted: 20 });
  // Another org has its own budget.
  const other = governor({ account: 'org-other', dailyLimit: 40, dailyBudgetPercent: 50 });
  (await other.acquire())();
  // A new UTC day starts a fresh count.
  await sql.query("UPDATE salesforce_api_usage SET day = day - 1 WHERE account = 'org-budget'");
  (await gs[0]!.acquire())();
  expect((await sql.query("SELECT used FROM salesforce_api_usage WHERE account = 'org-budget'")).rows[0]).toEqual({ used: 1 });
});

test('usage Salesforce reported to one host stops the others before they send', async () => {
  const small = await emulator({ dailyLimit: 6 });
  const [h1, h2] = [governor({ account: 'org-observe', dailyLimit: 1000, dailyBudgetPercent: 100 }), governor({ account: 'org-observe', dailyLimit: 1000, dailyBudgetPercent: 100 })];
  const c1 = connector(small, h1);
  for (let i = 0; i < 6; i++) await c1.findByExternalKeys('accounts', ['x']); // Sforce-Limit-Info: 6/6
  await h1.close(); // its pending writes (the observed usage) are flushed
  const err = await connector(small, h2)
    .findByExternalKeys('accounts', ['x'])
    .catch((e: unknown) => e);
  expect(isSyncError(err) && err.type).toBe('RateLimited');
  expect(String((err as Error).message)).toContain('6 of 6');
  expect(small.limits.stats.refusedDaily).toBe(0); // refused by the governor, not by Salesforce
});

test("a dead worker's lease expires, so its slot comes back", async () => {
  const dead = governor({ account: 'org-lease', maxConcurrent: 1, leaseMs: 300 });
  await dead.acquire(); // never released: the worker "died" holding it
  const alive = governor({ account: 'org-lease', maxConcurrent: 1 });
  const release = await alive.acquire(); // waits until the lease expires on the server's clock
  release();
  expect(alive.snapshot().granted).toBe(2);
});
