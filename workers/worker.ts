import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { bundleWorkflowCode, DefaultLogger, type NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities';
import { MapPool, mapThreadsFromEnv } from '../activities/map-pool';
import type { AlertSettings } from '../activities/alerts';
import type { OrdersErp } from '../activities/orders';
import { DealsDb } from '../activities/orders-crm';
import { salesforceOrdersCrm } from '../activities/orders-salesforce';
import { loadOrderCrms } from '../pipelines/order-crms';
import { SyncError } from '../contracts/errors';
import { TASK_QUEUES, workerQueue, type PipelineFamily } from '../contracts/queues';
import { ConnectorPool, loadRegistry, PROJECT_CONFIG, type ConnectorOverride, type Registry } from '../pipelines/load';
import { openStateStore } from '../state/open';
import type { StateStore } from '../state/types';
import { loadAlertSettings } from './alerts-config';
import { startApprovalAlertWatch } from './alert-watch';
import { loadApprovalKeyring } from './approval-issuers';
import { dataConverterFromEnv } from './codec';
import { migrateKeyPrefixes, type KeyPrefixMigration } from './key-prefixes';
import { migrateBindingsToLinks, type LinkMigration } from './migrate-links';
import { flushTracing, startTracing, tracingClientInterceptors, tracingWorkerOptions } from './tracing';

export interface SyncWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  families: PipelineFamily[];
  /** @default PROJECT_CONFIG.configDir */
  configDir?: string;
  /** @default PROJECT_CONFIG.mappingsDir */
  mappingsDir?: string;
  /** The state store: a SQLite file, or a `postgres://` URL (several workers on several hosts). */
  stateDb: string;
  /** Days run events are kept (SYNC_RUN_EVENTS_DAYS). @default 30 */
  runEventsDays?: number;
  env: NodeJS.ProcessEnv;
  maxConcurrentActivities?: number;
  shutdownGraceSeconds?: number;
  /** A prebuilt workflow bundle (tests bundle once per suite); default: bundle from source. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Where the order-to-cash saga and the deal watcher find the CRM and the ERP. */
  orders?: OrdersWiring;
  /**
   * Issuers trusted for signed approval decisions and where their keys are.
   * @default `<configDir>/approval-issuers.json` (none trusted when the file does not exist)
   */
  approvalIssuersFile?: string;
  /** Alert rules (default `<configDir>/alerts.json`; no file: alerts off); the webhook URL comes from `env`. */
  alertsFile?: string;
  /** How often the approvals watch looks for long waits (approvalWaitingLongerThan). @default 30 */
  approvalsPollSeconds?: number;
  /** Payload codec etc.; default: from `env` (SYNC_CODEC_KEYS / SYNC_CODEC_KEYS_FILE, see workers/codec.ts). */
  dataConverter?: DataConverter;
  /** Build some systems' connectors differently (fault-injection tests); default: from config. */
  createConnector?: ConnectorOverride;
  /** Threads that map pages beside the worker's own (0: none). @default SYNC_MAP_THREADS, else the cores beside one, at most 2 */
  mapThreads?: number;
}

export interface OrdersWiring {
  /** A sql system of config/systems.json holding the deals tables. @default "demo-crm" */
  crmSystem?: string;
  /** The ERP system (a Tryton connector). @default "tryton" */
  erpSystem?: string;
  /** Use this ERP instead of the configured one (tests). */
  erp?: OrdersErp;
  /** Use this CRM SQLite file instead of the configured one (tests). */
  crmPath?: string;
  /** CRMs with deals besides the demo CRM (Salesforce). @default `<configDir>/order-crms.json` */
  crmsFile?: string;
}

export interface SyncWorkers {
  workers: Worker[];
  registry: Registry;
  /** The mapping threads (activities/map-pool.ts). */
  mapper: MapPool;
  store: StateStore;
  /** Targets brought into their source's key prefix at this start (usually none). */
  keyMigrations: KeyPrefixMigration[];
  /** One-way bindings turned into links at this start (usually none). */
  linkMigrations: LinkMigration[];
  /** Run all workers until shutdown; closes connectors and the store afterwards. */
  run(): Promise<void>;
  shutdown(): void;
  /** The alert rules in force (null: alerts off). */
  alerts: AlertSettings | null;
}

/**
 * The composition root: load and validate config (a broken pipeline or mapping file fails here,
 * naming the file and path), open the state store, build activities, one Worker per family.
 */
