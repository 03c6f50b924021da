/**
 * The approvals watch behind the `approvalWaitingLongerThan` alert: every few seconds a worker
 * lists the syncs waiting at an approval gate (visibility), asks each how long it has waited
 * (`pendingApproval` query), and for one past the limit starts an `approvalWaitingAlert`
 * workflow whose id names the sync, plan and stage, so each wait is alerted once, whichever
 * worker saw it first, and the activity retries while the webhook is down.
 */
import { type Client, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import { pendingApprovalQuery } from '../contracts/approval';
import { SA_PIPELINE } from '../contracts/search-attributes';
import { APPROVALS_WAITING_QUERY } from './metrics';

export function startApprovalAlertWatch(client: Client, waitingMs: number, everyMs: number, onError: (err: Error) => void = () => undefined): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = async () => {
    try {
      for await (const wf of client.workflow.list({ query: APPROVALS_WAITING_QUERY })) {
        const state = await client.connection
          .withDeadline(Date.now() + 5000, () => client.workflow.getHandle(wf.workflowId, wf.runId).query(pendingApprovalQuery))
          .catch(() => null);
        const p = state?.pending;
        if (!p || Date.now() - Date.parse(p.requestedAt) < waitingMs) continue;
        try {
          await client.workflow.start('approvalWaitingAlert', {
            taskQueue: wf.taskQueue,
            workflowId: `alert:approval-waiting:${wf.workflowId}:${p.planHash}:${p.stage}`,
            workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
            args: [{ pipeline: wf.typedSearchAttributes.get(SA_PIPELINE) ?? wf.workflowId, syncId: wf.workflowId, gate: p.gate, requestedAt: p.requestedAt, summary: p.summary, approvers: p.approvers }],
          });
        } catch (err) {
          if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        }
      }
    } catch (err) {
      if (!stopped) onError(err as Error);
    }
    if (!stopped) timer = setTimeout(() => void tick(), everyMs);
  };
  timer = setTimeout(() => void tick(), everyMs);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
