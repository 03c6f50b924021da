import { Pool, type PoolClient, type QueryResultRow } from 'pg';
import type { Cursor } from '../contracts/cursor';
import { SyncError } from '../contracts/errors';
import { createPgLinkStore } from './postgres-links';
import { createPgPlanStore } from './postgres-plans';
import { migrate, type MigrationResult } from './postgres-schema';
import { runEventsPruner, type RunEventsRetention } from './retention';
import type { Binding, QuarantineEntry, QuarantineFilter, QuarantineRow, RunEvent, RunReport, StateStore } from './types';

export interface PostgresStateStoreOptions extends RunEventsRetention {
  /** Connections per worker process. @default 10 */
  maxConnections?: number;
  /**
   * Staged pages older than this are dropped when a worker opens the store and then about once an
   * hour: the claim checks of syncs that never finished (a terminated or timed-out workflow).
   * Pages of a sync whose run report is saved go at once. Keep it above the longest a sync may
   * stay paused or wait for an approval with a page in flight. @default 168 (7 days)
   */
  stagedPageTtlHours?: number;
}

/** A PostgreSQL store also tells how its schema migration went and can drop stale pages on demand. */
export interface PostgresStateStore extends StateStore {
  /** Resolves once the schema is migrated (every method waits for it too); rejects if it failed. */
  ready(): Promise<MigrationResult>;
  /** Drop staged pages of finished syncs and pages older than the TTL; returns how many. */
  purgeStalePages(): Promise<number>;
}

/** Staged pages whose sync id starts with this are kept reports (reconciliation), never purged by age. */
const KEPT_PAGE_PREFIX = 'reconcile:';

