import Database from 'better-sqlite3';
import path from 'node:path';
import { demoPaths, seedDemo, type SeedSize } from '../../demo/seed';
import { createSyncWorkers, type SyncWorkers } from '../../workers/worker';
import type { PipelineFamily } from '../../contracts/queues';
import { startDevEnv, type DevEnv } from './env';

/**
 * Sync workers for `families` over the shipped config, the demo databases and the state store
 * under `dir`, with `vars` as the environment config/systems.json reads (not yet running).
 */
export function syncWorkersFor(env: DevEnv, dir: string, families: PipelineFamily[], vars: NodeJS.ProcessEnv = {}): Promise<SyncWorkers> {
  return createSyncWorkers({
    connection: env.nativeConnection,
    namespace: 'default',
    families,
    stateDb: path.join(dir, 'state.db'),
    env: { DEMO_DATA_DIR: dir, ...vars },
    workflowBundle: env.workflowBundle,
  });
}

/** Seed a demo CRM/ERP under `dir` and build SQL sync workers over it (not yet running). */
export async function demoWorkers(env: DevEnv, dir: string, size?: SeedSize): Promise<SyncWorkers> {
  seedDemo(dir, size);
  return syncWorkersFor(env, dir, ['sql']);
}

export interface RunningDemo {
  env: DevEnv;
  /** The demo CRM/ERP databases and the state store (`state.db`). */
  dir: string;
  sync: SyncWorkers;
  /** Stops the workers, then the dev server (for afterAll; safe after a failed start). */
  stop(): Promise<void>;
}

/** The real dev server and running `sql` family workers over a demo seeded with `size` (shipped config) in `<tmp>/demo`. */
export async function startDemoWorkers(size: SeedSize): Promise<RunningDemo> {
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
    sync = await demoWorkers(env, dir, size);
    running = sync.run();
    return { env, dir, sync, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The environment config/systems.json's `tryton` system reads, for a test trytond. */
export function trytonVars(t: { url: string; database: string; user: string; password: string }): NodeJS.ProcessEnv {
  return { TRYTON_URL: t.url, TRYTON_DATABASE: t.database, TRYTON_USER: t.user, TRYTON_SYNC_PASSWORD: t.password };
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

/** Set demo CRM account `id`'s city as a user would, with `at` as its new updated_at (exactly one row changes). */
export function setCrmCity(dir: string, id: number, city: string, at: string): void {
  const db = new Database(demoPaths(dir).crm);
  try {
    const changed = db.prepare('UPDATE accounts SET city = ?, updated_at = ? WHERE id = ?').run(city, at, id).changes;
    if (changed !== 1) throw new Error(`account ${id}: ${changed} rows changed, expected 1`);
  } finally {
    db.close();
  }
}
