/**
 * The main job on the embedded default: `npm start`.
 * Starts a Temporal dev server if none answers at TEMPORAL_ADDRESS, seeds the demo CRM and ERP
 * (SQLite, deterministic), runs a worker and the demo pipelines with live progress, prints the
 * summary and the Web UI link, and keeps the UI up until Ctrl-C. Run it again after changing
 * CRM rows (or with `-- --touch 100`) and only the changes are synced.
 */
import { Client, WorkflowIdConflictPolicy } from '@temporalio/client';
import { Runtime } from '@temporalio/worker';
import { TASK_QUEUES } from '../contracts/queues';
import { pendingApprovalQuery } from '../contracts/approval';
import { progressQuery, type SyncProgress, type SyncResult } from '../contracts/sync';
import { touchAccounts } from '../demo/seed';
import { startTryton, type TrytonInstance } from '../scripts/tryton';
import { devServerSettings, portAnswers, startDevServer, type DevServer } from '../scripts/dev-server';
import { dataConverterFromEnv } from './codec';
import { parseWorkerEnv, stateStoreLocation } from './config';
import { loadEnvFile } from './env-file';
import { createWorkerLogger } from './logger';
import { gateLines, runGateDemo } from './demo/approval-gate';
import { demoDatabase } from './demo/database';
import { runOrderDemo, trytonEnv } from './demo/order-demo';
import { failureLine } from './demo/outcome';
import { runPairDemo } from './demo/pair-demo';
import { registerDemoSchedules } from './demo/schedules';
import { progressLine, summaryTable } from './demo/progress';
import { missingSearchAttributes } from './search-attributes';
import { connectClient, connectNative } from './temporal-connection';
import { tracingClientInterceptors } from './tracing';
import { createSyncWorkers } from './worker';

const PIPELINES = ['demo-accounts', 'demo-contacts', 'demo-products'];

/** Stops what the demo started outside Temporal (Tryton) when it fails half-way. */
let cleanup: (() => Promise<void>) | null = null;

