import path from 'node:path';
import type { PipelineFamily } from '../../contracts/queues';
import { demoPaths, seedDemo } from '../../demo/seed';
import { startHubSpotEmulator, type HubSpotEmulator, type HubSpotEmulatorOptions } from '../../emulators/hubspot';
import { startSalesforceEmulator, type SalesforceEmulator } from '../../emulators/salesforce';
import type { SyncWorkers } from '../../workers/worker';
import { syncWorkersFor } from './demo-env';
import { startDevEnv, type DevEnv } from './env';

/** The real dev server, a SaaS emulator, an empty demo ERP and a running worker of the SaaS family. */
export interface EmulatorErpEnv<E> {
  env: DevEnv;
  emulator: E;
  /** The demo databases and the state store. */
  dir: string;
  /** The demo ERP's SQLite file. */
  erpDb: string;
  sync: SyncWorkers;
  /** Stops the worker, the emulator and the dev server (for afterAll; safe after a failed start). */
  stop(): Promise<void>;
}

async function startEmulatorErpEnv<E extends { stop(): Promise<void> }>(
  family: PipelineFamily,
  startEmulator: (env: DevEnv) => Promise<{ emulator: E; vars: NodeJS.ProcessEnv }>,
): Promise<EmulatorErpEnv<E>> {
  const env = await startDevEnv();
  let emulator: E | undefined;
  let sync: SyncWorkers | undefined;
  let running: Promise<void> | undefined;
  const stop = async () => {
    sync?.shutdown();
    await running;
    await emulator?.stop();
    await env.teardown();
  };
  try {
    const started = await startEmulator(env);
    emulator = started.emulator;
    const dir = path.join(env.tmp, 'demo');
    seedDemo(dir, { accounts: 0, contacts: 0, products: 0 });
    sync = await syncWorkersFor(env, dir, [family], started.vars);
    running = sync.run();
    return { env, emulator, dir, erpDb: demoPaths(dir).erp, sync, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The HubSpot emulator (`emulator` options besides the token) and a `hubspot` worker for portal `account`. */
export function startHubSpotErpEnv(opts: { token: string; account: string; emulator?: Omit<HubSpotEmulatorOptions, 'token'> }): Promise<EmulatorErpEnv<HubSpotEmulator>> {
  return startEmulatorErpEnv('hubspot', async (env) => {
    const emulator = await startHubSpotEmulator({ ...opts.emulator, token: opts.token });
    return {
      emulator,
      vars: {
        HUBSPOT_BASE_PATH: emulator.baseUrl,
        HUBSPOT_ACCESS_TOKEN: opts.token,
        HUBSPOT_GOVERNOR_DB: path.join(env.tmp, 'hubspot-governor.db'),
        HUBSPOT_ACCOUNT: opts.account,
      },
    };
  });
}

/** The Salesforce emulator (state in the test's temp folder) and a `salesforce` worker for org `account`. */
export function startSalesforceErpEnv(opts: { token: string; account: string }): Promise<EmulatorErpEnv<SalesforceEmulator>> {
  return startEmulatorErpEnv('salesforce', async (env) => {
    const emulator = await startSalesforceEmulator({ token: opts.token, dbPath: path.join(env.tmp, 'salesforce.db') });
    return {
      emulator,
      vars: {
        SALESFORCE_INSTANCE_URL: emulator.baseUrl,
        SALESFORCE_ACCESS_TOKEN: opts.token,
        SALESFORCE_GOVERNOR_DB: path.join(env.tmp, 'salesforce-governor.db'),
        SALESFORCE_ACCOUNT: opts.account,
      },
    };
  });
}
