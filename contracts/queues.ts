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
