/**
 * `crm-erp-sync plan` and `apply`: a dry run through Temporal (syncPipeline with mode "dry-run"),
 * its stored plan printed from the state store, and `applyPlan` started for a plan id.
 */
import { WorkflowFailedError } from '@temporalio/client';
import type { Command } from 'commander';
import { PlanIdSchema, type ApplyPlanResult } from '../contracts/plan';
import type { SyncResult } from '../contracts/sync';
import type { PlanItem } from '../state/types';
import { configuredSyncs } from './config';
import { clip, showValue, table } from './format';
import { executeDryRun } from './dry-run';
import { planPair } from './pair-plan';
import { CliError, EXIT, type CliDeps } from './common';

interface Change {
  field: string;
  before: unknown;
  after: unknown;
  currency?: string;
}

/** One row per changed field of each item (key and operation on every row, for grep): key, operation, field, before -> after. */
export function planRows(items: PlanItem[]): (string | number | null)[][] {
  return items.filter((i) => i.op !== 'quarantine').flatMap((i) => {
    const changes = (i.data.changes as Change[] | undefined) ?? [];
    if (changes.length === 0) return [[i.key, i.op, null, null]];
    return changes.map((c) => [i.key, i.op, c.field, clip(`${showValue(c.before, c.currency)} -> ${showValue(c.after, c.currency)}`, 90)]);
  });
}

/** One row per record the plan would quarantine: key, field, rule, reason. */
export function quarantineRows(items: PlanItem[]): (string | number | null)[][] {
  return items.filter((i) => i.op === 'quarantine').map((i) => [i.key, (i.data.field as string | null) ?? null, String(i.data.rule), clip(String(i.data.reason), 90)]);
}

/** A plan item as `plan --json` prints it. */
const itemJson = (i: PlanItem) =>
  i.op === 'quarantine' ? { key: i.key, op: i.op, field: i.data.field ?? null, rule: i.data.rule, reason: i.data.reason } : { key: i.key, op: i.op, changes: i.data.changes ?? [] };

/** A failed workflow as one line: its root cause's message (an activity's failure, not "Activity task failed"). */
const failureOf = (err: unknown, what: string): unknown => {
  if (!(err instanceof WorkflowFailedError)) return err;
  let root: Error = err;
  while (root.cause instanceof Error) root = root.cause;
  return new CliError(EXIT.failure, `${what} failed: ${root.message}`);
};

