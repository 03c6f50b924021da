import type Database from 'better-sqlite3';
import type { ReconRow, StateStore } from './types';

type ReconMethods = Pick<StateStore, 'addReconRows' | 'listReconRows' | 'groupReconRows' | 'dropReconRows'>;

export const RECON_SCHEMA = `
CREATE TABLE IF NOT EXISTS recon_rows (seq INTEGER PRIMARY KEY AUTOINCREMENT, recon_id TEXT NOT NULL, kind TEXT NOT NULL, side TEXT NOT NULL,
  key TEXT NOT NULL, value TEXT NOT NULL DEFAULT '', payload TEXT);
CREATE INDEX IF NOT EXISTS recon_rows_kind ON recon_rows (recon_id, kind, seq);
CREATE UNIQUE INDEX IF NOT EXISTS recon_rows_once ON recon_rows (recon_id, kind, side, key, value);
CREATE INDEX IF NOT EXISTS recon_rows_value ON recon_rows (recon_id, kind, side, value);
`;

/**
 * Reconciliation scratch rows in the embedded SQLite store: what a reconciliation finds page by
 * page (drift items, each record's natural keys, records to repair), so no activity holds a
 * whole side in memory; duplicates are a GROUP BY over the natural keys. A row is added once
 * (per run, kind, side, key and value), so a retried activity adds nothing twice.
 */
export function createReconStore(db: Database.Database): ReconMethods {
  db.exec(RECON_SCHEMA);
  const put = db.prepare('INSERT OR IGNORE INTO recon_rows (recon_id, kind, side, key, value, payload) VALUES (?, ?, ?, ?, ?, ?)');
  const list = db.prepare('SELECT seq, kind, side, key, value, payload FROM recon_rows WHERE recon_id = ? AND kind = ? AND seq > ? ORDER BY seq LIMIT ?');
  const group = db.prepare(
    `SELECT side, value, json_group_array(key) AS keys FROM (SELECT side, value, key FROM recon_rows WHERE recon_id = ? AND kind = ? AND value <> '' ORDER BY seq)
     GROUP BY side, value HAVING count(*) > 1 ORDER BY side, min(key) LIMIT ?`,
  );
  const drop = db.prepare('DELETE FROM recon_rows WHERE recon_id = ?');
  const putMany = db.transaction((reconId: string, rows: ReconRow[]) => {
    for (const r of rows) put.run(reconId, r.kind, r.side, r.key, r.value ?? '', r.payload === undefined ? null : JSON.stringify(r.payload));
  });
  return {
    async addReconRows(reconId, rows) {
      if (rows.length) putMany(reconId, rows);
    },
    async listReconRows(reconId, kind, options) {
      const rows = list.all(reconId, kind, options?.afterSeq ?? 0, options?.limit ?? 1000) as { seq: number; kind: string; side: string; key: string; value: string; payload: string | null }[];
      return rows.map((r) => ({ seq: r.seq, kind: r.kind, side: r.side, key: r.key, value: r.value === '' ? null : r.value, ...(r.payload !== null ? { payload: JSON.parse(r.payload) as unknown } : {}) }));
    },
    async groupReconRows(reconId, kind, limit = 10_000) {
      const rows = group.all(reconId, kind, limit) as { side: string; value: string; keys: string }[];
      return rows.map((r) => ({ side: r.side, value: r.value, keys: JSON.parse(r.keys) as string[] }));
    },
    async dropReconRows(reconId) {
      return drop.run(reconId).changes;
    },
  };
}