/** `host:port/database` of a postgres URL, never its user or password (for messages). */
export function describePostgresUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || 5432}${u.pathname}`;
  } catch {
    return 'an unparsable postgres:// URL';
  }
}

const TRANSIENT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', '57P01', '57P02', '57P03', '53300', '40001', '40P01']);

/** pg errors as the project's vocabulary: connection trouble is Transient, bad credentials AuthError; secret-free. */
function translate(err: unknown, where: string): unknown {
  if (err instanceof SyncError) return err;
  const e = err as { code?: string; message?: string };
  const code = e.code ?? '';
  const msg = `state store (PostgreSQL ${where}): ${e.message ?? String(err)}`;
  if (TRANSIENT_CODES.has(code) || code.startsWith('08') || /Connection terminated|timeout exceeded/i.test(e.message ?? '')) {
    return new SyncError('Transient', msg, { cause: err, details: { code } });
  }
  if (code === '28P01' || code === '28000') return new SyncError('AuthError', `${msg} (check the user and password in SYNC_STATE_URL)`, { details: { code } });
  if (code === '3D000') return new SyncError('ConfigError', `${msg} (create the database, or fix SYNC_STATE_URL)`, { details: { code } });
  return err;
}

/** Keep the last occurrence of each key (what a row-by-row upsert leaves behind). */
function lastByKey<T>(items: T[], key: (t: T) => string): T[] {
  const m = new Map<string, T>();
  for (const i of items) {
    const k = key(i);
    m.delete(k);
    m.set(k, i);
  }
  return [...m.values()];
}

const json = (v: unknown) => JSON.stringify(v ?? null);

/**
 * The state store on PostgreSQL, for several workers on several hosts: the same interface and
 * behaviour as the SQLite store (the conformance suite in test/integration checks both), one
 * connection pool per process, the schema migrated at open (state/postgres-schema.ts).
 */
export function openPostgresStateStore(url: string, options: PostgresStateStoreOptions = {}): PostgresStateStore {
  const where = describePostgresUrl(url);
  const pool = new Pool({ connectionString: url, max: options.maxConnections ?? 10, connectionTimeoutMillis: 10_000, idleTimeoutMillis: 30_000 });
  // An idle client losing its connection (server restart) must not crash the worker; the next query reconnects.
  pool.on('error', () => undefined);
  const ttlHours = options.stagedPageTtlHours ?? 168;
  let lastPurge = 0;
  let closed: Promise<void> | undefined;

  const migrated = migrate(pool).catch((err: unknown) => {
    throw translate(err, where);
  });
  migrated.catch(() => undefined); // surfaced by ready() and by every call

  const q = async <R extends QueryResultRow = QueryResultRow>(sql: string, params: unknown[] = []) => {
    await migrated;
    try {
      return await pool.query<R>(sql, params);
    } catch (err) {
      throw translate(err, where);
    }
  };
  const tx = async <T>(fn: (c: PoolClient) => Promise<T>): Promise<T> => {
    await migrated;
    let client: PoolClient;
    try {
      client = await pool.connect();
    } catch (err) {
      throw translate(err, where);
    }
    try {
      await client.query('BEGIN');
      const out = await fn(client);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw translate(err, where);
    } finally {
      client.release();
    }
  };
  const now = () => new Date().toISOString();

  const recent = new Map<string, unknown>();
  const remember = (id: string, payload: unknown) => {
    recent.delete(id);
    recent.set(id, payload);
    if (recent.size > 4) recent.delete(recent.keys().next().value!);
  };

  const purgeStalePages = async (): Promise<number> => {
    lastPurge = Date.now();
    const r = await q(
      `DELETE FROM staged_pages p WHERE EXISTS (SELECT 1 FROM run_reports r WHERE r.sync_id = p.sync_id)
          OR (p.created_at < now() - make_interval(hours => $1) AND left(p.sync_id, length($2)) <> $2)`,
      [ttlHours, KEPT_PAGE_PREFIX],
    );
    return r.rowCount ?? 0;
  };
  // At open, after the migration: what failed syncs left behind.
  const firstPurge = migrated.then(() => purgeStalePages()).catch(() => 0);
  const pruneRunEvents = async (before: string): Promise<number> => (await q('DELETE FROM run_events WHERE at < $1', [before])).rowCount ?? 0;
  // Run events older than the retention go at open (after the migration) and then about hourly.
  const pruner = runEventsPruner(options.runEventsDays, (before) => migrated.then(() => pruneRunEvents(before)));

  const bindingOf = (r: { target_key: string; hash: string; fields: string | null }): Binding => ({
    targetKey: r.target_key,
    hash: r.hash,
    ...(r.fields ? { fields: JSON.parse(r.fields) as Record<string, unknown> } : {}),
  });
  const reportOf = (r: Record<string, string>): RunReport => ({
    syncId: r.sync_id!,
    pipeline: r.pipeline!,
    status: r.status!,
    startedAt: r.started_at!,
    finishedAt: r.finished_at!,
    totals: JSON.parse(r.totals!) as Record<string, number>,
  });

  const QUARANTINE_UPSERT = `
    INSERT INTO quarantine AS q (pipeline, source_key, sync_id, stage, field, rule, reason, record, first_seen_at, last_seen_at)
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $9::text[])
    ON CONFLICT (pipeline, source_key) DO UPDATE SET sync_id = excluded.sync_id, stage = excluded.stage, field = excluded.field,
      rule = excluded.rule, reason = excluded.reason, record = excluded.record, last_seen_at = excluded.last_seen_at,
      attempts = CASE WHEN q.resolved_at IS NULL THEN q.attempts + 1
                      WHEN q.dismissed_reason IS NOT NULL AND q.record IS NOT DISTINCT FROM excluded.record THEN q.attempts
                      ELSE 1 END,
      resolved_at = CASE WHEN q.dismissed_reason IS NOT NULL AND q.record IS NOT DISTINCT FROM excluded.record THEN q.resolved_at ELSE NULL END,
      dismissed_reason = CASE WHEN q.dismissed_reason IS NOT NULL AND q.record IS NOT DISTINCT FROM excluded.record THEN q.dismissed_reason ELSE NULL END`;

  return {
    ...createPgLinkStore(q, tx, now),
    ...createPgPlanStore(q, now),
    ready: () => migrated,
    purgeStalePages,
    async getCheckpoint(pipeline) {
      const r = await q<{ cursor: string | null }>('SELECT cursor FROM checkpoints WHERE pipeline = $1', [pipeline]);
      const c = r.rows[0]?.cursor;
      return c ? (JSON.parse(c) as Cursor) : null;
    },
    async setCheckpoint(pipeline, cursor, syncId) {
      await q(
        `INSERT INTO checkpoints (pipeline, cursor, sync_id, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (pipeline) DO UPDATE SET cursor = excluded.cursor, sync_id = excluded.sync_id, updated_at = excluded.updated_at`,
        [pipeline, cursor ? JSON.stringify(cursor) : null, syncId, now()],
      );
    },
    async stagePage(syncId, name, payload) {
      const id = `${syncId}/${name}`;
      await q('INSERT INTO staged_pages (id, sync_id, payload) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET payload = excluded.payload', [
        id,
        syncId,
        JSON.stringify(payload),
      ]);
      remember(id, payload);
      return id;
    },
    async loadPage<T>(pageId: string) {
      if (recent.has(pageId)) return recent.get(pageId) as T;
      const r = await q<{ payload: string }>('SELECT payload FROM staged_pages WHERE id = $1', [pageId]);
      const row = r.rows[0];
      if (!row) throw new SyncError('NotFound', `staged page ${pageId} not found (dropped, or staged by another state store)`);
      return JSON.parse(row.payload) as T;
    },
    async dropPages(syncId, prefix) {
      for (const id of recent.keys()) if (id.startsWith(`${syncId}/${prefix ?? ''}`)) recent.delete(id);
      const r =
        prefix === undefined
          ? await q('DELETE FROM staged_pages WHERE sync_id = $1', [syncId])
          : await q('DELETE FROM staged_pages WHERE sync_id = $1 AND left(id, length($2)) = $2', [syncId, `${syncId}/${prefix}`]);
      if (Date.now() - lastPurge > 3_600_000) await firstPurge.then(() => (Date.now() - lastPurge > 3_600_000 ? purgeStalePages() : 0));
      return r.rowCount ?? 0;
    },
    async getBindings(pipeline, sourceKeys) {
      const out = new Map<string, Binding>();
      if (sourceKeys.length === 0) return out;
      const r = await q<{ source_key: string; target_key: string; hash: string; fields: string | null }>(
        'SELECT source_key, target_key, hash, fields FROM bindings WHERE pipeline = $1 AND source_key = ANY($2::text[])',
        [pipeline, sourceKeys],
      );
      for (const row of r.rows) out.set(row.source_key, bindingOf(row));
      return out;
    },
    async putBindings(pipeline, items) {
      const rows = lastByKey(items, (i) => i.sourceKey);
      if (rows.length === 0) return;
      await q(
        `INSERT INTO bindings (pipeline, source_key, target_key, hash, fields, updated_at)
         SELECT $1, s, t, h, f, $6 FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS u(s, t, h, f)
         ON CONFLICT (pipeline, source_key) DO UPDATE SET target_key = excluded.target_key, hash = excluded.hash, fields = excluded.fields,
           updated_at = excluded.updated_at`,
        [pipeline, rows.map((i) => i.sourceKey), rows.map((i) => i.targetKey), rows.map((i) => i.hash), rows.map((i) => (i.fields ? JSON.stringify(i.fields) : null)), now()],
      );
    },
    async listBindings(pipeline) {
      const r = await q<{ source_key: string; target_key: string; hash: string; fields: string | null }>(
        'SELECT source_key, target_key, hash, fields FROM bindings WHERE pipeline = $1 ORDER BY source_key',
        [pipeline],
      );
      return r.rows.map((row) => ({ sourceKey: row.source_key, ...bindingOf(row) }));
    },
    async deleteBindings(pipeline, keys) {
      if (keys.length) await q('DELETE FROM bindings WHERE pipeline = $1 AND source_key = ANY($2::text[])', [pipeline, keys]);
    },
    async invalidateBindings(pipeline, targetKeys) {
      if (targetKeys.length === 0) return 0;
      const r = await q(`UPDATE bindings SET hash = '', updated_at = $3 WHERE pipeline = $1 AND target_key = ANY($2::text[])`, [pipeline, targetKeys, now()]);
      return r.rowCount ?? 0;
    },
    async withLock(name, fn) {
      await migrated;
      let client: PoolClient;
      try {
        client = await pool.connect();
      } catch (err) {
        throw translate(err, where);
      }
      // A session lock on a connection of its own: `fn` uses the pool's others. If this process
      // dies, its session ends and PostgreSQL releases the lock.
      const key = `crm-erp-sync:lock:${name}`;
      try {
        await client.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [key]);
      } catch (err) {
        client.release(err as Error);
        throw translate(err, where);
      }
      let broken: Error | undefined;
      try {
        return await fn();
      } finally {
        // A connection that cannot unlock is dropped: closing the session releases the lock.
        await client.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [key]).catch((err: Error) => (broken = err));
        client.release(broken);
      }
    },
    async getMeta(key) {
      return (await q<{ value: string }>('SELECT value FROM meta WHERE key = $1', [key])).rows[0]?.value ?? null;
    },
    async setMeta(key, value) {
      await q(
        'INSERT INTO meta (key, value, updated_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at',
        [key, value, now()],
      );
    },
    async quarantine(entries) {
      if (entries.length === 0) return;
      const t = now();
      const cols = (rows: QuarantineEntry[]) => [
        rows.map((e) => e.pipeline),
        rows.map((e) => e.sourceKey),
        rows.map((e) => e.syncId),
        rows.map((e) => e.stage),
        rows.map((e) => e.field),
        rows.map((e) => e.rule),
        rows.map((e) => e.reason),
        rows.map((e) => json(e.record)),
        rows.map(() => t),
      ];
      const unique = new Set(entries.map((e) => `${e.pipeline}\u0000${e.sourceKey}`)).size === entries.length;
      if (unique) {
        await q(QUARANTINE_UPSERT, cols(entries));
        return;
      }
      // The same record twice in one call: one upsert after the other, as attempts count each.
      await tx(async (c) => {
        for (const e of entries) await c.query(QUARANTINE_UPSERT, cols([e]));
      });
    },
    async releaseQuarantine(pipeline, keys) {
      if (keys.length === 0) return;
      await q('UPDATE quarantine SET resolved_at = $3 WHERE pipeline = $1 AND resolved_at IS NULL AND source_key = ANY($2::text[])', [pipeline, keys, now()]);
    },
    async listQuarantine(pipeline, limit = 100, filter: QuarantineFilter = {}) {
      if (filter.keys && filter.keys.length === 0) return [];
      const r = await q<Record<string, unknown>>(
        `SELECT * FROM quarantine WHERE pipeline = $1 AND resolved_at IS NULL
           AND ($2::text IS NULL OR rule = $2) AND ($3::text IS NULL OR field = $3) AND ($4::text IS NULL OR source_key > $4)
           AND ($5::text[] IS NULL OR source_key = ANY($5::text[]))
         ORDER BY ${filter.afterKey !== undefined ? 'source_key' : 'last_seen_at DESC, source_key'} LIMIT $6`,
        [pipeline, filter.rule ?? null, filter.field ?? null, filter.afterKey ?? null, filter.keys ?? null, limit],
      );
      return r.rows.map(
        (row): QuarantineRow => ({
          pipeline: String(row.pipeline),
          syncId: String(row.sync_id),
          sourceKey: String(row.source_key),
          stage: row.stage as 'map' | 'write',
          field: (row.field as string | null) ?? null,
          rule: String(row.rule),
          reason: String(row.reason),
          record: row.record ? JSON.parse(String(row.record)) : null,
          firstSeenAt: String(row.first_seen_at),
          lastSeenAt: String(row.last_seen_at),
          attempts: Number(row.attempts),
        }),
      );
    },
    async dismissQuarantine(pipeline, keys, reason, by) {
      if (keys.length === 0) return 0;
      const r = await q(
        'UPDATE quarantine SET resolved_at = $3, dismissed_reason = $4 WHERE pipeline = $1 AND source_key = ANY($2::text[]) AND resolved_at IS NULL',
        [pipeline, keys, now(), `${reason} (by ${by})`],
      );
      return r.rowCount ?? 0;
    },
    async saveRunReport(r) {
      await q(
        `INSERT INTO run_reports (sync_id, pipeline, status, started_at, finished_at, totals) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (sync_id) DO UPDATE SET pipeline = excluded.pipeline, status = excluded.status, started_at = excluded.started_at,
           finished_at = excluded.finished_at, totals = excluded.totals`,
        [r.syncId, r.pipeline, r.status, r.startedAt, r.finishedAt, JSON.stringify(r.totals)],
      );
    },
    async listRunReports(pipeline, limit = 20) {
      const r = await q<Record<string, string>>('SELECT * FROM run_reports WHERE pipeline = $1 ORDER BY finished_at DESC LIMIT $2', [pipeline, limit]);
      return r.rows.map(reportOf);
    },
    async getRunReport(id) {
      const r = await q<Record<string, string>>(
        `SELECT * FROM run_reports WHERE sync_id = $1 OR left(sync_id, length($1) + 1) = $1 || '@'
         ORDER BY (sync_id = $1) DESC, finished_at DESC LIMIT 1`,
        [id],
      );
      return r.rows[0] ? reportOf(r.rows[0]) : null;
    },
    pruneRunEvents,
    async addRunEvents(syncId, events) {
      await pruner.first;
      if (events.length === 0) return;
      // One statement per call: the events of one page step arrive together.
      await q(
        `INSERT INTO run_events (sync_id, kind, at, data)
         SELECT $1, e.kind, e.at, e.data FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS e(kind, at, data, n) ORDER BY e.n`,
        [syncId, events.map((e) => e.kind), events.map((e) => e.at), events.map((e) => JSON.stringify(e.data))],
      );
      await pruner.due();
    },
    async listRunEvents(syncId) {
      await pruner.first;
      const r = await q<{ kind: RunEvent['kind']; at: string; data: string }>('SELECT kind, at, data FROM run_events WHERE sync_id = $1 ORDER BY seq', [syncId]);
      return r.rows.map((e) => ({ kind: e.kind, at: e.at, data: JSON.parse(e.data) as Record<string, unknown> }));
    },
    close() {
      closed ??= Promise.all([firstPurge, pruner.first]).then(() => pool.end());
      return closed;
    },
  };
}

export type { MigrationResult };
