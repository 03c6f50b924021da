import path from 'node:path';
import { z } from 'zod';
import { PIPELINE_FAMILIES, type PipelineFamily } from '../contracts/queues';
import { isPostgresUrl } from '../state/location';
import { parseTemporalEnv, TemporalEnvError, type TemporalConnectionConfig } from './temporal-connection';

/**
 * Worker configuration from the environment, documented in .env.example. The Temporal
 * connection (TEMPORAL_*) is parsed by workers/temporal-connection.ts, into `temporal`.
 */
export const WorkerEnvSchema = z.object({
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
  /**
   * The shared PostgreSQL state store for workers on several hosts, `postgres://user:password@host:port/database`
   * (the password is a secret: it never appears in logs or errors). Unset: the SQLite file of SYNC_STATE_DB.
   */
  SYNC_STATE_URL: z
    .string()
    .refine((v) => isPostgresUrl(v) && URL.canParse(v), {
      error: 'expected a PostgreSQL URL, postgres://user:password@host:5432/database (percent-encode special characters in the password); unset it to use the SQLite file of SYNC_STATE_DB',
    })
    .optional(),
  WORKER_MAX_CONCURRENT_ACTIVITIES: z.coerce.number().int().min(1).default(20),
  /** Seconds running activities get to finish on SIGTERM/SIGINT before they are cancelled. */
  WORKER_SHUTDOWN_GRACE_SECONDS: z.coerce.number().int().min(0).default(10),
  WORKER_LOG_LEVEL: z.enum(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR']).default('INFO'),
  /** `text`: one readable line per event; `json`: one JSON object per line, for log shippers. */
  WORKER_LOG_FORMAT: z.enum(['text', 'json'], { error: 'expected "text" or "json"' }).default('text'),
  WORKER_PROMETHEUS_ADDRESS: z.string().regex(/^[^:\s]+:\d+$/, 'expected host:port, e.g. 127.0.0.1:9464').optional(),
  /** Loopback port of the health endpoint (/healthz, /readyz); unset = none. */
  WORKER_HEALTH_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  /** Address the health endpoint listens on; a process manager or load balancer on another host needs 0.0.0.0. */
  WORKER_HEALTH_HOST: z.string().min(1).default('127.0.0.1'),
  /** Shorthand: serve the Prometheus endpoint on 127.0.0.1:<port> (WORKER_PROMETHEUS_ADDRESS wins when both are set). */
  WORKER_METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  /** Days the state store keeps run events (the detail of run reports); older ones are dropped at open and hourly. 0 keeps them forever. */
  SYNC_RUN_EVENTS_DAYS: z.coerce.number().min(0, 'expected a number of days, 0 (keep forever) or more').default(30),
  /** How often a worker with metrics counts the syncs waiting for approval (crm_erp_sync_approvals_waiting). */
  WORKER_APPROVALS_POLL_SECONDS: z.coerce.number().min(0.2).default(30),
  /** A prebuilt workflow bundle (`npm run build:workflows`): no bundling at start; refused when stale. Unset: bundle at start. */
  WORKFLOW_BUNDLE_PATH: z.string().min(1).optional(),
});
export type WorkerEnv = Omit<z.infer<typeof WorkerEnvSchema>, 'SYNC_STATE_DB'> & { SYNC_STATE_DB: string; temporal: TemporalConnectionConfig };

/** Where the worker serves Prometheus metrics, or null when metrics are off (the default). */
export function metricsAddress(env: Pick<WorkerEnv, 'WORKER_PROMETHEUS_ADDRESS' | 'WORKER_METRICS_PORT'>): string | null {
  return env.WORKER_PROMETHEUS_ADDRESS ?? (env.WORKER_METRICS_PORT ? `127.0.0.1:${env.WORKER_METRICS_PORT}` : null);
}

/** The state store's default: beside the demo data it binds, one file for the demo and the worker. */
export function defaultStateDb(demoDataDir: string): string {
  return path.join(demoDataDir, 'state.db');
}

/** Where the worker keeps its state: SYNC_STATE_URL (PostgreSQL) when set, else the SQLite file of SYNC_STATE_DB. */
export function stateStoreLocation(env: WorkerEnv): string {
  return env.SYNC_STATE_URL ?? env.SYNC_STATE_DB;
}

export function parseWorkerEnv(env: NodeJS.ProcessEnv): WorkerEnv {
  const r = WorkerEnvSchema.superRefine((v, ctx) => {
    if (v.SYNC_STATE_URL !== undefined && v.SYNC_STATE_DB !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['SYNC_STATE_DB'], message: 'set either SYNC_STATE_URL (PostgreSQL) or SYNC_STATE_DB (a SQLite file), not both' });
    }
  }).safeParse(env);
  const lines = r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  let temporal: TemporalConnectionConfig | undefined;
  try {
    temporal = parseTemporalEnv(env);
  } catch (err) {
    if (!(err instanceof TemporalEnvError)) throw err;
    lines.push(...err.problems);
  }
  if (r.success && temporal) return { ...r.data, SYNC_STATE_DB: r.data.SYNC_STATE_DB ?? defaultStateDb(r.data.DEMO_DATA_DIR), temporal };
  throw new Error(`invalid worker environment (see .env.example):\n${lines.map((l) => `  ${l}`).join('\n')}`);
}
