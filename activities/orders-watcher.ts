import { WorkflowExecutionAlreadyStartedError, WorkflowIdConflictPolicy, WorkflowIdReusePolicy, type Client } from '@temporalio/client';
import type { Cursor } from '../contracts/cursor';
import { orderWorkflowId, type ApprovalLimits } from '../contracts/orders';
import { TASK_QUEUES } from '../contracts/queues';
import type { StateStore } from '../state/types';
import type { DealsDb } from './orders-crm';

export interface WatcherDeps {
  deals(): DealsDb;
  store: StateStore;
  /** A Temporal client, for starting the sagas. */
  client(): Client;
}

/** Activities of the `dealWatcher` workflow: read won deals incrementally, start their sagas. */
export function createWatcherActivities(deps: WatcherDeps) {
  return {
    async loadWatcherCheckpoint(input: { name: string }): Promise<Cursor | null> {
      return deps.store.getCheckpoint(input.name);
    },

    async fetchWonDeals(input: { after: Cursor | null; limit: number }): Promise<{ dealIds: string[]; nextCursor: Cursor | null; hasMore: boolean }> {
      const page = deps.deals().wonAfter(input.after, input.limit);
      return { dealIds: page.ids, nextCursor: page.next, hasMore: page.hasMore };
    },

    /**
     * Starts one `orderToCash` per deal, idempotently: a running saga is reused (USE_EXISTING)
     * and a finished one is never started again (REJECT_DUPLICATE), so a deal seen twice yields
     * one workflow and one ERP order.
     */
    async startOrderSagas(input: { dealIds: string[]; approval?: ApprovalLimits; watcher: string }): Promise<{ started: number; alreadyClosed: number }> {
      let started = 0;
      let alreadyClosed = 0;
      for (const dealId of input.dealIds) {
        const outcome = await startOrderSaga(deps.client(), orderWorkflowId(dealId), { dealId, ...(input.approval ? { approval: input.approval } : {}) }, input.watcher);
        if (outcome === 'started') started += 1;
        else alreadyClosed += 1;
      }
      return { started, alreadyClosed };
    },

    async commitWatcherCheckpoint(input: { name: string; cursor: Cursor | null; runId: string }): Promise<void> {
      await deps.store.setCheckpoint(input.name, input.cursor, input.runId);
    },
  };
}

/**
 * Start `orderToCash` under `workflowId` unless it already ran: a running saga is reused
 * ('started', as asked) and a closed one is never started again ('alreadyClosed'). Both deal
 * watchers (HubSpot deals, Salesforce opportunities) start their sagas through this.
 */
export async function startOrderSaga(client: Client, workflowId: string, input: Record<string, unknown>, watcher: string): Promise<'started' | 'alreadyClosed'> {
  try {
    await client.workflow.start('orderToCash', {
      workflowId,
      taskQueue: TASK_QUEUES.orders,
      args: [input],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      memo: { startedBy: watcher },
    });
    return 'started';
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    return 'alreadyClosed';
  }
}

export type WatcherActivities = ReturnType<typeof createWatcherActivities>;
