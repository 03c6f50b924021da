/** One task queue per pipeline family, so each family's workers scale and throttle on their own. */
export const TASK_QUEUES = {
  /** Pipelines between SQL databases (the embedded demo CRM and ERP). */
  sql: 'crm-erp-sync.sql',
  /** Pipelines that read or write Tryton. */
  tryton: 'crm-erp-sync.tryton',
  /** Pipelines that read or write HubSpot. */
  hubspot: 'crm-erp-sync.hubspot',
  /** Pipelines that read or write Salesforce. */
  salesforce: 'crm-erp-sync.salesforce',
  /** Long-running order-to-cash sagas. */
  orders: 'crm-erp-sync.orders',
} as const;
export type PipelineFamily = keyof typeof TASK_QUEUES;
export const PIPELINE_FAMILIES = Object.keys(TASK_QUEUES) as PipelineFamily[];

const WORKER_QUEUE_INFIX = '.worker.';

/**
 * A worker process's own task queue for a family (the worker-specific task queue pattern): the
 * write of a page goes to the worker that prepared it and holds it in memory. Served only by that
 * process; when it is gone, the activity times out before it starts and the workflow writes the
 * page on the family's queue from its claim check.
 */
export function workerQueue(family: PipelineFamily, workerId: string): string {
  return `${TASK_QUEUES[family]}${WORKER_QUEUE_INFIX}${workerId}`;
}

/** Whether `queue` is one of the worker-specific queues of {@link workerQueue}. */
export function isWorkerQueue(queue: string): boolean {
  return Object.values(TASK_QUEUES).some((q) => queue.startsWith(`${q}${WORKER_QUEUE_INFIX}`) && queue.length > q.length + WORKER_QUEUE_INFIX.length);
}
