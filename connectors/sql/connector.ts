import type { Cursor } from '../../contracts/cursor';
import { SyncError } from '../../contracts/errors';
import type { Connector, FetchRequest, FetchResult, NativeInsert, NativePatch, NativeWriter, SourceRecord, WriteOutcome, WriteRequest } from '../types';
import type { SqlEntity, SqlSystem } from './config';
import type { SqlDialect, SqlTx, SqlValue } from './dialect';
import { openSqlite } from './sqlite';
import { translateSqlError } from './errors';

function toIso(v: unknown): string {
  if (v instanceof Date) return v.toISOString();
  return String(v);
}

function readField(fields: Record<string, unknown>, path: string): unknown {
  let cur: unknown = fields;
  for (const p of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

/** Canonical paths `a` and `b` are equal, or one lies inside the other. */
function overlaps(a: string, b: string): boolean {
  return a === b || a.startsWith(`${b}.`) || b.startsWith(`${a}.`);
}

function toSqlValue(v: unknown): SqlValue {
  if (v === undefined || v === null) return null;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'bigint') return v;
  return JSON.stringify(v);
}

/** Open the system's database; a missing file is a ConfigError naming it (and the setup hint), never a new empty file. */
function openExisting(system: SqlSystem, systemName: string, hint: string): SqlDialect {
  if (system.dialect !== 'sqlite' || system.path === undefined) {
    throw new SyncError('ConfigError', `${systemName}: a ${system.dialect} system is opened from its URL (urlEnv), not a file`);
  }
  try {
    return openSqlite(system.path, { mustExist: true, busyTimeoutMs: (system.busyTimeoutSeconds ?? 5) * 1000 });
  } catch (err) {
    const code = String((err as { code?: unknown }).code ?? '');
    if (code === 'SQLITE_CANTOPEN' || /does not exist|unable to open/.test(String(err))) {
      throw new SyncError('ConfigError', `${systemName}: database ${system.path} does not exist${hint}`, { details: { code: 'SQLITE_CANTOPEN' } });
    }
    throw translateSqlError(err, `${systemName}: open ${system.path}`);
  }
}

/**
 * A declaratively configured SQL connector: each entity is a table with a key column, a
 * modified-at column and (when written) an external-key column. Reads are keyset-paged on
 * (modifiedAt, key); writes are batch upserts keyed by the external key, in one transaction.
 */
export function createSqlConnector(system: SqlSystem, systemName: string, dialect?: SqlDialect): Connector & NativeWriter {
  const hint = system.setupHint ? `; ${system.setupHint}` : '';
  const db = dialect ?? openExisting(system, systemName, hint);
  const q = db.quote;

  const entityOf = (name: string): SqlEntity => {
    const e = system.entities[name];
    if (!e) {
      throw new SyncError('ConfigError', `system "${systemName}" has no entity "${name}"; it has ${Object.keys(system.entities).join(', ')}`);
    }
    return e;
  };
  const keyParam = (e: SqlEntity, key: string): SqlValue => (e.keyType === 'integer' ? Number(key) : key);
  /** The key column as cursors order it: text keys byte-wise (JavaScript's order), whatever PostgreSQL's collation. */
  const keyOrder = (e: SqlEntity): string => (e.keyType === 'text' && db.name === 'postgres' ? `${q(e.keyColumn)} COLLATE "C"` : q(e.keyColumn));
  const selectList = (e: SqlEntity): string => (e.columns ? e.columns.map(q).join(', ') : '*');
  const toRecord = (e: SqlEntity, row: Record<string, unknown>): SourceRecord => ({
    key: String(row[e.keyColumn]),
    modifiedAt: toIso(row[e.modifiedAtColumn]),
    data: row,
  });
  const guard = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      const e = translateSqlError(err, `${systemName}: ${what}`);
      // A missing table is a database nobody set up: say what creates it.
      if (hint && e.type === 'ConfigError' && /no such table/.test(e.message)) {
        throw new SyncError('ConfigError', `${e.message} (in ${system.path ?? 'the PostgreSQL database'})${hint}`, { details: { code: 'SQLITE_ERROR' } });
      }
      throw e;
    }
  };

  /** A native field name from a mapping's `write` section, checked before it meets SQL. */
  const column = (c: string): string => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(c)) throw new SyncError('ConfigError', `${systemName}: "${c}" is not a plain column name (mapping write section)`);
    return c;
  };
  /** One statement whose refusal (a constraint) is that record's outcome; anything else fails the batch. */
  const isolatedWrite = async (tx: SqlTx, ref: string, action: 'created' | 'updated', sql: string, params: SqlValue[], what: string): Promise<WriteOutcome> => {
    try {
      const rows = await tx.isolated(sql, params);
      if (rows.length === 0) return { externalKey: ref, ok: false, error: { type: 'NotFound', message: `${systemName}: ${what}: no record with key ${ref}` } };
      return { externalKey: ref, ok: true, targetKey: String(rows[0]!.k), action };
    } catch (err) {
      const t = translateSqlError(err, `${systemName}: ${what}`);
      if (t.type !== 'ValidationError') throw t;
      return { externalKey: ref, ok: false, error: { type: t.type, message: t.message, ...(t.field ? { field: t.field } : {}) } };
    }
  };

  async function findByExternalKeys(entityName: string, externalKeys: string[]): Promise<Map<string, string>> {
    const e = entityOf(entityName);
    const ext = e.externalKeyColumn;
    if (!ext) throw new SyncError('ConfigError', `${systemName}.${entityName} has no externalKeyColumn`);
    const found = new Map<string, string>();
    for (let i = 0; i < externalKeys.length; i += 500) {
      const chunk = externalKeys.slice(i, i + 500);
      const ph = chunk.map((_, j) => db.param(j)).join(', ');
      const rows = await guard(`look up ${e.table}`, () =>
        db.all(`SELECT ${q(e.keyColumn)} AS k, ${q(ext)} AS x FROM ${q(e.table)} WHERE ${q(ext)} IN (${ph})`, chunk),
      );
      for (const r of rows) found.set(String(r.x), String(r.k));
    }
    return found;
  }

  return {
    describe: () => ({
      system: systemName,
      kind: `sql/${db.name}`,
      maxBatchSize: 5000,
      partialUpdates: true,
      entities: Object.entries(system.entities).map(([name, e]) => ({
        name,
        canRead: true,
        canWrite: e.externalKeyColumn !== undefined && e.fields !== undefined,
        canDelete: true,
        incremental: true,
      })),
    }),

    async fetchChanges(entityName: string, { after, limit }: FetchRequest): Promise<FetchResult> {
      const e = entityOf(entityName);
      const m = q(e.modifiedAtColumn);
      const k = keyOrder(e);
      let where = '';
      const params: SqlValue[] = [];
      if (after) {
        if (after.key === '') {
          where = `WHERE ${m} >= ${db.param(0)}`;
          params.push(after.modifiedAt);
        } else {
          where = `WHERE ${m} > ${db.param(0)} OR (${m} = ${db.param(1)} AND ${k} > ${db.param(2)})`;
          params.push(after.modifiedAt, after.modifiedAt, keyParam(e, after.key));
        }
      }
      params.push(limit);
      const sql = `SELECT ${selectList(e)} FROM ${q(e.table)} ${where} ORDER BY ${m}, ${k} LIMIT ${db.param(params.length - 1)}`;
      const rows = await guard(`read ${e.table}`, () => db.all(sql, params));
      const records = rows.map((r) => toRecord(e, r));
      const last = records.at(-1);
      const next: Cursor | null = last ? { modifiedAt: last.modifiedAt, key: last.key } : after;
      return { records, nextCursor: next, hasMore: records.length === limit };
    },

    async countChanges(entityName: string, after: Cursor | null): Promise<number> {
      const e = entityOf(entityName);
      const m = q(e.modifiedAtColumn);
      const k = keyOrder(e);
      let where = '';
      const params: SqlValue[] = [];
      if (after && after.key === '') {
        where = `WHERE ${m} >= ${db.param(0)}`;
        params.push(after.modifiedAt);
      } else if (after) {
        where = `WHERE ${m} > ${db.param(0)} OR (${m} = ${db.param(1)} AND ${k} > ${db.param(2)})`;
        params.push(after.modifiedAt, after.modifiedAt, keyParam(e, after.key));
      }
      const rows = await guard(`count ${e.table}`, () => db.all(`SELECT count(*) AS c FROM ${q(e.table)} ${where}`, params));
      return Number(rows[0]?.c ?? 0);
    },

    async read(entityName, keys) {
      const e = entityOf(entityName);
      if (keys.length === 0) return [];
      const ph = keys.map((_, i) => db.param(i)).join(', ');
      const rows = await guard(`read ${e.table}`, () =>
        db.all(`SELECT ${selectList(e)} FROM ${q(e.table)} WHERE ${q(e.keyColumn)} IN (${ph})`, keys.map((key) => keyParam(e, key))),
      );
      return rows.map((r) => toRecord(e, r));
    },

    findByExternalKeys,

    async upsert(entityName: string, batch: WriteRequest[]): Promise<WriteOutcome[]> {
      const e = entityOf(entityName);
      const ext = e.externalKeyColumn;
      if (!ext || !e.fields) {
        throw new SyncError('ConfigError', `${systemName}.${entityName} is not writable: set externalKeyColumn and fields`);
      }
      if (batch.length === 0) return [];
      const fieldEntries = Object.entries(e.fields);
      const cols = [ext, ...fieldEntries.map(([, c]) => c), e.modifiedAtColumn];
      const colList = cols.map(q).join(', ');
      const ph = cols.map((_, i) => db.param(i)).join(', ');
      // An update sets every column, or (a partial update) only the columns of the changed fields.
      const statements = new Map<string, string>();
      const sqlFor = (changed: string[] | undefined): string => {
        const set = changed ? [...fieldEntries.filter(([f]) => changed.some((u) => overlaps(u, f))).map(([, c]) => c), e.modifiedAtColumn] : cols.slice(1);
        const id = set.join('\u0000');
        let sql = statements.get(id);
        if (!sql) {
          const updates = set.map((c) => `${q(c)} = excluded.${q(c)}`).join(', ');
          sql = `INSERT INTO ${q(e.table)} (${colList}) VALUES (${ph}) ON CONFLICT (${q(ext)}) DO UPDATE SET ${updates} RETURNING ${q(e.keyColumn)} AS k`;
          statements.set(id, sql);
        }
        return sql;
      };
      const existing = await findByExternalKeys(entityName, batch.map((b) => b.externalKey));
      const now = new Date().toISOString();
      return guard(`write ${e.table}`, () =>
        db.transaction(async (tx) => {
          const out: WriteOutcome[] = [];
          for (const rec of batch) {
            const params = [rec.externalKey, ...fieldEntries.map(([f]) => toSqlValue(readField(rec.fields, f))), now];
            const sql = sqlFor(rec.changed);
            try {
              const rows = await tx.isolated(sql, params);
              out.push({
                externalKey: rec.externalKey,
                ok: true,
                targetKey: String(rows[0]?.k),
                action: existing.has(rec.externalKey) ? 'updated' : 'created',
              });
            } catch (err) {
              const t = translateSqlError(err, `${systemName}: write ${e.table}`);
              if (t.type !== 'ValidationError') throw t;
              out.push({ externalKey: rec.externalKey, ok: false, error: { type: t.type, message: t.message, ...(t.field ? { field: t.field } : {}) } });
            }
          }
          return out;
        }),
      );
    },

    async insertNative(entityName: string, rows: NativeInsert[]): Promise<WriteOutcome[]> {
      const e = entityOf(entityName);
      if (rows.length === 0) return [];
      const now = new Date().toISOString();
      return guard(`insert into ${e.table}`, () =>
        db.transaction(async (tx) => {
          const out: WriteOutcome[] = [];
          for (const row of rows) {
            const cols = [...Object.keys(row.values).filter((c) => c !== e.modifiedAtColumn).map(column), e.modifiedAtColumn];
            const params = [...cols.slice(0, -1).map((c) => toSqlValue(row.values[c])), now];
            // A row that carries its external key is created once: a retry after a crash finds it
            // by that key (and sets the same values) instead of creating a second one.
            const ext = e.externalKeyColumn && cols.includes(e.externalKeyColumn) ? e.externalKeyColumn : null;
            const onConflict = ext ? ` ON CONFLICT (${q(ext)}) DO UPDATE SET ${cols.filter((c) => c !== ext).map((c) => `${q(c)} = excluded.${q(c)}`).join(', ')}` : '';
            const sql = `INSERT INTO ${q(e.table)} (${cols.map(q).join(', ')}) VALUES (${cols.map((_, i) => db.param(i)).join(', ')})${onConflict} RETURNING ${q(e.keyColumn)} AS k`;
            out.push(await isolatedWrite(tx, row.ref, 'created', sql, params, `insert into ${e.table}`));
          }
          return out;
        }),
      );
    },

    async patchNative(entityName: string, patches: NativePatch[]): Promise<WriteOutcome[]> {
      const e = entityOf(entityName);
      if (patches.length === 0) return [];
      const now = new Date().toISOString();
      return guard(`update ${e.table}`, () =>
        db.transaction(async (tx) => {
          const out: WriteOutcome[] = [];
          for (const p of patches) {
            const cols = Object.keys(p.values).filter((c) => c !== e.modifiedAtColumn).map(column);
            const sets = [...cols, e.modifiedAtColumn].map((c, i) => `${q(c)} = ${db.param(i)}`).join(', ');
            const params = [...cols.map((c) => toSqlValue(p.values[c])), now, keyParam(e, p.key)];
            const sql = `UPDATE ${q(e.table)} SET ${sets} WHERE ${q(e.keyColumn)} = ${db.param(cols.length + 1)} RETURNING ${q(e.keyColumn)} AS k`;
            out.push(await isolatedWrite(tx, p.key, 'updated', sql, params, `update ${e.table}`));
          }
          return out;
        }),
      );
    },

    async delete(entityName, targetKeys) {
      const e = entityOf(entityName);
      if (targetKeys.length === 0) return;
      const ph = targetKeys.map((_, i) => db.param(i)).join(', ');
      await guard(`delete ${e.table}`, () =>
        db.transaction((tx) => tx.all(`DELETE FROM ${q(e.table)} WHERE ${q(e.keyColumn)} IN (${ph})`, targetKeys.map((k) => keyParam(e, k)))),
      );
    },

    close: () => db.close(),
  };
}
