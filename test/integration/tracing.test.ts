/**
 * Optional OpenTelemetry tracing (issue 11 item 5): a worker with OTEL_EXPORTER_OTLP_ENDPOINT set
 * runs a small sync on the real dev server and exports over OTLP/HTTP (JSON) to a receiver this
 * test serves on loopback. The received spans form one trace client -> workflow -> activities:
 * StartWorkflow -> RunWorkflow -> StartActivity -> RunActivity for the page steps, with the
 * pipeline and sync ids as attributes. Without the variables nothing is exported.
 */
import { cpSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Client } from '@temporalio/client';
import { TASK_QUEUES } from '../../contracts/queues';
import type { SyncResult } from '../../contracts/sync';
import { seedDemo } from '../../demo/seed';
import { flushTracing, tracingClientInterceptors } from '../../workers/tracing';
import { createSyncWorkers } from '../../workers/worker';
import { ROOT, startDevEnv, type DevEnv } from '../helpers/env';
import { waitFor } from '../helpers/processes';

jest.setTimeout(300_000);

interface Span {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  attributes: Record<string, unknown>;
  service: string;
}

/** A minimal OTLP/HTTP trace receiver (JSON encoding, as @opentelemetry/exporter-trace-otlp-http sends). */
function startReceiver(): Promise<{ url: string; spans: Span[]; requests: { path: string; contentType: string }[]; close(): Promise<void> }> {
  const spans: Span[] = [];
  const requests: { path: string; contentType: string }[] = [];
  const value = (v: Record<string, unknown>): unknown => v.stringValue ?? v.intValue ?? v.boolValue ?? v.doubleValue;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ path: req.url ?? '', contentType: String(req.headers['content-type']) });
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      type Attr = { key: string; value: Record<string, unknown> };
      const doc = JSON.parse(body.toString('utf8')) as {
        resourceSpans: { resource: { attributes: Attr[] }; scopeSpans: { spans: { traceId: string; spanId: string; parentSpanId?: string; name: string; attributes?: Attr[] }[] }[] }[];
      };
      for (const rs of doc.resourceSpans) {
        const service = String(value(rs.resource.attributes.find((a) => a.key === 'service.name')?.value ?? {}));
        for (const ss of rs.scopeSpans)
          for (const s of ss.spans)
            spans.push({ traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId ?? '', name: s.name, service, attributes: Object.fromEntries((s.attributes ?? []).map((a) => [a.key, value(a.value)])) });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans, requests, close: () => new Promise<void>((r) => server.close(() => r())) }),
    ),
  );
}

let env: DevEnv;
let dir: string;
let configDir: string;
let receiver: Awaited<ReturnType<typeof startReceiver>>;

beforeAll(async () => {
  receiver = await startReceiver();
  env = await startDevEnv();
  dir = path.join(env.tmp, 'demo');
  seedDemo(dir, { accounts: 0, contacts: 0, products: 30 });
  configDir = path.join(env.tmp, 'config');
  cpSync(path.join(ROOT, 'config'), configDir, { recursive: true });
  for (const name of ['untraced-products', 'traced-products']) {
    writeFileSync(
      path.join(configDir, 'pipelines', `${name}.json`),
      JSON.stringify({ name, family: 'sql', source: { system: 'demo-crm', entity: 'products' }, target: { system: 'demo-erp', entity: 'products' }, mapping: 'crm-product-to-product', pageSize: 10 }),
    );
  }
});

afterAll(async () => {
  await receiver?.close();
  await env?.teardown();
});

/** One sync of `pipeline` on a worker created with `workerEnv`, started by a client with `clientEnv`'s tracing. */
async function syncWith(pipeline: string, workerEnv: NodeJS.ProcessEnv, clientEnv: NodeJS.ProcessEnv): Promise<SyncResult> {
  const workers = await createSyncWorkers({
    connection: env.nativeConnection,
    namespace: 'default',
    families: ['sql'],
    configDir,
    stateDb: path.join(dir, 'state.db'),
    env: { DEMO_DATA_DIR: dir, ...workerEnv },
    workflowBundle: env.workflowBundle,
  });
  const running = workers.run();
  try {
    const interceptors = tracingClientInterceptors(clientEnv, 'cli');
    const client = new Client({ connection: env.connection, namespace: 'default', ...(interceptors ? { interceptors } : {}) });
    return await client.workflow.execute('syncPipeline', { taskQueue: TASK_QUEUES.sql, workflowId: `tracing-${pipeline}`, args: [{ pipeline }] });
  } finally {
    workers.shutdown();
    await running; // flushes the worker's spans
    await flushTracing(); // and the client's
  }
}

