/** The worker's workflowsPath: every workflow type the project registers. */
export { syncPipeline } from './sync-pipeline';
export { syncPair } from './sync-pair';
export { reconcilePair } from './reconcile-pair';
export { orderToCash } from './order-to-cash';
export { dealWatcher } from './order-to-cash-watcher';
export { replayQuarantine } from './replay-quarantine';
export { approvalWaitingAlert } from './alerts';
export { opportunityWatcher } from './opportunity-watcher';
export { applyPlan } from './apply-plan';
export { applyPairPlan } from './apply-pair-plan';
