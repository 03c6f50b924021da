/**
 * `crm-erp-sync plan <pair>`: a pair's dry run through Temporal (syncPair with mode "dry-run")
 * and its stored plan printed from the state store, one row per field and direction.
 */
import type { SyncPairResult } from '../contracts/pair-sync';
import type { PlanItem } from '../state/types';
import { executeDryRun } from './dry-run';
import { clip, showValue, table } from './format';
import type { CliDeps } from './common';

interface Change {
  side: string;
  field: string;
  before: unknown;
  after: unknown;
}


/** One row per changed field of each item: key, side (direction, or `crm<>erp` for a conflict), operation, field, before -> after. */
export function pairPlanRows(items: PlanItem[]): (string | number | null)[][] {
  return items.flatMap((i) => {
    const changes = (i.data.changes as Change[] | undefined) ?? [];
    if (changes.length === 0) return [[i.key, ((i.data.directions as string[] | undefined) ?? []).join(', '), i.op, null, null]];
    return changes.map((c) => {
      const [a, b] = c.side.split('<>');
      const shown = i.op === 'conflict' && b !== undefined ? `${a}: ${showValue(c.before)} | ${b}: ${showValue(c.after)}` : `${showValue(c.before)} -> ${showValue(c.after)}`;
      return [i.key, c.side, i.op, c.field, clip(shown, 90)];
    });
  });
}

/** The pair form of `plan`: run the dry run, print the plan (table or --json). */
export async function planPair(
  deps: CliDeps,
  name: string,
  taskQueue: string,
  opts: { json?: boolean; limit: number },
  workflowId: string,
  failureOf: (err: unknown, what: string) => unknown,
): Promise<void> {
  const println = (s: string) => deps.stdout(`${s}\n`);
  const { result, plan, items } = await executeDryRun<SyncPairResult>(deps, { workflowType: 'syncPair', taskQueue, workflowId, input: { pair: name }, limit: opts.limit }, failureOf);
  const c = plan.counts;
  const total = c.creates + c.updates + c.deletes + c.conflicts;
  const quarantined = Object.values(result.totals.sides).reduce((n, t) => n + t.quarantined, 0);
  if (opts.json) {
    println(
      JSON.stringify(
        { workflowId, ...plan, totals: result.totals, items: items.map((i) => ({ key: i.key, op: i.op, sides: i.data.directions ?? [], keys: i.data.keys ?? {}, changes: i.data.changes ?? [] })), more: Math.max(0, total - items.length) },
        null,
        2,
      ),
    );
    return;
  }
  println(
    `plan ${plan.planId} of pair ${name} (hash ${plan.planHash}, dry run ${workflowId}): ${c.creates} creates, ${c.updates} updates, ${c.deletes} deletes, ${c.conflicts} conflicts; ` +
      `${result.totals.unchanged} unchanged, ${quarantined} quarantined; nothing was written`,
  );
  if (total > 0) println(`\n${table(['key', 'side', 'operation', 'field', 'before -> after'], pairPlanRows(items))}`);
  if (total > items.length) println(`(${total - items.length} more item(s); raise --limit or use --json)`);
  if (c.conflicts > 0) println(`\nconflicts are listed, not applied: a sync puts them to a person`);
  if (plan.approvalReasons.length) println(`\napplying it needs approval: ${plan.approvalReasons.join('; ')}`);
  println(c.creates + c.updates + c.deletes > 0 ? `\napply it with: crm-erp-sync apply ${plan.planId}` : '\nnothing to apply');
}
