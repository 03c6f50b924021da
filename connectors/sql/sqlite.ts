import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { SqlDialect, SqlTx, SqlValue } from './dialect';

/**
 * SQLite through better-sqlite3 (synchronous; wrapped in promises to fit the dialect seam).
 * `mustExist`: refuse (SQLITE_CANTOPEN) instead of creating an empty file, so a connector pointed
 * at a database nobody created yet does not leave an empty one behind.
 */
export function openSqlite(file: string, opts: { mustExist?: boolean; busyTimeoutMs?: number } = {}): SqlDialect {
  if (file !== ':memory:' && !opts.mustExist) mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const db = new Database(file, opts.mustExist && file !== ':memory:' ? { fileMustExist: true } : {});
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma(`busy_timeout = ${Math.round(opts.busyTimeoutMs ?? 5000)}`);
  const cache = new Map<string, Database.Statement>();
  const stmt = (sql: string): Database.Statement => {
    let s = cache.get(sql);
    if (!s) {
      s = db.prepare(sql);
      cache.set(sql, s);
    }
    return s;
  };
  const run = (sql: string, params: SqlValue[]): Record<string, unknown>[] => {
    const s = stmt(sql);
    if (s.reader) return s.all(...params) as Record<string, unknown>[];
    s.run(...params);
    return [];
  };
  let queue: Promise<void> = Promise.resolve();
  const tx: SqlTx = {
    all: async (sql, params) => run(sql, params),
    // A failing statement in SQLite aborts only itself (ON CONFLICT ABORT), not the transaction.
    isolated: async (sql, params) => run(sql, params),
  };
  return {
    name: 'sqlite',
    quote: (id) => `"${id.replace(/"/g, '""')}"`,
    param: () => '?',
    all: async (sql, params) => run(sql, params),
    // Transactions on one connection are serialised: activities of a worker share it.
    transaction<T>(fn: (t: SqlTx) => Promise<T>): Promise<T> {
      const result = queue.then(() => runTx(fn));
      queue = result.then(
        () => undefined,
        () => undefined,
      );
      return result;
    },
    close: async () => {
      await queue;
      db.close();
    },
  };
  async function runTx<T>(fn: (t: SqlTx) => Promise<T>): Promise<T> {
      db.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(tx);
        db.exec('COMMIT');
        return result;
      } catch (err) {
        if (db.inTransaction) db.exec('ROLLBACK');
        throw err;
      }
  }
}
