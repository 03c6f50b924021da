import { log, patched, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { ALERT } from './options';

const alerting = proxyActivities<Activities>(ALERT);

/** Marks histories whose syncs check alert rules when they finish (older ones replay without). */
export const ALERTS_PATCH = 'alerts-on-finish';

/**
 * After the run report is saved: the alert rules of config/alerts.json (failed sync, quarantine
 * past its threshold, nothing read where there usually is). An alert that cannot be sent after
 * its retries is logged; it never changes the sync's outcome.
 */
export async function alertOnFinish(input: { pipeline: string; syncId: string; status: string; totals: Record<string, number> }): Promise<void> {
  if (!patched(ALERTS_PATCH)) return;
  try {
    await alerting.checkAlerts(input);
  } catch (err) {
    log.warn('alerts not sent', { pipeline: input.pipeline, error: err instanceof Error ? err.message : String(err) });
  }
}

export interface ApprovalWaitingAlertInput {
  pipeline: string;
  syncId: string;
  gate: string;
  requestedAt: string;
  summary: string;
  approvers: string[];
}

/**
 * One alert about an approval that waits too long, started by a worker's approvals watch
 * (workers/alert-watch.ts) with a workflow id per gate and plan, so it is sent once whichever
 * worker saw it first; the activity retries while the webhook is down.
 */
export async function approvalWaitingAlert(input: ApprovalWaitingAlertInput): Promise<{ sent: string[] }> {
  return alerting.alertApprovalWaiting(input);
}
