/**
 * Worker-level metrics beside the ones the activities emit (activities/observe.ts): how many
 * syncs wait for an approval, counted through Temporal visibility every few seconds, so that
 * the number is right whichever worker ran the gate (every worker with metrics reports it).
 */
import type { Client } from '@temporalio/client';
import { Runtime } from '@temporalio/worker';
import { METRICS } from '../activities/observe';
import { SA_STATUS } from '../contracts/search-attributes';

export const APPROVALS_WAITING_QUERY = `${SA_STATUS.name} = 'awaiting-approval' AND ExecutionStatus = 'Running'`;

/** Poll the number of syncs awaiting approval into a gauge; returns a stop function. */
export function startApprovalsGauge(client: Client, everyMs: number, onError: (err: Error) => void = () => undefined): () => void {
  const gauge = Runtime.instance().metricMeter.createGauge(METRICS.approvalsWaiting, 'int', '1', 'Syncs waiting for an approval decision');
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = async () => {
    try {
      const { count } = await client.workflow.count(APPROVALS_WAITING_QUERY);
      gauge.set(count, { namespace: client.options.namespace });
    } catch (err) {
      if (!stopped) onError(err as Error);
    }
    if (!stopped) timer = setTimeout(() => void tick(), everyMs);
  };
  void tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
