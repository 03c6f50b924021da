import { withAttempts } from './attempt';
import { createAlertActivities, type AlertSettings } from './alerts';
import { createApprovalTokenActivities, type ApprovalTokenDeps } from './approval-token';
import { withFailureTranslation } from './failures';
import { createOrderActivities, type OrdersDeps } from './orders';
import { createWatcherActivities, type WatcherDeps } from './orders-watcher';
import { createOpportunityWatcherActivities, type OpportunityWatcherDeps } from './opportunity-watcher';
import { createPairActivities } from './pair';
import { createPairPlanActivities } from './pair-plan';
import { createPlanActivities } from './plan-store';
import { createReconcileActivities } from './reconcile';
import { withObservation } from './observe';
import { createSyncActivities, type SyncDeps } from './sync';

export type { SyncDeps } from './sync';
export type { OrdersDeps } from './orders';
export type { WatcherDeps } from './orders-watcher';
export type { ApprovalKeyring, ApprovalTokenDeps } from './approval-token';

export interface ActivityDeps extends SyncDeps, ApprovalTokenDeps {
  /** The order-to-cash saga's ERP and CRM (resolved lazily). */
  orders?: OrdersDeps;
  /** The deal watcher's CRM, checkpoint store and Temporal client. */
  watcher?: WatcherDeps;
  /** The opportunity watcher's CRMs (config/order-crms.json), connectors, store and client. */
  opportunityWatcher?: OpportunityWatcherDeps;
  /** Alert rules and webhook (config/alerts.json); absent: alerts off. */
  alerts?: AlertSettings | null;
}

/** All activities, built over injected connectors and state store (called only by workers). */
export function createActivities(deps: ActivityDeps) {
  return withFailureTranslation({
    // Pair and reconcile results carry the attempt of a retry (the workflows count retries).
    ...withObservation({ ...createSyncActivities(deps), ...withAttempts(createPairActivities(deps)) }, deps),
    ...createPlanActivities(deps),
    ...createPairPlanActivities(deps),
    ...createApprovalTokenActivities(deps),
    ...createAlertActivities(deps),
    ...withAttempts(createReconcileActivities(deps)),
    ...(deps.orders ? createOrderActivities(deps.orders) : {}),
    ...(deps.watcher ? createWatcherActivities(deps.watcher) : {}),
    ...(deps.opportunityWatcher ? createOpportunityWatcherActivities(deps.opportunityWatcher) : {}),
  });
}

export type Activities = ReturnType<typeof createActivities>;
