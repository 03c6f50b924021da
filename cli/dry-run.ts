import type { PlanSummary } from '../contracts/plan';
import type { PlanItem } from '../state/types';
import { CliError, EXIT, type CliDeps } from './common';

/**
 * Run a dry run through Temporal (`syncPipeline` or `syncPair` with mode "dry-run") and read the
 * first `limit` items of the plan it stored: what `plan` prints for a pipeline and for a pair.
 */
export async function executeDryRun<R extends { status: string; plan?: PlanSummary | null }>(
  deps: CliDeps,
  run: { workflowType: 'syncPipeline' | 'syncPair'; taskQueue: string; workflowId: string; input: Record<string, unknown>; limit: number },
  failureOf: (err: unknown, what: string) => unknown,
): Promise<{ result: R; plan: PlanSummary; items: PlanItem[] }> {
  const client = await deps.client();
  let result: R;
  try {
    result = await client.workflow.execute(run.workflowType, { taskQueue: run.taskQueue, workflowId: run.workflowId, args: [{ ...run.input, mode: 'dry-run' }] });
  } catch (err) {
    throw failureOf(err, `dry run ${run.workflowId}`);
  }
  if (result.status !== 'completed' || !result.plan) throw new CliError(EXIT.failure, `dry run ${run.workflowId} ended ${result.status}; no plan was stored`);
  const items = await deps.store().listPlanItems(result.plan.planId, { limit: run.limit });
  return { result, plan: result.plan, items };
}
