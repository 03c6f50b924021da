import path from 'node:path';
import { z } from 'zod';
import { PIPELINE_FAMILIES, type PipelineFamily } from '../contracts/queues';

/** Booleans from the environment: only these spellings, so `"false"` can never mean true. */
const envBool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => ['true', '1', 'yes'].includes(v));

/** Worker configuration from the environment, documented in .env.example. */
export const WorkerEnvSchema = z.object({
  TEMPORAL_ADDRESS: z.string().default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().default('default'),
  /** Comma-separated pipeline families this worker serves (a task queue each). */
  WORKER_FAMILIES: z
    .string()
    .default('sql')
    .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
    .pipe(z.array(z.enum(PIPELINE_FAMILIES as [PipelineFamily, ...PipelineFamily[]], { error: `expected families among ${PIPELINE_FAMILIES.join(', ')}` })).min(1)),
  /** Folder with systems.json and pipelines/. */
  SYNC_CONFIG_DIR: z.string().default('config'),
  /** Folder with mapping definitions. */
  SYNC_MAPPINGS_DIR: z.string().default('mappings/definitions'),
  /** Issuers trusted for signed approval decisions. @default `$SYNC_CONFIG_DIR/approval-issuers.json` */
  APPROVAL_ISSUERS_FILE: z.string().min(1).optional(),
  /** Folder of the demo CRM/ERP (config/systems.json reads it too). */
  DEMO_DATA_DIR: z.string().min(1).default('.data/demo'),
  /** SQLite file of the embedded state store. @default `$DEMO_DATA_DIR/state.db`, for `npm start` and `npm run worker` alike. */
  SYNC_STATE_DB: z.string().min(1).optional(),
  WORKER_MAX_CONCURRENT_ACTIVITIES: z.coerce.number().int().min(1).default(20),
  /** Seconds running activities get to finish on SIGTERM/SIGINT before they are cancelled. */
  WORKER_SHUTDOWN_GRACE_SECONDS: z.coerce.number().int().min(0).default(10),
  WORKER_LOG_LEVEL: z.enum(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR']).default('INFO'),
  /** `text`: one readable line per event; `json`: one JSON object per line, for log shippers. */
  WORKER_LOG_FORMAT: z.enum(['text', 'json'], { error: 'expected "text" or "json"' }).default('text'),
  /** host:port of the worker's Prometheus endpoint (`/metrics`), e.g. 0.0.0.0:9464 for a scraper elsewhere. */
  WORKER_PROMETHEUS_ADDRESS: z.string().regex(/^[^:\s]+:\d+$/, 'expected host:port, e.g. 127.0.0.1:9464').optional(),
  /** Shorthand: serve the Prometheus endpoint on 127.0.0.1:<port> (WORKER_PROMETHEUS_ADDRESS wins when both are set). */
  WORKER_METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  /** How often a worker with metrics counts the syncs waiting for approval (crm_erp_sync_approvals_waiting). */
  WORKER_APPROVALS_POLL_SECONDS: z.coerce.number().min(0.2).default(30),
  TEMPORAL_TLS: envBool.default(false),
});
export type WorkerEnv = Omit<z.infer<typeof WorkerEnvSchema>, 'SYNC_STATE_DB'> & { SYNC_STATE_DB: string };

/** Where the worker serves Prometheus metrics, or null when metrics are off (the default). */
export function metricsAddress(env: Pick<WorkerEnv, 'WORKER_PROMETHEUS_ADDRESS' | 'WORKER_METRICS_PORT'>): string | null {
  return env.WORKER_PROMETHEUS_ADDRESS ?? (env.WORKER_METRICS_PORT ? `127.0.0.1:${env.WORKER_METRICS_PORT}` : null);
}

/** The state store's default: beside the demo data it binds, one file for the demo and the worker. */
export function defaultStateDb(demoDataDir: string): string {
  return path.join(demoDataDir, 'state.db');
}

export function parseWorkerEnv(env: NodeJS.ProcessEnv): WorkerEnv {
  const r = WorkerEnvSchema.safeParse(env);
  if (r.success) return { ...r.data, SYNC_STATE_DB: r.data.SYNC_STATE_DB ?? defaultStateDb(r.data.DEMO_DATA_DIR) };
  const lines = r.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
  throw new Error(`invalid worker environment (see .env.example):\n${lines.join('\n')}`);
}
