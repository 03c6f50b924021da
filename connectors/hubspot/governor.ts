import Database from 'better-sqlite3';
import type { Database as Db, Statement } from 'better-sqlite3';

/**
 * Rate governor shared by every worker of one HubSpot account. HubSpot limits are rolling
 * windows (N requests in any 10 s per app, 5 searches in any second), so the governor keeps a
 * sliding log of reservations in a store all processes share, and a request goes out only once
 * it holds a slot. The store is the seam: SQLite (one host, WAL, BEGIN IMMEDIATE) here;
 * PostgreSQL (several hosts, an advisory lock per key) in governor-postgres.ts.
 */

export type GovernorBucket = 'general' | 'search';

export interface WindowPolicy {
  /** Requests allowed in any window. */
  max: number;
  /** Window length in milliseconds, including a safety margin for clock and network skew. */
  windowMs: number;
}

export interface RateGovernor {
  /** Waits until one request of `bucket` may be sent; resolves with the milliseconds waited. */
  acquire(bucket: GovernorBucket): Promise<number>;
  /** The remote throttled us anyway: every worker of the account pauses `bucket` for `ms`. */
  backoff(bucket: GovernorBucket, ms: number): Promise<void>;
  close(): Promise<void>;
}

export interface ReservationStore {
  /**
   * Atomically: if `key` is not blocked and holds fewer than `policy.max` reservations in the
   * window ending at `now`, records one at `now` and returns 0; otherwise returns how many
   * milliseconds to wait before trying again.
   */
  tryReserve(key: string, policy: WindowPolicy, now: number): Promise<number>;
  /** Blocks `key` until `untilMs` (keeps the later of two blocks). */
  block(key: string, untilMs: number): Promise<void>;
  close(): Promise<void>;
}

/** HubSpot private-app burst limits (reference §1) with a margin against skew. */
export function hubSpotPolicies(per10s: number, options: { searchPerSecond?: number; marginMs?: number } = {}): Record<GovernorBucket, WindowPolicy> {
  const margin = options.marginMs ?? 250;
  return {
    general: { max: per10s, windowMs: 10_000 + margin },
    search: { max: options.searchPerSecond ?? 5, windowMs: 1_000 + Math.ceil(margin / 2) },
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The reservation loop, independent of where reservations are stored. */
export class WindowGovernor implements RateGovernor {
  constructor(
    private readonly store: ReservationStore,
    private readonly account: string,
    private readonly policies: Record<GovernorBucket, WindowPolicy>,
    private readonly clock: () => number = Date.now,
  ) {}

  async acquire(bucket: GovernorBucket): Promise<number> {
    const started = this.clock();
    const key = `${this.account}:${bucket}`;
    for (;;) {
      const wait = await this.store.tryReserve(key, this.policies[bucket], this.clock());
      if (wait <= 0) return this.clock() - started;
      // A little jitter so that waiting workers do not retry in lockstep.
      await sleep(wait + Math.floor(Math.random() * 5));
    }
  }

  async backoff(bucket: GovernorBucket, ms: number): Promise<void> {
    await this.store.block(`${this.account}:${bucket}`, this.clock() + ms);
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS rate_reservations (key TEXT NOT NULL, at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS rate_reservations_key_at ON rate_reservations(key, at);
CREATE TABLE IF NOT EXISTS rate_blocks (key TEXT PRIMARY KEY, until INTEGER NOT NULL);
`;

/** Sliding-log reservations in a SQLite file shared by the processes of one host. */
export class SqliteReservationStore implements ReservationStore {
  private readonly db: Db;
  private readonly reserve: (key: string, policy: WindowPolicy, now: number) => number;
  private readonly blockStmt: Statement<unknown[]>;

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
    const blocked = this.db.prepare('SELECT until FROM rate_blocks WHERE key = ?');
    const prune = this.db.prepare('DELETE FROM rate_reservations WHERE key = ? AND at <= ?');
    const count = this.db.prepare('SELECT count(*) AS n, min(at) AS oldest FROM rate_reservations WHERE key = ?');
    const insert = this.db.prepare('INSERT INTO rate_reservations (key, at) VALUES (?, ?)');
    const tx = this.db.transaction((key: string, policy: WindowPolicy, now: number): number => {
      const block = blocked.get(key) as { until: number } | undefined;
      if (block && block.until > now) return block.until - now;
      prune.run(key, now - policy.windowMs);
      const { n, oldest } = count.get(key) as { n: number; oldest: number | null };
      if (n < policy.max) {
        insert.run(key, now);
        return 0;
      }
      return Math.max(1, (oldest ?? now) + policy.windowMs - now + 1);
    });
    // BEGIN IMMEDIATE: take the write lock up front so two processes never both see a free slot.
    this.reserve = (key, policy, now) => tx.immediate(key, policy, now);
    this.blockStmt = this.db.prepare('INSERT INTO rate_blocks (key, until) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET until = max(until, excluded.until)');
  }

  tryReserve(key: string, policy: WindowPolicy, now: number): Promise<number> {
    return Promise.resolve(this.reserve(key, policy, now));
  }

  block(key: string, untilMs: number): Promise<void> {
    this.blockStmt.run(key, untilMs);
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.db.close();
    return Promise.resolve();
  }
}

export interface SqliteGovernorOptions {
  /** Shared SQLite file, e.g. `.data/hubspot-governor.db`. */
  path: string;
  /** The HubSpot account (portal id or app name) whose limits are shared. */
  account: string;
  /** Requests per rolling 10 s for the app. @default 190 */
  per10s?: number;
  /** @default 5 */
  searchPerSecond?: number;
  /** Added to each window against skew between reservation and arrival. @default 250 */
  marginMs?: number;
}

export function createSqliteGovernor(options: SqliteGovernorOptions): RateGovernor {
  const policyOptions: { searchPerSecond?: number; marginMs?: number } = {};
  if (options.searchPerSecond !== undefined) policyOptions.searchPerSecond = options.searchPerSecond;
  if (options.marginMs !== undefined) policyOptions.marginMs = options.marginMs;
  return new WindowGovernor(
    new SqliteReservationStore(options.path),
    options.account,
    hubSpotPolicies(options.per10s ?? 190, policyOptions),
  );
}

/** A governor that never waits (tests against an unlimited emulator). */
export const unlimitedGovernor: RateGovernor = {
  acquire: () => Promise.resolve(0),
  backoff: () => Promise.resolve(),
  close: () => Promise.resolve(),
};
