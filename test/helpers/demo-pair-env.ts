import path from 'node:path';
import { seedDemo } from '../../demo/seed';
import { createSyncWorkers, type SyncWorkers } from '../../workers/worker';
import { copyShippedConfig, editPairFile, type PairFileEdits } from './config-copy';
import { startDevEnv, type DevEnv } from './env';

export interface DemoPairEnv {
  env: DevEnv;
  /** The demo CRM/ERP databases and the state store. */
  dir: string;
  sync: SyncWorkers;
  /** Stops the workers, then the dev server (for afterAll; safe after a failed start). */
  stop(): Promise<void>;
}

/**
 * The real dev server and a running `sql` family worker over a demo of `accounts` CRM accounts
 * and a copy of the shipped config whose pair `pair` is changed by `edit` (approvers, field
 * policies). The state store is `<dir>/state.db`.
 */
export async function startDemoPairEnv(opts: { accounts: number; pair: string; edit: (p: PairFileEdits) => void }): Promise<DemoPairEnv> {
  const env = await startDevEnv();
  let sync: SyncWorkers | undefined;
  let running: Promise<void> | undefined;
  const stop = async () => {
    sync?.shutdown();
    await running;
    await env.teardown();
  };
  try {
    const dir = path.join(env.tmp, 'demo');
    seedDemo(dir, { accounts: opts.accounts, contacts: 0, products: 0 });
    const configDir = copyShippedConfig(env.tmp);
    editPairFile(configDir, opts.pair, opts.edit);
    sync = await createSyncWorkers({
      connection: env.nativeConnection,
      namespace: 'default',
      families: ['sql'],
      configDir,
      stateDb: path.join(dir, 'state.db'),
      env: { DEMO_DATA_DIR: dir },
      workflowBundle: env.workflowBundle,
    });
    running = sync.run();
    return { env, dir, sync, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
