import { Pool } from 'pg';
import { randomUUID } from 'node:crypto';
import { SyncError } from '../../contracts/errors';
import { msToNextUtcDay } from './errors';
import type { ApiUsageGovernor } from './governor';

/**
 * The Salesforce API-usage governor in PostgreSQL, so workers on several hosts share one org's
 * daily budget and its cap on requests in flight (the SQLite governor in governor.ts serves the
 * workers of one host). One round trip per attempt: `salesforce_api_acquire()` takes a transaction
 * advisory lock per org, so grants of one org are serialised across every connection, then applies
 * the SQLite governor's rules: the day rolls over at 00:00 UTC, `used` counts grants and is raised
 * to what Salesforce reports, a lease per request in flight expires on its own if its worker dies.
 * Days and lease expiry are on the database server's clock, the same for every host.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS salesforce_api_usage (account text PRIMARY KEY, day date NOT NULL, used integer NOT NULL, daily_limit integer NOT NULL, granted integer NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS salesforce_api_leases (id uuid PRIMARY KEY, account text NOT NULL, expires timestamptz NOT NULL);
CREATE INDEX IF NOT EXISTS salesforce_api_leases_account ON salesforce_api_leases (account, expires);
CREATE OR REPLACE FUNCTION salesforce_api_today() RETURNS date LANGUAGE sql VOLATILE AS
  $$ SELECT (clock_timestamp() AT TIME ZONE 'UTC')::date $$;
CREATE OR REPLACE FUNCTION salesforce_api_acquire(p_account text, p_id uuid, p_default_limit integer, p_percent double precision, p_max_concurrent integer, p_lease_ms bigint,
  OUT status text, OUT used integer, OUT daily_limit integer, OUT granted integer) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  today date;
  in_flight integer;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('salesforce_api:' || p_account));
  today := salesforce_api_today();
  INSERT INTO salesforce_api_usage (account, day, used, daily_limit) VALUES (p_account, today, 0, p_default_limit) ON CONFLICT (account) DO NOTHING;
  UPDATE salesforce_api_usage u SET day = today, used = 0, granted = 0 WHERE u.account = p_account AND u.day <> today;
  SELECT u.used, u.daily_limit, u.granted INTO used, daily_limit, granted FROM salesforce_api_usage u WHERE u.account = p_account;
  IF used >= floor(daily_limit * p_percent / 100) THEN
    status := 'budget';
    RETURN;
  END IF;
  DELETE FROM salesforce_api_leases l WHERE l.account = p_account AND l.expires <= clock_timestamp();
  SELECT count(*) INTO in_flight FROM salesforce_api_leases l WHERE l.account = p_account;
  IF in_flight >= p_max_concurrent THEN
    status := 'busy';
    RETURN;
  END IF;
  INSERT INTO salesforce_api_leases (id, account, expires) VALUES (p_id, p_account, clock_timestamp() + p_lease_ms * interval '1 millisecond');
  UPDATE salesforce_api_usage u SET used = u.used + 1, granted = u.granted + 1 WHERE u.account = p_account
    RETURNING u.used, u.granted INTO used, granted;
  status := 'ok';
END $$;
`;

/** Serialises schema set-up when several workers start at once (CREATE OR REPLACE FUNCTION races otherwise). */
const SCHEMA_LOCK_KEY = '7164040213915922551';

export interface PostgresApiGovernorOptions {
  /** `postgres://…` of the database every worker shares (a secret: it holds the password). */
  url: string;
  /** The org (its id or My Domain) whose limits are shared. */
  account: string;
  /** The org's daily allowance until a response reports it. @default 100000 */
  dailyLimit?: number;
  /** Share of the daily allowance this integration may use, in percent. @default 80 */
  dailyBudgetPercent?: number;
  /** Requests in flight at once across all workers on all hosts. @default 10 */
  maxConcurrent?: number;
  /** A lease older than this is a dead worker's. @default 600000 */
  leaseMs?: number;
  /** Pause between attempts while every slot is taken. @default 10–20 ms */
  pollMs?: () => number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function createPostgresApiGovernor(options: PostgresApiGovernorOptions): ApiUsageGovernor {
  // Few connections: one attempt is one short statement. Idle connections do not keep the process alive.
  const pool = new Pool({ connectionString: options.url, max: 2, idleTimeoutMillis: 5000, allowExitOnIdle: true, connectionTimeoutMillis: 10_000 });
  pool.on('error', () => undefined);
  const account = options.account;
  const percent = options.dailyBudgetPercent ?? 80;
  const defaultLimit = options.dailyLimit ?? 100_000;
  const maxConcurrent = options.maxConcurrent ?? 10;
  const leaseMs = options.leaseMs ?? 600_000;
  const pollMs = options.pollMs ?? (() => 10 + Math.floor(Math.random() * 10));
  // What the database said last (snapshot() is synchronous: it reports this host's latest view).
  const last = { used: 0, limit: defaultLimit, granted: 0 };
  let waitedMs = 0;
  // Writes not awaited by their caller (observe, release): close() waits for them.
  const pending = new Set<Promise<unknown>>();
  const track = (p: Promise<unknown>) => {
    const q = p.catch(() => undefined).finally(() => pending.delete(q));
    pending.add(q);
  };

  const ready = (async () => {
    const c = await pool.connect();
    try {
      await c.query('BEGIN');
      await c.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK_KEY]);
      await c.query(SCHEMA);
      await c.query('COMMIT');
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      c.release();
    }
  })();
  ready.catch(() => undefined);

  let closed: Promise<void> | undefined;
  return {
    async acquire() {
      await ready;
      const started = Date.now();
      for (;;) {
        const id = randomUUID();
        const r = await pool.query<{ status: 'ok' | 'busy' | 'budget'; used: number; daily_limit: number; granted: number }>(
          'SELECT status, used, daily_limit, granted FROM salesforce_api_acquire($1, $2, $3, $4, $5, $6)',
          [account, id, defaultLimit, percent, maxConcurrent, leaseMs],
        );
        const a = r.rows[0]!;
        Object.assign(last, { used: a.used, limit: a.daily_limit, granted: a.granted });
        if (a.status === 'ok') {
          waitedMs += Date.now() - started;
          let released = false;
          return () => {
            if (released) return;
            released = true;
            track(pool.query('DELETE FROM salesforce_api_leases WHERE id = $1', [id]));
          };
        }
        if (a.status === 'budget') {
          throw new SyncError('RateLimited', `Salesforce API budget for today used: ${a.used} of ${a.daily_limit} requests (${percent}% budget); resumes at 00:00 UTC`, {
            retryAfterMs: msToNextUtcDay(Date.now()),
            details: { used: a.used, limit: a.daily_limit, budgetPercent: percent },
          });
        }
        await sleep(pollMs());
      }
    },
    observe(used, limit) {
      last.used = Math.max(last.used, used);
      last.limit = limit;
      track(
        ready.then(() =>
          pool.query('UPDATE salesforce_api_usage SET used = greatest(used, $1), daily_limit = $2 WHERE account = $3 AND day = salesforce_api_today()', [used, limit, account]),
        ),
      );
    },
    snapshot() {
      return { ...last, waitedMs };
    },
    close() {
      closed ??= (async () => {
        await ready.catch(() => undefined);
        while (pending.size) await Promise.all([...pending]);
        await pool.end();
      })();
      return closed;
    },
  };
}
