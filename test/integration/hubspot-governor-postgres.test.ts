/**
 * The HubSpot rate governor on PostgreSQL: two governors (as on two worker hosts: separate
 * connection pools) on one database share one budget. Checked on the reservation times the
 * database itself recorded (a trigger logs every grant), so the check is exact, not timing-based.
 */
import { Client } from 'pg';
import { PostgresReservationStore } from '../../connectors/hubspot/governor-postgres';
import { WindowGovernor, type GovernorBucket, type WindowPolicy } from '../../connectors/hubspot/governor';
import { startPostgres, type TestPostgres } from '../helpers/postgres';

jest.setTimeout(120_000);

let pg: TestPostgres;
let url: string;
let sql: Client;
beforeAll(async () => {
  pg = await startPostgres();
  url = await pg.createDatabase('governor');
  sql = new Client({ connectionString: url });
  await sql.connect();
});
afterAll(async () => {
  await sql?.end();
  await pg?.stop();
});

const policies: Record<GovernorBucket, WindowPolicy> = { general: { max: 5, windowMs: 300 }, search: { max: 2, windowMs: 200 } };

/** Most grants of `key` in any window of `windowMs` ending at a grant. */
function busiestWindow(ats: number[], windowMs: number): number {
  const sorted = [...ats].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[j]! <= sorted[i]! - windowMs) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

test('governors on one database (four pools, as on four hosts) never exceed the shared window together, and a 429 backoff pauses both', async () => {
  const stores = Array.from({ length: 4 }, () => new PostgresReservationStore(url));
  // Four "hosts" (a pool of two connections each) racing for one key.
  const [a, b, c, d] = stores.map((s) => new WindowGovernor(s, 'acct', policies)) as [WindowGovernor, WindowGovernor, WindowGovernor, WindowGovernor];
  try {
    // All set up the schema at once (as workers starting together); then log every grant, and make
    // the reservation read the clock slowly, so that without the per-key lock overlapping
    // reservations would both see a free slot (and this test fail).
    await Promise.all(stores.map((s) => s.block('warm-up', 0)));
    await sql.query(`CREATE TABLE grants (key text, at bigint, pid int);
      CREATE FUNCTION log_grant() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO grants VALUES (NEW.key, NEW.at, pg_backend_pid()); RETURN NEW; END $$;
      CREATE TRIGGER log_grant AFTER INSERT ON hubspot_rate_reservations FOR EACH ROW EXECUTE FUNCTION log_grant();
      CREATE OR REPLACE FUNCTION hubspot_rate_now() RETURNS bigint LANGUAGE plpgsql VOLATILE AS
        $$ BEGIN PERFORM pg_sleep(0.02); RETURN floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint; END $$;`);

    const perGovernor = 10;
    const n = 4 * perGovernor;
    const granted = await Promise.all([a, b, c, d].flatMap((g) => Array.from({ length: perGovernor }, () => g.acquire('general'))));
    expect(granted).toHaveLength(n);
    const rows = (await sql.query<{ at: string; pid: number }>("SELECT at, pid FROM grants WHERE key = 'acct:general'")).rows;
    expect(rows).toHaveLength(n);
    // Grants came through both pools (several backends), yet no window holds more than max.
    expect(new Set(rows.map((r) => r.pid)).size).toBeGreaterThanOrEqual(4);
    const ats = rows.map((r) => Number(r.at));
    expect(busiestWindow(ats, policies.general.windowMs)).toBe(policies.general.max);
    // One shared budget: 40 grants at 5 per 300 ms span at least 7 full windows (four budgets would need 1).
    expect(Math.max(...ats) - Math.min(...ats)).toBeGreaterThanOrEqual((n / policies.general.max - 1) * policies.general.windowMs);

    // A 429 seen by A blocks B's searches until the block ends (on the server's clock).
    await a.backoff('search', 400);
    const [{ until }] = (await sql.query<{ until: string }>("SELECT until FROM hubspot_rate_blocks WHERE key = 'acct:search'")).rows as [{ until: string }];
    await b.acquire('search');
    const [{ at }] = (await sql.query<{ at: string }>("SELECT at FROM grants WHERE key = 'acct:search'")).rows as [{ at: string }];
    expect(Number(at)).toBeGreaterThanOrEqual(Number(until));
    // Another account has its own budget and no block.
    const other = new WindowGovernor(stores[1]!, 'other', policies);
    await other.acquire('search');
    expect((await sql.query("SELECT 1 FROM grants WHERE key = 'other:search'")).rowCount).toBe(1);
  } finally {
    await Promise.all([a, b, c, d].map((g) => g.close()));
  }
});