export function addPlanCommands(program: Command, deps: CliDeps, pipelineName: (v: string) => string, intArg: (name: string) => (v: string) => number): void {
  const println = (s: string) => deps.stdout(`${s}\n`);
  const json = (v: unknown) => println(JSON.stringify(v, null, 2));
  const stamp = () => new Date().toISOString().replace(/[-:]|\.\d+/g, '');

  program
    .command('plan')
    .description('dry run: read, map and plan every change of a pipeline or pair now, write nothing, and print the stored plan (apply it with `apply <planId>`)')
    .argument('<name>', 'pipeline or pair', pipelineName)
    .option('-n, --limit <n>', 'plan items to print', intArg('--limit'), 50)
    .option('--json', 'machine-readable output')
    .action(async (name: string, opts: { json?: boolean; limit: number }) => {
      const all = configuredSyncs(deps.env.SYNC_CONFIG_DIR);
      const target = all.get(name);
      if (!target) throw new CliError(EXIT.notFound, `unknown pipeline or pair "${name}"; configured: ${[...all.keys()].join(', ')}`);
      const workflowId = `plan:${name}:${stamp()}`;
      if (target.kind === 'pair') return planPair(deps, name, target.taskQueue, opts, workflowId, failureOf);
      const { result, plan, items } = await executeDryRun<SyncResult>(deps, { workflowType: 'syncPipeline', taskQueue: target.taskQueue, workflowId, input: { pipeline: name }, limit: opts.limit }, failureOf);
      const c = plan.counts;
      const quarantined = c.quarantined ?? 0; // absent in plans made before dry-run-v2
      const writes = c.creates + c.updates + c.deletes + c.conflicts;
      const total = writes + quarantined;
      if (opts.json) return json({ workflowId, ...plan, totals: result.totals, items: items.map(itemJson), more: Math.max(0, total - items.length) });
      println(
        `plan ${plan.planId} of ${name} (hash ${plan.planHash}, dry run ${workflowId}): ${c.creates} creates, ${c.updates} updates, ${c.deletes} deletes, ${c.conflicts} conflicts, ` +
          `${quarantined} to quarantine; ${result.totals.unchanged} unchanged; nothing was written or quarantined`,
      );
      const rows = planRows(items);
      if (rows.length > 0) println(`\n${table(['key', 'operation', 'field', 'before -> after'], rows)}`);
      const refused = quarantineRows(items);
      if (refused.length > 0) println(`\nwould be quarantined (when applied):\n${table(['key', 'field', 'rule', 'reason'], refused)}`);
      if (total > items.length) println(`(${total - items.length} more item(s); raise --limit or use --json)`);
      if (plan.approvalReasons.length) println(`\napplying it needs approval: ${plan.approvalReasons.join('; ')}`);
      println(total > 0 ? `\napply it with: crm-erp-sync apply ${plan.planId}` : '\nnothing to apply');
    });

  program
    .command('apply')
    .description('write exactly a stored plan (an applyPlan workflow): records changed in the target since the plan are reported, not overwritten')
    .argument('<planId>', 'from `crm-erp-sync plan`, e.g. plan-0123456789abcdef')
    .option('--hash <planHash>', 'the plan hash you reviewed: refuse the apply if the stored plan has another')
    .option('--json', 'machine-readable output')
    .action(async (planId: string, opts: { json?: boolean; hash?: string }) => {
      const id = PlanIdSchema.safeParse(planId);
      if (!id.success) throw new CliError(EXIT.usage, `"${planId}": ${id.error.issues[0]!.message}`);
      const plan = await deps.store().getPlan(planId);
      if (!plan) throw new CliError(EXIT.notFound, `no plan "${planId}" in the state store; make one with: crm-erp-sync plan <pipeline|pair>`);
      const target = configuredSyncs(deps.env.SYNC_CONFIG_DIR).get(plan.name);
      if (!target) throw new CliError(EXIT.notFound, `plan ${planId} is of "${plan.name}", which is no longer configured`);
      const client = await deps.client();
      const workflowId = `apply:${planId}`;
      let result: ApplyPlanResult;
      try {
        result = await client.workflow.execute(plan.kind === 'pair' ? 'applyPairPlan' : 'applyPlan', { taskQueue: target.taskQueue, workflowId, args: [{ planId, ...(opts.hash ? { planHash: opts.hash } : {}) }] });
      } catch (err) {
        throw failureOf(err, `apply ${workflowId}`);
      }
      if (opts.json) {
        json({ workflowId, ...result });
      } else {
        const t = result.totals;
        println(
          `${result.status === 'applied' ? 'applied' : 'did not apply'} plan ${planId} to ${result.name} (${workflowId}): written ${t.written} (${t.created} created, ${t.updated} updated), ` +
            `changed meanwhile ${t.changedMeanwhile} (not overwritten), already applied ${t.alreadyApplied}, quarantined ${t.quarantined}; checkpoint ${result.checkpoint}`,
        );
        if (result.changedMeanwhile.length) println(`changed in the target since the plan: ${result.changedMeanwhile.join(', ')}${t.changedMeanwhile > result.changedMeanwhile.length ? ', …' : ''} (see crm-erp-sync report ${result.applyId})`);
      }
      if (result.status !== 'applied') throw new CliError(EXIT.failure, `apply ended ${result.status} at the approval gate; nothing was written`);
    });
}