async function main(): Promise<void> {
  loadEnvFile();
  const env = parseWorkerEnv(process.env);
  const dataDir = env.DEMO_DATA_DIR;
  const touchArg = process.argv.indexOf('--touch');
  const touch = touchArg > 0 ? Number(process.argv[touchArg + 1] ?? 100) : 0;
  const erpArg = process.argv.indexOf('--erp');
  const erp = erpArg > 0 ? process.argv[erpArg + 1] : 'demo';
  if (erp !== 'demo' && erp !== 'tryton') throw new Error(`--erp ${erp ?? ''}: expected "demo" (the default) or "tryton"`);
  const dataConverter = dataConverterFromEnv(process.env); // fails early on a bad key
  Runtime.install({ logger: createWorkerLogger('WARN', env.WORKER_LOG_FORMAT) });

  const [host, portText] = env.temporal.address.split(':');
  let server: DevServer | null = null;
  let uiUrl = process.env.TEMPORAL_UI_URL ?? 'http://127.0.0.1:8233';
  if (!(await portAnswers(Number(portText ?? 7233), host))) {
    const dev = devServerSettings(process.env);
    console.log(`No Temporal server at ${env.temporal.address}: starting a dev server (data in ${dev.dbFile})…`);
    server = await startDevServer({ ...dev, logFile: '.data/temporal.log' });
    uiUrl = server.uiUrl!;
  }

  // SQLite files in DEMO_DATA_DIR, or PostgreSQL with DEMO_DB=postgres://… (workers/demo/database.ts).
  const db = demoDatabase(process.env, dataDir, env.SYNC_CONFIG_DIR);
  if (await db.seed()) console.log(`Seeded demo CRM and ERP in ${db.where} (10,000 accounts, 30,000 contacts, 2,000 products, with defects)`);
  if (touch > 0 && db.kind === 'sqlite') console.log(`Changed ${touchAccounts(dataDir, touch).length} CRM accounts`);
  else if (touch > 0) console.log('--touch edits the SQLite demo only; on PostgreSQL, UPDATE demo_crm.accounts SET …, updated_at = now() by hand');

  const connection = await connectClient(env.temporal);
  const interceptors = tracingClientInterceptors(process.env, 'demo'); // OTEL_EXPORTER_OTLP_ENDPOINT: off by default
  const client = new Client({ connection, namespace: env.temporal.namespace, dataConverter, ...(interceptors ? { interceptors } : {}) });
  const native = await connectNative(env.temporal);
  const missing = await missingSearchAttributes(native, env.temporal.namespace);
  if (missing.length) {
    // A server the demo did not start (e.g. a plain `temporal server start-dev`): register them.
    const types: Record<string, number> = { Keyword: 2, Int: 3 };
    await native.operatorService.addSearchAttributes({
      namespace: env.temporal.namespace,
      searchAttributes: Object.fromEntries(missing.map((m) => m.split('=')).map(([n, t]) => [n!, types[t!] ?? 2])),
    });
    console.log(`Registered search attributes ${missing.join(', ')} on ${env.temporal.address}`);
  }
  let tryton: TrytonInstance | null = null;
  if (erp === 'tryton') {
    console.log('Starting Tryton (scripts/tryton.ts; installs it and builds its database on the first run)…');
    tryton = await startTryton({ log: (m) => console.log(`  [tryton] ${m}`) });
    console.log(`Tryton on ${tryton.url}, database ${tryton.database}`);
  }
  const stopTryton = async () => {
    const t = tryton;
    tryton = null;
    if (t) await t.stop();
  };
  cleanup = stopTryton;
  const sync = await createSyncWorkers({
    connection: native,
    namespace: env.temporal.namespace,
    families: tryton ? ['sql', 'orders'] : ['sql'],
    configDir: db.configDir ?? env.SYNC_CONFIG_DIR,
    mappingsDir: env.SYNC_MAPPINGS_DIR,
    stateDb: stateStoreLocation(env),
    runEventsDays: env.SYNC_RUN_EVENTS_DAYS,
    env: { ...process.env, DEMO_DATA_DIR: dataDir, ...(tryton ? trytonEnv(tryton) : {}) },
    dataConverter,
  });
  const running = sync.run();
  const target = { address: env.temporal.address, namespace: env.temporal.namespace };

  for (const line of (await registerDemoSchedules(client, db.configDir ?? env.SYNC_CONFIG_DIR, uiUrl, env.temporal.namespace)).lines) console.log(line);

  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const handles = await Promise.all(
    PIPELINES.map((pipeline) =>
      client.workflow.start('syncPipeline', {
        taskQueue: TASK_QUEUES.sql,
        workflowId: `demo:${pipeline}:${stamp}`,
        args: [{ pipeline }],
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
      }),
    ),
  );

  const tty = process.stdout.isTTY;
  let lines = 0;
  const gatesShown = new Set<string>();
  const render = async (): Promise<SyncProgress[]> => {
    const ps = await Promise.all(handles.map((h) => h.query(progressQuery).catch(() => null)));
    // A page held at a gate (e.g. a price change left unapproved by an earlier demo): say how to approve it, once.
    for (const [i, p] of ps.entries()) {
      const h = handles[i]!;
      if (p?.status !== 'awaiting-approval' || gatesShown.has(h.workflowId)) continue;
      const pending = (await h.query(pendingApprovalQuery).catch(() => null))?.pending;
      if (!pending) continue;
      gatesShown.add(h.workflowId);
      console.log(gateLines(h.workflowId, pending, target).join('\n'));
      lines = 0;
    }
    const text = ps.filter((p): p is SyncProgress => p !== null).map(progressLine);
    if (tty) {
      if (lines) process.stdout.write(`\x1b[${lines}A`);
      process.stdout.write(text.map((l) => `\x1b[2K${l}\n`).join(''));
      lines = text.length;
    }
    return ps.filter((p): p is SyncProgress => p !== null);
  };
  const timer = setInterval(() => void render(), tty ? 200 : 2000);
  let settled: PromiseSettledResult<SyncResult>[];
  try {
    settled = await Promise.allSettled(handles.map((h) => h.result() as Promise<SyncResult>));
  } finally {
    clearInterval(timer);
  }
  if (tty) await render();

  const results = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  console.log(`\n${summaryTable(results)}\n`);
  settled.forEach((s, i) => {
    if (s.status === 'rejected') console.log(failureLine(PIPELINES[i]!, handles[i]!.workflowId, s.reason));
  });
  for (const r of results) {
    const q = await sync.store.listQuarantine(r.pipeline, 3);
    for (const e of q) console.log(`  quarantined ${r.pipeline} #${e.sourceKey}: ${e.reason}`);
  }
  console.log('');
  // The two-way part and the approval gate edit the SQLite demo rows directly.
  if (db.kind === 'sqlite') {
    try {
      for (const line of await runPairDemo(client, dataDir, stamp)) console.log(line);
    } catch (err) {
      console.log(failureLine('pair demo-customers', `demo:pair:demo-customers:${stamp}`, err));
    }
    console.log('');
    const gate = await runGateDemo(client, dataDir, stamp, target);
    if (gate) {
      for (const line of gate.lines) console.log(line);
      void gate.outcome.then((line) => console.log(`\n${line}`));
    }
  } else {
    console.log('(the two-way pair and the approval gate demos edit the SQLite demo rows; skipped with DEMO_DB=postgres)');
  }
  if (tryton) {
    console.log('');
    try {
      await runOrderDemo(client, dataDir, tryton, (line) => console.log(line));
    } catch (err) {
      console.log(failureLine('order to cash', 'order-to-cash', err));
    }
  }
  console.log(`\nWeb UI: ${uiUrl}/namespaces/${env.temporal.namespace}/workflows?query=${encodeURIComponent('SyncPipeline STARTS_WITH "demo-"')}`);
  console.log(`Start one yourself: temporal workflow start --type syncPipeline --task-queue ${TASK_QUEUES.sql} --input '{"pipeline":"demo-accounts"}'`);
  console.log(`  or the pair:      temporal workflow start --type syncPair --task-queue ${TASK_QUEUES.sql} --input '{"pair":"demo-customers"}'`);
  console.log(`  (the pinned CLI: export PATH="$(npm run -s temporal:cli -- --bin-dir):$PATH", or npm run temporal:cli -- workflow start …)`);
  console.log('The worker keeps serving; Ctrl-C stops it' + (server ? ' and the dev server.' : '.'));

  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  sync.shutdown();
  await running;
  await native.close();
  await connection.close();
  await stopTryton();
  if (server) await server.stop();
}

main().catch(async (err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  await cleanup?.().catch(() => undefined);
  process.exit(1);
});
