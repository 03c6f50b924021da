import { formatMoney } from '../mappings/dsl/money';
import { readPath } from '../mappings/record-path';
import type { SyncApproval } from '../pipelines/schema';

export interface PlanChange {
  sourceKey: string;
  op: 'create' | 'update';
  fields: Record<string, unknown>;
  /** What was last written (bindings), for updates of pipelines that watch fields. */
  previous?: Record<string, unknown>;
}

/** A watched value as the approver reads it: a `….amountMinor` field with its sibling currency as money ("1,226.75 EUR"). */
function shown(value: number, record: Record<string, unknown>, field: string): string {
  if (!field.endsWith('.amountMinor') || !Number.isSafeInteger(value)) return String(value);
  const currency = readPath(record, `${field.slice(0, -'amountMinor'.length)}currency`);
  return typeof currency === 'string' && /^[A-Z]{3}$/.test(currency) ? formatMoney(value, currency) : String(value);
}

/**
 * Why a page's plan needs approval under `policy` (empty: it does not). Pure, so the reasons an
 * approver reads are exactly the ones the planner acted on.
 */
export function planRisks(plan: PlanChange[], policy: SyncApproval): string[] {
  const reasons: string[] = [];
  const creates = plan.filter((c) => c.op === 'create').length;
  const updates = plan.length - creates;
  if (policy.maxUpdates !== undefined && updates > policy.maxUpdates) reasons.push(`${updates} updates, above the limit of ${policy.maxUpdates}`);
  if (policy.maxCreates !== undefined && creates > policy.maxCreates) reasons.push(`${creates} creates, above the limit of ${policy.maxCreates}`);
  for (const field of policy.watchFields) {
    let count = 0;
    let worst: { key: string; pct: number; from: string; to: string } | null = null;
    for (const c of plan) {
      if (c.op !== 'update' || !c.previous) continue;
      const before = readPath(c.previous, field);
      const after = readPath(c.fields, field);
      if (typeof before !== 'number' || typeof after !== 'number' || before === after) continue;
      const pct = before === 0 ? Number.POSITIVE_INFINITY : (Math.abs(after - before) / Math.abs(before)) * 100;
      if (pct <= policy.maxChangePercent) continue;
      count++;
      if (!worst || pct > worst.pct) worst = { key: c.sourceKey, pct, from: shown(before, c.previous, field), to: shown(after, c.fields, field) };
    }
    if (worst) {
      const pct = Number.isFinite(worst.pct) ? `${worst.pct.toFixed(1)}%` : 'from zero';
      reasons.push(
        `${field} changes by more than ${policy.maxChangePercent}% on ${count} record(s); largest: ${worst.key} ${worst.from} → ${worst.to} (${pct})`,
      );
    }
  }
  return reasons;
}
