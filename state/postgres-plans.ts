import type { Query } from './postgres-links';
import { planOf } from './sqlite-plans';
import type { StateStore } from './types';

type PlanMethods = Pick<StateStore, 'savePlan' | 'getPlan' | 'addPlanItems' | 'listPlanItems'>;

/** Dry-run plans on PostgreSQL (migration 3), as in state/sqlite-plans.ts. */
export function createPgPlanStore(q: Query, now: () => string): PlanMethods {
  return {
    async savePlan(p) {
      const t = now();
      await q(
        `INSERT INTO plans (plan_id, kind, name, sync_id, status, plan_hash, counts, meta, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
         ON CONFLICT (plan_id) DO UPDATE SET kind = excluded.kind, name = excluded.name, sync_id = excluded.sync_id, status = excluded.status,
           plan_hash = excluded.plan_hash, counts = excluded.counts, meta = excluded.meta, updated_at = excluded.updated_at`,
        [p.planId, p.kind, p.name, p.syncId, p.status, p.planHash, JSON.stringify(p.counts), JSON.stringify(p.meta), t],
      );
    },
    async getPlan(planId) {
      const r = await q('SELECT * FROM plans WHERE plan_id = $1', [planId]);
      const row = r.rows[0];
      return row ? planOf(row as Parameters<typeof planOf>[0]) : null;
    },
    async addPlanItems(planId, items) {
      if (!items.length) return;
      await q(
        `INSERT INTO plan_items (plan_id, seq, key, op, data) SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[])
         ON CONFLICT (plan_id, seq) DO UPDATE SET key = excluded.key, op = excluded.op, data = excluded.data`,
        [planId, items.map((i) => i.seq), items.map((i) => i.key), items.map((i) => i.op), items.map((i) => JSON.stringify(i.data))],
      );
    },
    async listPlanItems(planId, options) {
      const r = await q<{ seq: string; key: string; op: string; data: string }>(
        'SELECT seq, key, op, data FROM plan_items WHERE plan_id = $1 AND seq > $2 ORDER BY seq LIMIT $3',
        [planId, options?.afterSeq ?? -1, options?.limit ?? 1000],
      );
      return r.rows.map((row) => ({ seq: Number(row.seq), key: row.key, op: row.op as 'create', data: JSON.parse(row.data) as Record<string, unknown> }));
    },
  };
}
