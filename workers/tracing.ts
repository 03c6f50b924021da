/**
 * Optional OpenTelemetry tracing through the SDK's interceptors package
 * (`@temporalio/interceptors-opentelemetry`): a client's StartWorkflow span is the parent of the
 * workflow's RunWorkflow span, whose StartActivity spans are the parents of the RunActivity spans
 * on the workers. Off by default; on when the standard OTLP variables name an endpoint:
 *
 * - `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (the full URL, e.g. http://127.0.0.1:4318/v1/traces) or
 *   `OTEL_EXPORTER_OTLP_ENDPOINT` (the base URL; `/v1/traces` is appended), OTLP over HTTP (JSON);
 * - `OTEL_SERVICE_NAME` (default `crm-erp-sync-<role>`: worker, cli, demo, approvals);
 * - `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none` turn it off again.
 *
 * Only this module (with workers/worker.ts) knows about OpenTelemetry; workflows get the package's
 * own workflow interceptors in their bundle only when tracing is on, so the default bundle is as it was.
 */
import * as otel from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { ClientInterceptors, Next, WorkflowClientInterceptor, WorkflowStartInput, WorkflowStartOutput } from '@temporalio/client';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  OpenTelemetryWorkflowClientInterceptor,
} from '@temporalio/interceptors-opentelemetry';
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, ActivityInterceptorsFactory, WorkerOptions } from '@temporalio/worker';
import { z } from 'zod';

