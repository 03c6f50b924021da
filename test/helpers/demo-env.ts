import Database from 'better-sqlite3';
import path from 'node:path';
import { demoPaths, seedDemo, type SeedSize } from '../../demo/seed';
import { createSyncWorkers, type SyncWorkers } from '../../workers/worker';
import { ROOT, type DevEnv } from './env';

/** Seed a demo CRM/ERP under `dir` and build sync workers over it (not yet running). */
export async function demoWorkers(env: DevEnv, dir: string, size?: SeedSize): Promise<SyncWorkers> {
  seedDemo(dir, size);
  return createSyncWorkers({
    connection: env.nativeConnection,
    namespace: 'default',
    families: ['sql'],
    configDir: path.join(ROOT, 'config'),
    mappingsDir: path.join(ROOT, 'mappings/definitions'),
    stateDb: path.join(dir, 'state.db'),
    env: { DEMO_DATA_DIR: dir },
    workflowBundle: env.workflowBundle,
  });
}

export function queryDb<T = Record<string, unknown>>(file: string, sql: string, ...params: unknown[]): T[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

export function demoDbs(dir: string) {
  return demoPaths(dir);
}