export async function createSyncWorkers(opts: SyncWorkerOptions): Promise<SyncWorkers> {
  const registry = loadRegistry({
    ...(opts.configDir ? { configDir: opts.configDir } : {}),
    ...(opts.mappingsDir ? { mappingsDir: opts.mappingsDir } : {}),
    env: opts.env,
  });
  // Before anything is opened: a bad key stops the worker here (the error names the key id, never its bytes).
  const dataConverter = opts.dataConverter ?? dataConverterFromEnv(opts.env);
  const mapThreads = opts.mapThreads ?? mapThreadsFromEnv(opts.env);
  // A PostgreSQL store is migrated here (several workers starting at once take turns).
  const store = await openStateStore(opts.stateDb, { runEventsDays: opts.runEventsDays });
  const keyMigrations = await migrateKeyPrefixes(registry, store);
  // One-way bindings become links once, so a pair over the same systems starts from them.
  const linkMigrations = await migrateBindingsToLinks(store, registry);
  const connectors = new ConnectorPool(registry, opts.env, opts.createConnector);
  const approvalKeys = await loadApprovalKeyring(opts.approvalIssuersFile ?? path.join(opts.configDir ?? PROJECT_CONFIG.configDir, 'approval-issuers.json'), opts.env);
  const alerts = loadAlertSettings(opts.alertsFile ?? path.join(opts.configDir ?? PROJECT_CONFIG.configDir, 'alerts.json'), opts.env);
  if (alerts.note) Runtime.instance().logger.info(alerts.note);
  // This process's own task queues (one per sync family): a page it prepared is written here, from memory.
  const workerId = `${os.hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  // Pages are mapped on other cores while this thread fetches, plans, writes and talks to Temporal.
  const mapper = new MapPool(mapThreads);
  // The threads boot while the workflows are bundled, so a worker's first page does not wait for them.
  const warming = opts.families.some((f) => f !== 'orders') ? mapper.warm() : Promise.resolve();
  const activities = createActivities({ registry, connectors, store, workerId, mapper, approvalKeys, alerts: alerts.settings, ...ordersDeps(registry, connectors, store, opts, dataConverter) });
  // OpenTelemetry (OTEL_EXPORTER_OTLP_ENDPOINT, workers/tracing.ts): off by default.
  const tracing = startTracing(opts.env, 'worker');
  const traced = tracing ? tracingWorkerOptions(tracing) : null;
  if (tracing) Runtime.instance().logger.info(`tracing: spans to ${tracing.settings.url} as ${tracing.settings.serviceName}`);
  // Bundle once for all families, quietly: the bundler's INFO log is a page of webpack module listing.
  // With tracing on, the SDK's workflow interceptors are bundled too (a prebuilt bundle has none).
  const workflowBundle =
    (traced ? undefined : opts.workflowBundle) ??
    (await bundleWorkflowCode({
      workflowsPath: require.resolve('../workflows'),
      logger: new DefaultLogger('WARN'),
      ...(traced ? { workflowInterceptorModules: traced.interceptors.workflowModules } : {}),
    }));
  const common = {
    connection: opts.connection,
    namespace: opts.namespace,
    activities,
    dataConverter,
    maxConcurrentActivityTaskExecutions: opts.maxConcurrentActivities ?? 20,
    shutdownGraceTime: `${opts.shutdownGraceSeconds ?? 10}s` as const,
    ...(traced ? { interceptors: { activity: traced.interceptors.activity }, sinks: traced.sinks } : {}),
  };
  const workers = await Promise.all([
    ...opts.families.map((family) => Worker.create({ ...common, taskQueue: TASK_QUEUES[family], workflowBundle })),
    // Activities only: the writes of pages this process prepared (workflows/page-flow.ts writeHeld).
    ...opts.families.filter((f) => f !== 'orders').map((family) => Worker.create({ ...common, taskQueue: workerQueue(family, workerId) })),
  ]);
  await warming;
  return {
    workers,
    registry,
    mapper,
    store,
    keyMigrations,
    linkMigrations,
    alerts: alerts.settings,
    async run() {
      const waitingMs = alerts.settings?.rules.approvalWaitingMs;
      const stopWatch = waitingMs
        ? startApprovalAlertWatch(new Client({ connection: opts.connection, namespace: opts.namespace }), waitingMs, (opts.approvalsPollSeconds ?? 30) * 1000, (err) =>
            Runtime.instance().logger.warn(`approvals watch: ${err.message}`),
          )
        : null;
      try {
        await Promise.all(workers.map((w) => w.run()));
      } finally {
        stopWatch?.();
        await mapper.close();
        await connectors.closeAll();
        await store.close();
        await flushTracing().catch((err: unknown) => Runtime.instance().logger.warn(`tracing: spans not sent: ${(err as Error).message}`));
      }
    },
    shutdown() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    },
  };
}

/** Lazy wiring of the orders family: nothing is opened until a saga or watcher needs it. */
function ordersDeps(registry: Registry, connectors: ConnectorPool, store: StateStore, opts: SyncWorkerOptions, dataConverter: DataConverter) {
  const o = opts.orders ?? {};
  let client: Client | undefined;
  const deals = (): DealsDb => {
    if (o.crmPath) return new DealsDb(o.crmPath);
    const name = o.crmSystem ?? 'demo-crm';
    const file = (registry.systems.get(name)?.config as { path?: unknown } | undefined)?.path;
    if (typeof file !== 'string') throw new SyncError('ConfigError', `system "${name}" is not a SQLite CRM with a path (config/systems.json)`);
    return new DealsDb(file);
  };
  const mapping = (name: string) => () => {
    const m = registry.mappings.get(name);
    if (!m) throw new SyncError('ConfigError', `mapping "${name}" is missing from ${opts.mappingsDir}`);
    return m;
  };
  // config/order-crms.json is checked at start: a broken file stops the worker, naming the field.
  const crms = loadOrderCrms(o.crmsFile ?? path.join(opts.configDir ?? PROJECT_CONFIG.configDir, 'order-crms.json'), registry);
  const orderCrm = (name: string) => {
    const c = crms.get(name);
    if (!c) throw new SyncError('ConfigError', `no CRM "${name}" in config/order-crms.json (known: ${[...crms.keys()].join(', ') || 'none'})`, { field: 'crm' });
    return salesforceOrdersCrm(connectors.get(c.system), c, mapping(c.customerMapping)());
  };
  const interceptors = tracingClientInterceptors(opts.env, 'worker');
  const temporal = () => (client ??= new Client({ connection: opts.connection, namespace: opts.namespace, dataConverter, ...(interceptors ? { interceptors } : {}) }));
  return {
    orders: {
      erp: () => o.erp ?? (connectors.get(o.erpSystem ?? 'tryton') as unknown as OrdersErp),
      deals,
      customerMapping: mapping('crm-account-to-customer'),
      productMapping: mapping('crm-product-to-product'),
      crm: orderCrm,
    },
    watcher: { deals, store, client: temporal },
    opportunityWatcher: { crms: () => crms, connector: (system: string) => connectors.get(system), store, client: temporal },
  };
}
