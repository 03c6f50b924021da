import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

const { EventType } = temporal.api.enums.v1;

/**
 * Who ran the activities of a workflow across its whole continue-as-new chain: the number of
 * ActivityTaskStarted events per worker identity (`<pid>@<host>` by default), run by run from the
 * first execution, following each run's WorkflowExecutionContinuedAsNew event. (A handle's
 * `fetchHistory()` reads only the latest run.) The server writes an attempt's started event when
 * the attempt closes, so an attempt a killed worker held counts for the worker whose attempt closed it.
 */
export async function activityIdentities(client: Client, workflowId: string, firstRunId: string): Promise<{ byIdentity: Map<string, number>; runs: number }> {
  const byIdentity = new Map<string, number>();
  let runId: string | undefined = firstRunId;
  let runs = 0;
  while (runId) {
    runs++;
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    runId = undefined;
    for (const e of history.events ?? []) {
      if (e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED) {
        const id = e.activityTaskStartedEventAttributes?.identity ?? '';
        byIdentity.set(id, (byIdentity.get(id) ?? 0) + 1);
      }
      if (e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW) {
        runId = e.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
      }
    }
  }
  return { byIdentity, runs };
}

/** Activity tasks started by the worker with OS process id `pid`, from `activityIdentities`' map. */
export const startedBy = (byIdentity: Map<string, number>, pid: number): number =>
  [...byIdentity].filter(([id]) => id.startsWith(`${pid}@`)).reduce((n, [, c]) => n + c, 0);
