import { Pool, types, type PoolClient } from 'pg';
import type { SqlDialect, SqlTx, SqlValue } from './dialect';

/** OIDs of timestamp types: read back as text, so microseconds survive (a JS Date keeps milliseconds). */
const TIMESTAMPTZ = 1184;
const TIMESTAMP = 1114;
const INT8 = 20;
const NUMERIC = 1700;

/**
 * `2026-01-01 10:00:00.123456+00` (PostgreSQL's text output with TimeZone UTC) as ISO-8601 with
 * exactly six fraction digits, `2026-01-01T10:00:00.123456Z`: one fixed width, so cursors compare
 * as strings in the same order as the database compares the timestamps.
 */
export function pgTimestampToIso(text: string): string {
  const m = /^(\d{4,}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?(?:([+-]\d\d)(?::?(\d\d))?)?$/.exec(text);
  if (!m) return text; // infinity, BC dates: passed through as PostgreSQL wrote them
  const offset = m[4] ?? '+00';
  if (offset !== '+00' && offset !== '-00') return text; // the session runs in UTC; anything else is left alone
  return `${m[1]}T${m[2]}.${(m[3] ?? '').padEnd(6, '0')}Z`;
}

/**
 * PostgreSQL for the SQL connector through a `pg` pool: `$n` placeholders, double-quoted
 * identifiers, the session in UTC; timestamps come back as ISO text with microseconds, bigint and
 * numeric as text (no silent precision loss). A statement of a batch whose refusal must not abort
 * the transaction runs inside a savepoint.
 */
export function openPostgresSql(url: string, opts: { maxConnections?: number; statementTimeoutMs?: number; schema?: string } = {}): SqlDialect {
  const parsers = {
    getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
      if (oid === TIMESTAMPTZ || oid === TIMESTAMP) return (v: string) => pgTimestampToIso(v);
      if (oid === INT8 || oid === NUMERIC) return (v: string) => v;
      return types.getTypeParser(oid, format);
    }) as typeof types.getTypeParser,
  };
  const pool = new Pool({
    connectionString: url,
    max: opts.maxConnections ?? 5,
    idleTimeoutMillis: 10_000,
    allowExitOnIdle: true,
    connectionTimeoutMillis: 10_000,
    // schema: a lowercase identifier (checked by the config schema), safe in the startup options.
    options: `-c TimeZone=UTC${opts.statementTimeoutMs ? ` -c statement_timeout=${Math.round(opts.statementTimeoutMs)}` : ''}${opts.schema ? ` -c search_path=${opts.schema}` : ''}`,
    types: parsers,
  });
  pool.on('error', () => undefined);
  const norm = (params: SqlValue[]) => params.map((p) => (typeof p === 'bigint' ? p.toString() : p));
  let savepoints = 0;
  return {
    name: 'postgres',
    quote: (id) => `"${id.replace(/"/g, '""')}"`,
    param: (i) => `$${i + 1}`,
    async all(sql, params) {
      return (await pool.query(sql, norm(params))).rows as Record<string, unknown>[];
    },
    async transaction<T>(fn: (tx: SqlTx) => Promise<T>): Promise<T> {
      const client: PoolClient = await pool.connect();
      try {
        await client.query('BEGIN');
        const tx: SqlTx = {
          all: async (sql, params) => (await client.query(sql, norm(params))).rows as Record<string, unknown>[],
          async isolated(sql, params) {
            const sp = `sp_${++savepoints}`;
            await client.query(`SAVEPOINT ${sp}`);
            try {
              const rows = (await client.query(sql, norm(params))).rows as Record<string, unknown>[];
              await client.query(`RELEASE SAVEPOINT ${sp}`);
              return rows;
            } catch (err) {
              await client.query(`ROLLBACK TO SAVEPOINT ${sp}`);
              throw err;
            }
          },
        };
        const out = await fn(tx);
        await client.query('COMMIT');
        return out;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}