/** The workflow interceptor modules bundled with `workflows/` when tracing is on. */
export const TRACING_WORKFLOW_MODULES: string[] = [require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors')];

/** Span attributes this project adds (besides the SDK's temporalWorkflowId, run_id, temporalActivityId). */
export const SPAN_ATTRIBUTES = { pipeline: 'sync.pipeline', pair: 'sync.pair', syncId: 'sync.id', seq: 'sync.page.seq', workflowType: 'temporalWorkflowType' } as const;

const url = (name: string) =>
  z
    .string()
    .trim()
    .url(`${name}: expected an http(s) URL such as http://127.0.0.1:4318 (an OTLP/HTTP collector; unset it to turn tracing off)`)
    .refine((u) => /^https?:\/\//.test(u), `${name}: only OTLP over HTTP is supported here: use an http:// or https:// URL (the collector's port 4318)`)
    .optional();

const TracingEnvSchema = z.object({
  OTEL_EXPORTER_OTLP_ENDPOINT: url('OTEL_EXPORTER_OTLP_ENDPOINT'),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: url('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'),
  OTEL_SERVICE_NAME: z.string().trim().min(1).optional(),
  OTEL_SDK_DISABLED: z.string().optional(),
  OTEL_TRACES_EXPORTER: z.string().optional(),
});

export interface TracingSettings {
  /** Where spans are sent (OTLP/HTTP, JSON). */
  url: string;
  serviceName: string;
}

/** The tracing settings of `env`, or null (off). A malformed endpoint throws naming the variable. */
export function tracingSettings(env: NodeJS.ProcessEnv, role: string): TracingSettings | null {
  const parsed = TracingEnvSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== '')));
  if (!parsed.success) throw new Error(`tracing: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  const e = parsed.data;
  if (e.OTEL_SDK_DISABLED?.toLowerCase() === 'true' || e.OTEL_TRACES_EXPORTER?.toLowerCase() === 'none') return null;
  const target = e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? (e.OTEL_EXPORTER_OTLP_ENDPOINT ? `${e.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces` : undefined);
  if (!target) return null;
  return { url: target, serviceName: e.OTEL_SERVICE_NAME ?? `crm-erp-sync-${role}` };
}

export interface Tracing {
  settings: TracingSettings;
  resource: Resource;
  processor: SpanProcessor;
  /** Send what is buffered now (a process ending, a test asserting). */
  flush(): Promise<void>;
}

let current: Tracing | null = null;

/**
 * Start tracing for this process when `env` turns it on (null: off). The tracer provider is
 * registered once per process (W3C trace context, async-hooks context); later calls return it.
 */
export function startTracing(env: NodeJS.ProcessEnv, role: string): Tracing | null {
  const settings = tracingSettings(env, role);
  if (!settings) return null;
  if (current) return current;
  const resource = new Resource({ 'service.name': settings.serviceName });
  const processor = new BatchSpanProcessor(new OTLPTraceExporter({ url: settings.url }), { scheduledDelayMillis: 1000 });
  const provider = new NodeTracerProvider({ resource, spanProcessors: [processor] });
  provider.register();
  current = { settings, resource, processor, flush: () => provider.forceFlush() };
  return current;
}

/** Flush the process's spans when tracing was started (no-op otherwise). */
export async function flushTracing(): Promise<void> {
  await current?.flush();
}

/** Interceptors for a Client that starts workflows (CLI, demo, watchers, approvals): undefined when tracing is off. */
export function tracingClientInterceptors(env: NodeJS.ProcessEnv, role: string): ClientInterceptors | undefined {
  return startTracing(env, role) ? { workflow: [new OpenTelemetryWorkflowClientInterceptor(), new SyncSpanClientInterceptor()] } : undefined;
}

/** Worker options that trace activities and export the workflows' spans (through the SDK's sink). */
export function tracingWorkerOptions(t: Tracing): { interceptors: { activity: ActivityInterceptorsFactory[]; workflowModules: string[] }; sinks: WorkerOptions['sinks'] } {
  return {
    interceptors: {
      activity: [
        (ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx), outbound: new OpenTelemetryActivityOutboundInterceptor(ctx) }),
        () => ({ inbound: new SyncSpanActivityInterceptor() }),
      ],
      workflowModules: TRACING_WORKFLOW_MODULES,
    },
    sinks: { exporter: makeWorkflowExporter(t.processor, t.resource) },
  };
}

/** The sync ids an activity or workflow input carries (PageRef, SyncInput, PairSyncInput …), as span attributes. */
export function syncAttributes(arg: unknown): otel.Attributes {
  if (typeof arg !== 'object' || arg === null) return {};
  const a = arg as Record<string, unknown>;
  const out: otel.Attributes = {};
  if (typeof a.pipeline === 'string') out[SPAN_ATTRIBUTES.pipeline] = a.pipeline;
  if (typeof a.pair === 'string') out[SPAN_ATTRIBUTES.pair] = a.pair;
  if (typeof a.syncId === 'string') out[SPAN_ATTRIBUTES.syncId] = a.syncId;
  if (typeof a.seq === 'number') out[SPAN_ATTRIBUTES.seq] = a.seq;
  return out;
}

/** Runs inside the SDK's RunActivity span: names the pipeline, sync and page on it. */
class SyncSpanActivityInterceptor implements ActivityInboundCallsInterceptor {
  async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    otel.trace.getActiveSpan()?.setAttributes(syncAttributes(input.args[0]));
    return next(input);
  }
}

/** Runs inside the SDK's StartWorkflow span: names the workflow type and the pipeline or pair started. */
class SyncSpanClientInterceptor implements WorkflowClientInterceptor {
  private mark(input: WorkflowStartInput): void {
    otel.trace.getActiveSpan()?.setAttributes({ [SPAN_ATTRIBUTES.workflowType]: input.workflowType, ...syncAttributes(input.options.args?.[0]) });
  }
  async start(input: WorkflowStartInput, next: Next<WorkflowClientInterceptor, 'start'>): Promise<string> {
    this.mark(input);
    return next(input);
  }
  async startWithDetails(input: WorkflowStartInput, next: Next<WorkflowClientInterceptor, 'startWithDetails'>): Promise<WorkflowStartOutput> {
    this.mark(input);
    return next(input);
  }
}
