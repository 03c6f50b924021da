import type { Client } from '@temporalio/client';
import type { Connector } from '../contracts/connector';
import type { Cursor } from '../contracts/cursor';
import { SyncError } from '../contracts/errors';
import { crmOrderWorkflowId, type ApprovalLimits } from '../contracts/orders';
import type { OrderCrm } from '../pipelines/order-crms';
import type { StateStore } from '../state/types';
import { startOrderSaga } from './orders-watcher';

export interface OpportunityWatcherDeps {
  /** config/order-crms.json by name. */
  crms(): Map<string, OrderCrm>;
  connector(system: string): Connector;
  store: StateStore;
  client(): Client;
}

/**
 * Activities of the `opportunityWatcher` workflow: read changed opportunities after the
 * checkpoint (the connector's incremental read), keep the won ones, start their sagas.
 */
export function createOpportunityWatcherActivities(deps: OpportunityWatcherDeps) {
  const crmOf = (name: string): OrderCrm => {
    const crm = deps.crms().get(name);
    if (!crm) throw new SyncError('ConfigError', `no CRM "${name}" in config/order-crms.json (known: ${[...deps.crms().keys()].join(', ') || 'none'})`, { field: 'crm' });
    return crm;
  };
  return {
    async loadOpportunityCheckpoint(input: { name: string }): Promise<Cursor | null> {
      return deps.store.getCheckpoint(input.name);
    },

    /** One page of opportunities changed after the cursor; the ids of those in the won stage. */
    async fetchWonOpportunities(input: { crm: string; after: Cursor | null; limit: number }): Promise<{ read: number; wonIds: string[]; nextCursor: Cursor | null; hasMore: boolean }> {
      const crm = crmOf(input.crm);
      const page = await deps.connector(crm.system).fetchChanges(crm.entities.deals, { after: input.after, limit: input.limit });
      const wonIds = page.records.filter((r) => !r.deleted && r.data.StageName === crm.wonStage).map((r) => r.key);
      return { read: page.records.length, wonIds, nextCursor: page.nextCursor, hasMore: page.hasMore };
    },

    /**
     * One `orderToCash` per won opportunity, workflow id `order-to-cash:<crm>:<id>`: a running
     * saga is reused and a finished one never started again, so an opportunity seen twice
     * (edited after it was won, or read by two watchers) yields one saga and one ERP order.
     */
    async startOpportunitySagas(input: { crm: string; ids: string[]; approval?: ApprovalLimits; watcher: string }): Promise<{ started: number; alreadyClosed: number }> {
      crmOf(input.crm);
      let started = 0;
      let alreadyClosed = 0;
      for (const dealId of input.ids) {
        const outcome = await startOrderSaga(deps.client(), crmOrderWorkflowId(input.crm, dealId), { dealId, crm: input.crm, ...(input.approval ? { approval: input.approval } : {}) }, input.watcher);
        if (outcome === 'started') started += 1;
        else alreadyClosed += 1;
      }
      return { started, alreadyClosed };
    },

    async commitOpportunityCheckpoint(input: { name: string; cursor: Cursor | null; runId: string }): Promise<void> {
      await deps.store.setCheckpoint(input.name, input.cursor, input.runId);
    },
  };
}

export type OpportunityWatcherActivities = ReturnType<typeof createOpportunityWatcherActivities>;
