import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Cursor } from '../contracts/cursor';
import { SyncError } from '../contracts/errors';
import { createLinkStore } from './sqlite-links';
import { createPlanStore } from './sqlite-plans';
import { createReconStore } from './sqlite-recon';
import { runEventsPruner, type RunEventsRetention } from './retention';
import type { Binding, QuarantineEntry, QuarantineFilter, RunEvent, RunReport, StateStore } from './types';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS checkpoints (pipeline TEXT PRIMARY KEY, cursor TEXT, sync_id TEXT, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS staged_pages (id TEXT PRIMARY KEY, sync_id TEXT NOT NULL, payload TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS staged_pages_sync ON staged_pages (sync_id);
CREATE TABLE IF NOT EXISTS bindings (pipeline TEXT NOT NULL, source_key TEXT NOT NULL, target_key TEXT NOT NULL, hash TEXT NOT NULL,
  updated_at TEXT NOT NULL, PRIMARY KEY (pipeline, source_key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS quarantine (pipeline TEXT NOT NULL, source_key TEXT NOT NULL, sync_id TEXT NOT NULL, stage TEXT NOT NULL,
  field TEXT, rule TEXT NOT NULL, reason TEXT NOT NULL, record TEXT, first_seen_at TEXT NOT NULL, last_seen_at TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 1, resolved_at TEXT, PRIMARY KEY (pipeline, source_key));
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS links (link_id TEXT PRIMARY KEY, pair TEXT NOT NULL, fields TEXT NOT NULL, deleted_sides TEXT NOT NULL DEFAULT '[]',
  record_hash TEXT, tombstone_side TEXT, deleted_at TEXT, updated_at TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS links_pair ON links (pair, link_id);
CREATE TABLE IF NOT EXISTS link_keys (pair TEXT NOT NULL, side TEXT NOT NULL, key TEXT NOT NULL, link_id TEXT NOT NULL, system TEXT NOT NULL,
  entity TEXT NOT NULL, PRIMARY KEY (pair, side, key)) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS link_keys_link ON link_keys (link_id, side);
CREATE INDEX IF NOT EXISTS link_keys_record ON link_keys (system, entity, key);
CREATE TABLE IF NOT EXISTS write_ledger (link_id TEXT NOT NULL, side TEXT NOT NULL, field TEXT NOT NULL, hash TEXT NOT NULL, written_at TEXT NOT NULL,
  PRIMARY KEY (link_id, side, field)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS run_reports (sync_id TEXT PRIMARY KEY, pipeline TEXT NOT NULL, status TEXT NOT NULL, started_at TEXT NOT NULL,
  finished_at TEXT NOT NULL, totals TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS run_events (seq INTEGER PRIMARY KEY AUTOINCREMENT, sync_id TEXT NOT NULL, kind TEXT NOT NULL, at TEXT NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS run_events_sync ON run_events (sync_id, seq);
CREATE INDEX IF NOT EXISTS run_events_at ON run_events (at);
`;

const BUSY_TIMEOUT_MS = 10_000;
/** Longest wait for a store-wide lock (withLock) another process holds. */
const LOCK_WAIT_MS = 300_000;

/** Most keys bound into one `IN (…)` list (SQLite's default limit is far above). */
const IN_CHUNK = 500;

/** The embedded state store: one SQLite file (WAL), safe for several processes on one host. */
export function openSqliteStateStore(file: string, options: RunEventsRetention = {}): StateStore {
  if (file !== ':memory:') mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  db.exec(SCHEMA);
  const bindingCols = (db.prepare('PRAGMA table_info(bindings)').all() as { name: string }[]).map((c) => c.name);
  // Two worker processes starting together on one file may both find a column missing: the second
  // ALTER finds it added by the first, which is what it wanted.
  const addColumn = (sql: string): void => {
    try {
      db.exec(sql);
    } catch (err) {
      if (!/duplicate column name/i.test((err as Error).message)) throw err;
    }
  };
  if (!bindingCols.includes('fields')) addColumn('ALTER TABLE bindings ADD COLUMN fields TEXT');
  const quarantineCols = (db.prepare('PRAGMA table_info(quarantine)').all() as { name: string }[]).map((c) => c.name);
  if (!quarantineCols.includes('dismissed_reason')) addColumn('ALTER TABLE quarantine ADD COLUMN dismissed_reason TEXT');
  const now = () => new Date().toISOString();
  /** `… IN (?, ?, …)` statements, prepared once per list length (pages have few distinct sizes). */
  const inList = (sql: (list: string) => string) => {
    const cache = new Map<number, Database.Statement>();
    return (n: number): Database.Statement => {
      let st = cache.get(n);
      if (!st) cache.set(n, (st = db.prepare(sql(Array.from({ length: n }, () => '?').join(',')))));
      return st;
    };
  };
  // Pages are usually read back by the same worker a moment later: keep the last few parsed
  // (the SQLite copy stays the durable claim check for retries on another worker).
  const recent = new Map<string, unknown>();
  const remember = (id: string, payload: unknown) => {
    recent.delete(id);
    recent.set(id, payload);
    if (recent.size > 4) recent.delete(recent.keys().next().value!);
  };

  const getCheckpoint = db.prepare('SELECT cursor FROM checkpoints WHERE pipeline = ?');
  const setCheckpoint = db.prepare(
    `INSERT INTO checkpoints (pipeline, cursor, sync_id, updated_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (pipeline) DO UPDATE SET cursor = excluded.cursor, sync_id = excluded.sync_id, updated_at = excluded.updated_at`,
  );
  const stage = db.prepare(
    'INSERT INTO staged_pages (id, sync_id, payload, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET payload = excluded.payload',
  );
  const load = db.prepare('SELECT payload FROM staged_pages WHERE id = ?');
  const drop = db.prepare('DELETE FROM staged_pages WHERE sync_id = ?');
  // Not LIKE: it is case-insensitive and treats `_` and `%` in a prefix as wildcards.
  const dropPrefix = db.prepare('DELETE FROM staged_pages WHERE sync_id = ? AND substr(id, 1, length(?)) = ?');
  const putBinding = db.prepare(
    `INSERT INTO bindings (pipeline, source_key, target_key, hash, fields, updated_at) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (pipeline, source_key) DO UPDATE SET target_key = excluded.target_key, hash = excluded.hash, fields = excluded.fields,
       updated_at = excluded.updated_at`,
  );
  const quarantine = db.prepare(
    `INSERT INTO quarantine (pipeline, source_key, sync_id, stage, field, rule, reason, record, first_seen_at, last_seen_at)
     VALUES (@pipeline, @sourceKey, @syncId, @stage, @field, @rule, @reason, @record, @now, @now)
     ON CONFLICT (pipeline, source_key) DO UPDATE SET sync_id = excluded.sync_id, stage = excluded.stage, field = excluded.field,
       rule = excluded.rule, reason = excluded.reason, record = excluded.record, last_seen_at = excluded.last_seen_at,
       attempts = CASE WHEN quarantine.resolved_at IS NULL THEN quarantine.attempts + 1
                       WHEN quarantine.dismissed_reason IS NOT NULL AND quarantine.record IS excluded.record THEN quarantine.attempts
                       ELSE 1 END,
       resolved_at = CASE WHEN quarantine.dismissed_reason IS NOT NULL AND quarantine.record IS excluded.record THEN quarantine.resolved_at ELSE NULL END,
       dismissed_reason = CASE WHEN quarantine.dismissed_reason IS NOT NULL AND quarantine.record IS excluded.record THEN quarantine.dismissed_reason ELSE NULL END`,
  );
  /** Open entries, filtered; each condition is bound as NULL when not given. */
  const listQ = (byKey: boolean, keys: number) =>
    db.prepare(
      `SELECT * FROM quarantine WHERE pipeline = @pipeline AND resolved_at IS NULL
         AND (@rule IS NULL OR rule = @rule) AND (@field IS NULL OR field = @field) AND (@afterKey IS NULL OR source_key > @afterKey)
         ${keys ? `AND source_key IN (${Array.from({ length: keys }, (_, i) => `@k${i}`).join(',')})` : ''}
       ORDER BY ${byKey ? 'source_key' : 'last_seen_at DESC, source_key'} LIMIT @limit`,
    );
  const dismissOne = db.prepare(
    `UPDATE quarantine SET resolved_at = ?, dismissed_reason = ? WHERE pipeline = ? AND source_key = ? AND resolved_at IS NULL`,
  );
  const dismissMany = db.transaction((pipeline: string, keys: string[], reason: string) => {
    const t = now();
    let n = 0;
    for (const k of keys) n += dismissOne.run(t, reason, pipeline, k).changes;
    return n;
  });
  const saveReport = db.prepare(
    `INSERT OR REPLACE INTO run_reports (sync_id, pipeline, status, started_at, finished_at, totals) VALUES (?, ?, ?, ?, ?, ?)`,
  );
  const listReports = db.prepare('SELECT * FROM run_reports WHERE pipeline = ? ORDER BY finished_at DESC LIMIT ?');
  const getReport = db.prepare(
    `SELECT * FROM run_reports WHERE sync_id = @id OR (substr(sync_id, 1, length(@id) + 1) = @id || '@') ORDER BY sync_id = @id DESC, finished_at DESC LIMIT 1`,
  );
  const addEvent = db.prepare('INSERT INTO run_events (sync_id, kind, at, data) VALUES (?, ?, ?, ?)');
  const addEvents = db.transaction((syncId: string, events: RunEvent[]) => {
    for (const e of events) addEvent.run(syncId, e.kind, e.at, JSON.stringify(e.data));
  });
  const listEvents = db.prepare('SELECT kind, at, data FROM run_events WHERE sync_id = ? ORDER BY seq');
  const pruneEvents = db.prepare('DELETE FROM run_events WHERE at < ?');
  const pruner = runEventsPruner(options.runEventsDays, async (before) => pruneEvents.run(before).changes);
  const reportOf = (r: Record<string, string>): RunReport => ({
    syncId: r.sync_id!,
    pipeline: r.pipeline!,
    status: r.status!,
    startedAt: r.started_at!,
    finishedAt: r.finished_at!,
    totals: JSON.parse(r.totals!) as Record<string, number>,
  });

  const putBindings = db.transaction((pipeline: string, items: (Binding & { sourceKey: string })[]) => {
    const t = now();
    for (const i of items) putBinding.run(pipeline, i.sourceKey, i.targetKey, i.hash, i.fields ? JSON.stringify(i.fields) : null, t);
  });
  const addQuarantine = db.transaction((entries: QuarantineEntry[]) => {
    const t = now();
    for (const e of entries) {
      quarantine.run({ ...e, field: e.field, record: JSON.stringify(e.record ?? null), now: t });
    }
  });
  const openQuarantine = db.prepare('SELECT EXISTS (SELECT 1 FROM quarantine WHERE pipeline = ? AND resolved_at IS NULL) AS open');
  const releaseIn = inList((list) => `UPDATE quarantine SET resolved_at = ? WHERE pipeline = ? AND resolved_at IS NULL AND source_key IN (${list})`);
  const bindingsIn = inList((list) => `SELECT source_key, target_key, hash, fields FROM bindings WHERE pipeline = ? AND source_key IN (${list})`);
  const listBindings = db.prepare('SELECT source_key, target_key, hash, fields FROM bindings WHERE pipeline = ? ORDER BY source_key');
  const deleteBinding = db.prepare('DELETE FROM bindings WHERE pipeline = ? AND source_key = ?');
  const invalidateBinding = db.prepare(`UPDATE bindings SET hash = '', updated_at = ? WHERE pipeline = ? AND target_key = ?`);
  const getMeta = db.prepare('SELECT value FROM meta WHERE key = ?');
  const setMeta = db.prepare(
    'INSERT INTO meta (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at',
  );
  const deleteBindings = db.transaction((pipeline: string, keys: string[]) => {
    for (const k of keys) deleteBinding.run(pipeline, k);
  });
  const invalidateBindings = db.transaction((pipeline: string, keys: string[]) => {
    const t = now();
    let n = 0;
    for (const k of keys) n += invalidateBinding.run(t, pipeline, k).changes;
    return n;
  });
  const releaseMany = db.transaction((pipeline: string, keys: string[]) => {
    const t = now();
    for (let i = 0; i < keys.length; i += IN_CHUNK) {
      const chunk = keys.slice(i, i + IN_CHUNK);
      releaseIn(chunk.length).run(t, pipeline, ...chunk);
    }
  });

  return {
    ...createLinkStore(db, now),
    ...createReconStore(db),
    ...createPlanStore(db, now),
    async getCheckpoint(pipeline) {
      const row = getCheckpoint.get(pipeline) as { cursor: string | null } | undefined;
      return row?.cursor ? (JSON.parse(row.cursor) as Cursor) : null;
    },
    async setCheckpoint(pipeline, cursor, syncId) {
      setCheckpoint.run(pipeline, cursor ? JSON.stringify(cursor) : null, syncId, now());
    },
    async stagePage(syncId, name, payload) {
      const id = `${syncId}/${name}`;
      stage.run(id, syncId, JSON.stringify(payload), now());
      remember(id, payload);
      return id;
    },
    async loadPage<T>(pageId: string) {
      if (recent.has(pageId)) return recent.get(pageId) as T;
      const row = load.get(pageId) as { payload: string } | undefined;
      if (!row) throw new SyncError('NotFound', `staged page ${pageId} not found (dropped, or staged by another state store)`);
      return JSON.parse(row.payload) as T;
    },
    async dropPages(syncId, prefix) {
      for (const id of recent.keys()) if (id.startsWith(`${syncId}/${prefix ?? ''}`)) recent.delete(id);
      if (prefix === undefined) return drop.run(syncId).changes;
      return dropPrefix.run(syncId, `${syncId}/${prefix}`, `${syncId}/${prefix}`).changes;
    },
    async getBindings(pipeline, sourceKeys) {
      const out = new Map<string, Binding>();
      for (let i = 0; i < sourceKeys.length; i += IN_CHUNK) {
        const chunk = sourceKeys.slice(i, i + IN_CHUNK);
        const rows = bindingsIn(chunk.length).all(pipeline, ...chunk) as { source_key: string; target_key: string; hash: string; fields: string | null }[];
        for (const r of rows) {
          out.set(r.source_key, { targetKey: r.target_key, hash: r.hash, ...(r.fields ? { fields: JSON.parse(r.fields) as Record<string, unknown> } : {}) });
        }
      }
      return out;
    },
    async putBindings(pipeline, items) {
      putBindings(pipeline, items);
    },
    async listBindings(pipeline) {
      const rows = listBindings.all(pipeline) as { source_key: string; target_key: string; hash: string; fields: string | null }[];
      return rows.map((r) => ({
        sourceKey: r.source_key,
        targetKey: r.target_key,
        hash: r.hash,
        ...(r.fields ? { fields: JSON.parse(r.fields) as Record<string, unknown> } : {}),
      }));
    },
    async deleteBindings(pipeline, keys) {
      deleteBindings(pipeline, keys);
    },
    async invalidateBindings(pipeline, targetKeys) {
      return invalidateBindings(pipeline, targetKeys);
    },
    async withLock(name, fn) {
      // BEGIN IMMEDIATE takes SQLite's write lock for the whole of `fn` (its statements, and the
      // store's own transactions as savepoints, run inside it). Tried without busy_timeout, which
      // would block the event loop, and again every few ms until the other holder commits.
      const started = Date.now();
      for (;;) {
        if (!db.inTransaction) {
          db.pragma('busy_timeout = 0');
          try {
            db.exec('BEGIN IMMEDIATE');
            break;
          } catch (err) {
            if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err;
          } finally {
            db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
          }
        }
        if (Date.now() - started > LOCK_WAIT_MS) {
          throw new Error(`state store ${file}: waited ${LOCK_WAIT_MS / 1000} s for the "${name}" lock, which another worker holds; if none runs, check for a hung process`);
        }
        await new Promise((r) => setTimeout(r, 10 + Math.floor(Math.random() * 20)));
      }
      try {
        const out = await fn();
        db.exec('COMMIT');
        return out;
      } catch (err) {
        if (db.inTransaction) db.exec('ROLLBACK');
        throw err;
      }
    },
    async getMeta(key) {
      return (getMeta.get(key) as { value: string } | undefined)?.value ?? null;
    },
    async setMeta(key, value) {
      setMeta.run(key, value, now());
    },
    async quarantine(entries) {
      if (entries.length) addQuarantine(entries);
    },
    async releaseQuarantine(pipeline, keys) {
      // Most pipelines have nothing open: skip the updates entirely then.
      if (keys.length && (openQuarantine.get(pipeline) as { open: number }).open) releaseMany(pipeline, keys);
    },
    async listQuarantine(pipeline, limit = 100, filter: QuarantineFilter = {}) {
      const keys = filter.keys ?? [];
      if (filter.keys && keys.length === 0) return [];
      const rows: Record<string, unknown>[] = [];
      // Explicit keys go in chunks (SQLite's bound-parameter limit); each chunk is filtered alike.
      for (let i = 0; i === 0 || i < keys.length; i += IN_CHUNK) {
        const chunk = keys.slice(i, i + IN_CHUNK);
        const params: Record<string, unknown> = {
          pipeline,
          rule: filter.rule ?? null,
          field: filter.field ?? null,
          afterKey: filter.afterKey ?? null,
          limit: limit - rows.length,
        };
        chunk.forEach((k, j) => (params[`k${j}`] = k));
        rows.push(...(listQ(filter.afterKey !== undefined, chunk.length).all(params) as Record<string, unknown>[]));
        if (rows.length >= limit) break;
      }
      return rows.map((r) => ({
        pipeline: String(r.pipeline),
        syncId: String(r.sync_id),
        sourceKey: String(r.source_key),
        stage: r.stage as 'map' | 'write',
        field: (r.field as string | null) ?? null,
        rule: String(r.rule),
        reason: String(r.reason),
        record: r.record ? JSON.parse(String(r.record)) : null,
        firstSeenAt: String(r.first_seen_at),
        lastSeenAt: String(r.last_seen_at),
        attempts: Number(r.attempts),
      }));
    },
    async dismissQuarantine(pipeline, keys, reason, by) {
      return dismissMany(pipeline, keys, `${reason} (by ${by})`);
    },
    async saveRunReport(r: RunReport) {
      saveReport.run(r.syncId, r.pipeline, r.status, r.startedAt, r.finishedAt, JSON.stringify(r.totals));
    },
    async listRunReports(pipeline, limit = 20) {
      return (listReports.all(pipeline, limit) as Record<string, string>[]).map(reportOf);
    },
    async getRunReport(id) {
      const row = getReport.get({ id }) as Record<string, string> | undefined;
      return row ? reportOf(row) : null;
    },
    async addRunEvents(syncId, events) {
      if (events.length) addEvents(syncId, events);
      await pruner.due();
    },
    async pruneRunEvents(before) {
      return pruneEvents.run(before).changes;
    },
    async listRunEvents(syncId) {
      return (listEvents.all(syncId) as { kind: RunEvent['kind']; at: string; data: string }[]).map((r) => ({ kind: r.kind, at: r.at, data: JSON.parse(r.data) as Record<string, unknown> }));
    },
    async close() {
      db.close();
    },
  };
}