test('with tracing off (no OTEL_* variables) a sync exports nothing', async () => {
  const result = await syncWith('untraced-products', {}, {});
  expect(result.totals.read).toBeGreaterThan(0);
  // The receiver is up and waiting: a worker or client that traced would have sent its spans by now (flushed above).
  expect(receiver.requests).toEqual([]);
  expect(receiver.spans).toEqual([]);
});

test('with OTEL_EXPORTER_OTLP_ENDPOINT a sync is one trace: StartWorkflow -> RunWorkflow -> StartActivity -> RunActivity per page step', async () => {
  const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SERVICE_NAME: 'sync-tracing-test' };
  const result = await syncWith('traced-products', otel, otel);
  expect(result.totals.pages).toBeGreaterThan(2);
  const named = (name: string) => receiver.spans.filter((s) => s.name === name);
  await waitFor(() => named('RunActivity:finishSync').length > 0 && named('RunWorkflow:syncPipeline').length > 0, 'the spans to arrive', 30_000, 100).catch((err: Error) => {
    const counts = receiver.spans.reduce<Record<string, number>>((m, s) => ({ ...m, [s.name]: (m[s.name] ?? 0) + 1 }), {});
    throw new Error(`${err.message}; ${receiver.requests.length} request(s), spans: ${JSON.stringify(counts)}`);
  });

  expect(receiver.requests.every((r) => r.path === '/v1/traces' && r.contentType.startsWith('application/json'))).toBe(true);
  expect(new Set(receiver.spans.map((s) => s.service))).toEqual(new Set(['sync-tracing-test']));

  const [start] = named('StartWorkflow:syncPipeline');
  expect(start).toBeDefined();
  expect(start!.attributes).toMatchObject({ 'sync.pipeline': 'traced-products', temporalWorkflowId: 'tracing-traced-products', temporalWorkflowType: 'syncPipeline' });
  const trace = receiver.spans.filter((s) => s.traceId === start!.traceId);

  const runs = trace.filter((s) => s.name === 'RunWorkflow:syncPipeline');
  expect(runs).toHaveLength(1);
  const run = runs[0]!;
  expect(run.parentSpanId).toBe(start!.spanId);
  expect(run.attributes).toMatchObject({ workflowId: 'tracing-traced-products', workflowType: 'syncPipeline' }); // the SDK's workflow sink adds the workflow's info

  const byId = new Map(trace.map((s) => [s.spanId, s]));
  // Every page is prepared (the last one finds nothing left); each page with records is written.
  expect(trace.filter((s) => s.name === 'RunActivity:preparePage').length).toBeGreaterThanOrEqual(result.totals.pages);
  expect(trace.filter((s) => s.name === 'RunActivity:writePage').length).toBeGreaterThanOrEqual(Math.ceil(result.totals.read / 10));
  for (const step of ['beginSync', 'preparePage', 'writePage', 'finishSync']) {
    const executed = trace.filter((s) => s.name === `RunActivity:${step}`);
    expect(executed.length).toBeGreaterThan(0);
    for (const s of executed) {
      // The activity's span is the child of the workflow's StartActivity span, itself the child of RunWorkflow.
      const scheduled = byId.get(s.parentSpanId);
      expect(scheduled?.name).toBe(`StartActivity:${step}`);
      expect(scheduled?.parentSpanId).toBe(run.spanId);
      expect(s.attributes).toMatchObject({ 'sync.pipeline': 'traced-products', temporalWorkflowId: 'tracing-traced-products' });
      if (step.endsWith('Page')) {
        expect(s.attributes['sync.id']).toBe(result.syncId);
        expect(Number.isInteger(Number(s.attributes['sync.page.seq']))).toBe(true);
      }
    }
  }
  // Every span of the sync is in this one trace (no orphan roots besides the client's start).
  const roots = trace.filter((s) => !byId.has(s.parentSpanId));
  expect(roots.map((s) => s.name)).toEqual(['StartWorkflow:syncPipeline']);
});
