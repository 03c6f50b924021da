import Database from 'better-sqlite3';
import type { Database as Db } from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { SyncError } from '../../contracts/errors';
import { msToNextUtcDay } from './errors';

/**
 * API-usage governor shared by every worker of one Salesforce org (reference §2 "Limits"): a
 * daily budget (a share of the org's allowance, which every answer reports in
 * `Sforce-Limit-Info: api-usage=used/limit`) and a cap on requests in flight. State lives in a
 * SQLite file all processes on the host share (WAL, BEGIN IMMEDIATE), like the HubSpot governor:
 * `used` counts grants and is raised to what Salesforce reports (other clients of the org count
 * too); a lease per request in flight expires on its own if its worker dies.
 */
export interface ApiUsageGovernor {
  /** Waits for a concurrency slot; throws `RateLimited` (until the next UTC day) past the budget. */
  acquire(): Promise<() => void>;
  /** What a `Sforce-Limit-Info` header said. */
  observe(used: number, limit: number): void;
  snapshot(): { used: number; limit: number; granted: number; waitedMs: number };
  close(): Promise<void>;
}

export interface SqliteApiGovernorOptions {
  path: string;
  /** The org (e.g. its id or My Domain) whose limits are shared. */
  account: string;
  /** The org's daily allowance until a response reports it. @default 100000 */
  dailyLimit?: number;
  /** Share of the daily allowance this integration may use, in percent. @default 80 */
  dailyBudgetPercent?: number;
  /** Requests in flight at once across all workers. @default 10 */
  maxConcurrent?: number;
  /** A lease older than this is a dead worker's. @default 600000 */
  leaseMs?: number;
  clock?: () => number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS sf_usage (account TEXT PRIMARY KEY, day TEXT NOT NULL, used INTEGER NOT NULL, daily_limit INTEGER NOT NULL, granted INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS sf_leases (account TEXT NOT NULL, id TEXT PRIMARY KEY, expires INTEGER NOT NULL);
`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function createSqliteApiGovernor(options: SqliteApiGovernorOptions): ApiUsageGovernor {
  const db: Db = new Database(options.path);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  db.pragma('synchronous = NORMAL');
  db.exec(SCHEMA);
  const clock = options.clock ?? Date.now;
  const account = options.account;
  const percent = options.dailyBudgetPercent ?? 80;
  const maxConcurrent = options.maxConcurrent ?? 10;
  const leaseMs = options.leaseMs ?? 600_000;
  let waitedMs = 0;
  const day = (): string => new Date(clock()).toISOString().slice(0, 10);

  const row = db.prepare('SELECT day, used, daily_limit AS dailyLimit, granted FROM sf_usage WHERE account = ?');
  const ensure = db.prepare('INSERT INTO sf_usage (account, day, used, daily_limit) VALUES (?, ?, 0, ?) ON CONFLICT(account) DO NOTHING');
  const resetDay = db.prepare('UPDATE sf_usage SET day = ?, used = 0, granted = 0 WHERE account = ? AND day <> ?');
  const grant = db.prepare('UPDATE sf_usage SET used = used + 1, granted = granted + 1 WHERE account = ?');
  const observeStmt = db.prepare('UPDATE sf_usage SET used = max(used, ?), daily_limit = ? WHERE account = ? AND day = ?');
  const prune = db.prepare('DELETE FROM sf_leases WHERE account = ? AND expires <= ?');
  const leases = db.prepare('SELECT count(*) FROM sf_leases WHERE account = ?').pluck();
  const lease = db.prepare('INSERT INTO sf_leases (account, id, expires) VALUES (?, ?, ?)');
  const unlease = db.prepare('DELETE FROM sf_leases WHERE id = ?');

  type Attempt = { ok: true; id: string } | { ok: false; budget: boolean; used: number; limit: number };
  const tryAcquire = db.transaction((now: number): Attempt => {
    const today = day();
    ensure.run(account, today, options.dailyLimit ?? 100_000);
    resetDay.run(today, account, today);
    const u = row.get(account) as { used: number; dailyLimit: number };
    if (u.used >= Math.floor((u.dailyLimit * percent) / 100)) return { ok: false, budget: true, used: u.used, limit: u.dailyLimit };
    prune.run(account, now);
    if ((leases.get(account) as number) >= maxConcurrent) return { ok: false, budget: false, used: u.used, limit: u.dailyLimit };
    const id = randomUUID();
    lease.run(account, id, now + leaseMs);
    grant.run(account);
    return { ok: true, id };
  });

  return {
    async acquire() {
      const started = clock();
      for (;;) {
        const a = tryAcquire.immediate(clock());
        if (a.ok) {
          waitedMs += clock() - started;
          let released = false;
          return () => {
            if (released) return;
            released = true;
            unlease.run(a.id);
          };
        }
        if (a.budget) {
          throw new SyncError('RateLimited', `Salesforce API budget for today used: ${a.used} of ${a.limit} requests (${percent}% budget); resumes at 00:00 UTC`, {
            retryAfterMs: msToNextUtcDay(clock()),
            details: { used: a.used, limit: a.limit, budgetPercent: percent },
          });
        }
        await sleep(10 + Math.floor(Math.random() * 10));
      }
    },
    observe(used, limit) {
      observeStmt.run(used, limit, account, day());
    },
    snapshot() {
      const u = row.get(account) as { used: number; dailyLimit: number; granted: number } | undefined;
      return { used: u?.used ?? 0, limit: u?.dailyLimit ?? options.dailyLimit ?? 100_000, granted: u?.granted ?? 0, waitedMs };
    },
    close() {
      db.close();
      return Promise.resolve();
    },
  };
}

/** A governor that never waits (tests against an unlimited emulator). */
export function unlimitedApiGovernor(): ApiUsageGovernor {
  let granted = 0;
  let last = { used: 0, limit: 0 };
  return {
    acquire: () => {
      granted++;
      return Promise.resolve(() => undefined);
    },
    observe: (used, limit) => {
      last = { used, limit };
    },
    snapshot: () => ({ ...last, granted, waitedMs: 0 }),
    close: () => Promise.resolve(),
  };
}
