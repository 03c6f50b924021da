import { Pool } from 'pg';
import { hubSpotPolicies, WindowGovernor, type RateGovernor, type ReservationStore, type WindowPolicy } from './governor';

/**
 * The HubSpot rate governor's reservations in PostgreSQL, so workers on several hosts share one
 * account's budget. One round trip per attempt: `hubspot_rate_reserve()` takes a transaction
 * advisory lock per key (account and bucket), so reservations of one key are serialised across
 * every connection, then applies the same sliding-log rule as the SQLite store. Windows are
 * measured on the database server's clock, so clock skew between worker hosts does not matter.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS hubspot_rate_reservations (key text NOT NULL, at bigint NOT NULL);
CREATE INDEX IF NOT EXISTS hubspot_rate_reservations_key_at ON hubspot_rate_reservations (key, at);
CREATE TABLE IF NOT EXISTS hubspot_rate_blocks (key text PRIMARY KEY, until bigint NOT NULL);
CREATE OR REPLACE FUNCTION hubspot_rate_now() RETURNS bigint LANGUAGE sql VOLATILE AS
  $$ SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint $$;
CREATE OR REPLACE FUNCTION hubspot_rate_reserve(p_key text, p_max integer, p_window bigint) RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  now_ms bigint;
  blocked bigint;
  n integer;
  oldest bigint;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('hubspot_rate:' || p_key));
  -- The time once the lock is held; each statement below sees what earlier holders committed.
  now_ms := hubspot_rate_now();
  SELECT until INTO blocked FROM hubspot_rate_blocks WHERE key = p_key;
  IF blocked IS NOT NULL AND blocked > now_ms THEN
    RETURN blocked - now_ms;
  END IF;
  DELETE FROM hubspot_rate_reservations WHERE key = p_key AND at <= now_ms - p_window;
  SELECT count(*), min(at) INTO n, oldest FROM hubspot_rate_reservations WHERE key = p_key;
  IF n < p_max THEN
    INSERT INTO hubspot_rate_reservations (key, at) VALUES (p_key, now_ms);
    RETURN 0;
  END IF;
  RETURN greatest(1, oldest + p_window - now_ms + 1);
END $$;
`;

/** Serialises schema set-up when several workers start at once (CREATE OR REPLACE FUNCTION races otherwise). */
const SCHEMA_LOCK_KEY = '7164040213915922550';

export class PostgresReservationStore implements ReservationStore {
  private readonly pool: Pool;
  private readonly ready: Promise<void>;
  private closed: Promise<void> | undefined;

  constructor(url: string) {
    // Few connections: one reservation is one short statement. Idle connections do not keep the process alive.
    this.pool = new Pool({ connectionString: url, max: 2, idleTimeoutMillis: 5000, allowExitOnIdle: true, connectionTimeoutMillis: 10_000 });
    this.pool.on('error', () => undefined);
    this.ready = this.setUp();
    this.ready.catch(() => undefined);
  }

  private async setUp(): Promise<void> {
    const c = await this.pool.connect();
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
  }

  /** `now` is ignored: the server's clock decides, the same for every host. */
  async tryReserve(key: string, policy: WindowPolicy, _now: number): Promise<number> {
    await this.ready;
    const r = await this.pool.query<{ wait: string }>('SELECT hubspot_rate_reserve($1, $2, $3) AS wait', [key, policy.max, policy.windowMs]);
    return Number(r.rows[0]!.wait);
  }

  /** `untilMs` is on this host's clock: it is turned into a duration and added to the server's time. */
  async block(key: string, untilMs: number): Promise<void> {
    await this.ready;
    await this.pool.query(
      `INSERT INTO hubspot_rate_blocks (key, until) VALUES ($1, hubspot_rate_now() + $2)
       ON CONFLICT (key) DO UPDATE SET until = greatest(hubspot_rate_blocks.until, excluded.until)`,
      [key, Math.max(0, Math.round(untilMs - Date.now()))],
    );
  }

  close(): Promise<void> {
    this.closed ??= this.ready.catch(() => undefined).then(() => this.pool.end());
    return this.closed;
  }
}

export interface PostgresGovernorOptions {
  /** `postgres://…` of the database every worker shares (a secret: it holds the password). */
  url: string;
  /** The HubSpot account (portal id or app name) whose limits are shared. */
  account: string;
  /** Requests per rolling 10 s for the app. @default 190 */
  per10s?: number;
  /** @default 5 */
  searchPerSecond?: number;
  /** Added to each window against skew between reservation and arrival. @default 250 */
  marginMs?: number;
}

export function createPostgresGovernor(options: PostgresGovernorOptions): RateGovernor {
  const policyOptions: { searchPerSecond?: number; marginMs?: number } = {};
  if (options.searchPerSecond !== undefined) policyOptions.searchPerSecond = options.searchPerSecond;
  if (options.marginMs !== undefined) policyOptions.marginMs = options.marginMs;
  return new WindowGovernor(new PostgresReservationStore(options.url), options.account, hubSpotPolicies(options.per10s ?? 190, policyOptions));
}
