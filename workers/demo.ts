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
import { progressQuery, type SyncProgress, type SyncResult } from '../contracts/sync';
import { touchAccounts } from '../demo/seed';
import { devServerSettings, portAnswers, startDevServer, type DevServer } from '../scripts/dev-server';
import { dataConverterFromEnv } from './codec';
import { parseWorkerEnv, stateStoreLocation } from './config';
import { loadEnvFile } from './env-file';
import { createWorkerLogger } from './logger';
import { demoDatabase } from './demo/database';
import { runPairDemo } from './demo/pair-demo';
import { progressLine, summaryTable } from './demo/progress';
import { missingSearchAttributes } from './search-attributes';
import { connectClient, connectNative } from './temporal-connection';
import { createSyncWorkers } from './worker';

const PIPELINES = ['demo-accounts', 'demo-contacts', 'demo-products'];

async function main(): Promise<void> {
  loadEnvFile();
  const env = parseWorkerEnv(process.env);
  const dataDir = env.DEMO_DATA_DIR;
  const touchArg = process.argv.indexOf('--touch');
  const touch = touchArg > 0 ? Number(process.argv[touchArg + 1] ?? 100) : 0;
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
  const client = new Client({ connection, namespace: env.temporal.namespace, dataConverter });
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
  const sync = await createSyncWorkers({
    connection: native,
    namespace: env.temporal.namespace,
    families: ['sql'],
    configDir: db.configDir ?? env.SYNC_CONFIG_DIR,
    mappingsDir: env.SYNC_MAPPINGS_DIR,
    stateDb: stateStoreLocation(env),
    env: { ...process.env, DEMO_DATA_DIR: dataDir },
    dataConverter,
  });
  const running = sync.run();

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
  const render = async (): Promise<SyncProgress[]> => {
    const ps = await Promise.all(handles.map((h) => h.query(progressQuery).catch(() => null)));
    const text = ps.filter((p): p is SyncProgress => p !== null).map(progressLine);
    if (tty) {
      if (lines) process.stdout.write(`\x1b[${lines}A`);
      process.stdout.write(text.map((l) => `\x1b[2K${l}\n`).join(''));
      lines = text.length;
    }
    return ps.filter((p): p is SyncProgress => p !== null);
  };
  const timer = setInterval(() => void render(), tty ? 200 : 2000);
  let results: SyncResult[];
  try {
    results = (await Promise.all(handles.map((h) => h.result()))) as SyncResult[];
  } finally {
    clearInterval(timer);
  }
  if (tty) await render();

  console.log(`\n${summaryTable(results)}\n`);
  for (const r of results) {
    const q = await sync.store.listQuarantine(r.pipeline, 3);
    for (const e of q) console.log(`  quarantined ${r.pipeline} #${e.sourceKey}: ${e.reason}`);
  }
  console.log('');
  // The two-way part edits the SQLite demo rows directly.
  if (db.kind === 'sqlite') for (const line of await runPairDemo(client, dataDir, stamp)) console.log(line);
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
  if (server) await server.stop();
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
