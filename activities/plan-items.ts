/**
 * Where a dry run's items sit in its plan (activities/plan-store.ts): page `seq`'s writes at
 * `seq * PAGE_SPAN + i`, the records its mapping or validation refused after them at
 * `seq * PAGE_SPAN + QUARANTINE_AT + i`. A refused record is a plan item of its own kind
 * (`quarantine`): a dry run quarantines nothing, and apply quarantines it as the sync would have.
 */
import type { PlanCounts } from '../contracts/plan';
import type { PlanItem, QuarantineEntry, StateStore, StoredPlan } from '../state/types';

/** Items per page of a plan; a page holds at most 10,000 records. */
export const PAGE_SPAN = 100_000;
/** Offset of a page's quarantine items after its writes. */
const QUARANTINE_AT = 50_000;
/** Keys of changed-meanwhile records an apply chunk returns to its workflow (the run report has them all). */
export const MAX_CHANGED_KEYS = 100;
/** The hash of a record that is not there (a planned create's target, a deleted record). */
export const ABSENT = 'absent';

/** What a quarantine item stores (PlanItem.data): the quarantine entry apply records. */
export interface QuarantinePlanItem {
  stage: QuarantineEntry['stage'];
  field: string | null;
  rule: string;
  reason: string;
  /** The raw source record (as the quarantine keeps it, for a fix and replay). */
  record: unknown;
}

export const quarantineDataOf = (i: PlanItem): QuarantinePlanItem => i.data as unknown as QuarantinePlanItem;

/** Store the records a dry-run page would quarantine as its plan's quarantine items (idempotent by seq). */
export async function addQuarantineItems(store: StateStore, planId: string, seq: number, entries: QuarantineEntry[]): Promise<void> {
  const items: PlanItem[] = entries.map((e, i) => {
    const data: QuarantinePlanItem = { stage: e.stage, field: e.field, rule: e.rule, reason: e.reason, record: e.record };
    return { seq: seq * PAGE_SPAN + QUARANTINE_AT + i, key: e.sourceKey, op: 'quarantine', data: data as unknown as Record<string, unknown> };
  });
  await store.addPlanItems(planId, items);
}

/** Every item of a plan in order, a page of 1,000 at a time. */
export async function* planItems(store: StateStore, planId: string): AsyncGenerator<PlanItem> {
  let afterSeq = -1;
  for (;;) {
    const page = await store.listPlanItems(planId, { afterSeq, limit: 1000 });
    for (const i of page) yield i;
    if (page.length < 1000) return;
    afterSeq = page.at(-1)!.seq;
  }
}

/** Count an item into a plan's counts by its op. */
export function countItem(counts: PlanCounts, op: PlanItem['op']): void {
  if (op === 'create') counts.creates++;
  else if (op === 'update') counts.updates++;
  else if (op === 'delete') counts.deletes++;
  else if (op === 'quarantine') counts.quarantined++;
  else counts.conflicts++;
}

/** The distinct approval reasons a plan's pages recorded (meta.approvalReasons: page → reasons). */
export const planReasons = (plan: StoredPlan): string[] =>
  [...new Set(Object.values((plan.meta.approvalReasons as Record<string, string[]> | undefined) ?? {}).flat())];
