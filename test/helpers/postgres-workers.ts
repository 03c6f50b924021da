/**
 * The bed of the PostgreSQL multi-worker tests (postgres-two-workers, postgres-three-workers):
 * a dev server and a PostgreSQL server per file, the demo CRM and ERP in a shared "systems" folder
 * (they stand for remote databases, not for anything a worker keeps), and worker "hosts" that
 * share nothing on disk, each its own folder, with the state in one PostgreSQL database.
 */
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { seedDemo } from '../../demo/seed';
import { ROOT, startDevEnv, type DevEnv } from './env';
import { startPostgres, type TestPostgres } from './postgres';
import { stopAllWorkers } from './worker-process';

export interface PostgresWorkersBed {
  env: DevEnv;
  pg: TestPostgres;
}

/** Start the dev server and PostgreSQL before the file's tests, stop them (and every spawned worker) after; the fields are set in beforeAll. */
export function usePostgresWorkersBed(): PostgresWorkersBed {
  const bed = {} as PostgresWorkersBed;
  beforeAll(async () => {
    [bed.env, bed.pg] = await Promise.all([startDevEnv(), startPostgres()]);
  });
  afterAll(async () => {
    await stopAllWorkers();
    await bed.env?.teardown();
    await bed.pg?.stop();
  });
  return bed;
}

export interface SharedSystems {
  /** The folder of the demo CRM and ERP. */
  systems: string;
  /** A copy of config/ whose systems.json points at `systems` instead of DEMO_DATA_DIR. */
  configDir: string;
}

/** Seed the demo CRM and ERP into `<tmp>/systems` and write the config/ copy naming them there. */
export function sharedSystems(tmp: string, seed: Parameters<typeof seedDemo>[1]): SharedSystems {
  const systems = path.join(tmp, 'systems');
  seedDemo(systems, seed);
  // config/ as shipped, but the demo CRM and ERP live in the shared "systems" folder.
  const configDir = path.join(tmp, 'config');
  cpSync(path.join(ROOT, 'config'), configDir, { recursive: true });
  const systemsJson = path.join(configDir, 'systems.json');
  const text = readFileSync(systemsJson, 'utf8');
  expect(text.match(/\$\{DEMO_DATA_DIR:-\.data\/demo\}\/(crm|erp)\.db/g)).toHaveLength(2);
  writeFileSync(systemsJson, text.replaceAll('${DEMO_DATA_DIR:-.data/demo}/', '${SHARED_SYSTEMS_DIR}/'));
  return { systems, configDir };
}

/** One worker host: its own folder `<tmp>/<name>` (created) and the environment of a worker process there (sql family). */
export function workerHost(
  env: DevEnv,
  shared: SharedSystems,
  stateUrl: string,
  name: string,
  extra: Record<string, string> = {},
): { folder: string; vars: Record<string, string> } {
  const folder = path.join(env.tmp, name);
  mkdirSync(folder);
  return {
    folder,
    vars: {
      TEMPORAL_ADDRESS: env.server.address,
      SYNC_CONFIG_DIR: shared.configDir,
      SHARED_SYSTEMS_DIR: shared.systems,
      DEMO_DATA_DIR: folder,
      SYNC_STATE_URL: stateUrl,
      HUBSPOT_GOVERNOR_DB: path.join(folder, 'hubspot-governor.db'),
      WORKER_FAMILIES: 'sql',
      ...extra,
      ENV_FILE: '',
    },
  };
}
