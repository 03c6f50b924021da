import type Database from 'better-sqlite3';
import type { PlanItem, StateStore, StoredPlan } from './types';

type PlanMethods = Pick<StateStore, 'savePlan' | 'getPlan' | 'addPlanItems' | 'listPlanItems'>;

export const PLAN_SCHEMA = `
CREATE TABLE IF NOT EXISTS plans (plan_id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, sync_id TEXT NOT NULL, status TEXT NOT NULL,
  plan_hash TEXT, counts TEXT NOT NULL, meta TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS plan_items (plan_id TEXT NOT NULL, seq INTEGER NOT NULL, key TEXT NOT NULL, op TEXT NOT NULL, data TEXT NOT NULL,
  PRIMARY KEY (plan_id, seq)) WITHOUT ROWID;
`;

interface PlanRow {
  plan_id: string;
  kind: string;
  name: string;
  sync_id: string;
  status: string;
  plan_hash: string | null;
  counts: string;
  meta: string;
  created_at: string;
  updated_at: string;
}

export const planOf = (r: PlanRow): StoredPlan => ({
  planId: r.plan_id,
  kind: r.kind as StoredPlan['kind'],
  name: r.name,
  syncId: r.sync_id,
  status: r.status as StoredPlan['status'],
  planHash: r.plan_hash,
  counts: JSON.parse(r.counts) as Record<string, number>,
  meta: JSON.parse(r.meta) as Record<string, unknown>,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/** Dry-run plans in the embedded SQLite store: a header per plan and its items in plan order. */
export function createPlanStore(db: Database.Database, now: () => string): PlanMethods {
  db.exec(PLAN_SCHEMA);
  const save = db.prepare(
    `INSERT INTO plans (plan_id, kind, name, sync_id, status, plan_hash, counts, meta, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (plan_id) DO UPDATE SET kind = excluded.kind, name = excluded.name, sync_id = excluded.sync_id, status = excluded.status,
       plan_hash = excluded.plan_hash, counts = excluded.counts, meta = excluded.meta, updated_at = excluded.updated_at`,
  );
  const get = db.prepare('SELECT * FROM plans WHERE plan_id = ?');
  const put = db.prepare('INSERT OR REPLACE INTO plan_items (plan_id, seq, key, op, data) VALUES (?, ?, ?, ?, ?)');
  const list = db.prepare('SELECT seq, key, op, data FROM plan_items WHERE plan_id = ? AND seq > ? ORDER BY seq LIMIT ?');
  const putMany = db.transaction((planId: string, items: PlanItem[]) => {
    for (const i of items) put.run(planId, i.seq, i.key, i.op, JSON.stringify(i.data));
  });
  return {
    async savePlan(p) {
      const t = now();
      save.run(p.planId, p.kind, p.name, p.syncId, p.status, p.planHash, JSON.stringify(p.counts), JSON.stringify(p.meta), t, t);
    },
    async getPlan(planId) {
      const row = get.get(planId) as PlanRow | undefined;
      return row ? planOf(row) : null;
    },
    async addPlanItems(planId, items) {
      if (items.length) putMany(planId, items);
    },
    async listPlanItems(planId, options) {
      const rows = list.all(planId, options?.afterSeq ?? -1, options?.limit ?? 1000) as { seq: number; key: string; op: string; data: string }[];
      return rows.map((r) => ({ seq: Number(r.seq), key: r.key, op: r.op as PlanItem['op'], data: JSON.parse(r.data) as Record<string, unknown> }));
    },
  };
}
