import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { PROJECT_ROOT } from './toolchain';

/**
 * Local test-bed settings. Passwords come from the environment with documented defaults that
 * are only meant for a loopback server on a developer machine or CI:
 *   TRYTON_ADMIN_PASSWORD  admin of the test database   (default `Adm1n-Lab-Pass`)
 *   TRYTON_SYNC_PASSWORD   the connector's own user      (default `crm-Sync-dev-4821`)
 * Both must pass Tryton's password policy (8+ characters, 75 % distinct).
 */
export const TRYTON_DATA_ROOT = trytonDataRoot(process.env);

/** Whether other users may pass through `dir` and every folder above it (o+x). */
function passableByOthers(dir: string): boolean {
  for (let d = resolve(dir); ; d = dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) return false;
    if (dirname(d) === d) return true;
  }
}

/**
 * Where the Tryton test bed keeps its PostgreSQL clusters (the cached pristine one, instances),
 * file stores and logs: `TRYTON_DATA_DIR`, else `.data/tryton` in the project. Run as root,
 * PostgreSQL runs as an unprivileged user that must reach its data folder; when a parent of the
 * project is closed to other users (a checkout inside a folder made by mkdtemp, as CI's fresh
 * clones are), the test bed lives in a folder of the system's temporary directory instead.
 */
export function trytonDataRoot(env: NodeJS.ProcessEnv): string {
  if (env.TRYTON_DATA_DIR) return resolve(env.TRYTON_DATA_DIR);
  const inProject = join(PROJECT_ROOT, '.data', 'tryton');
  if (process.getuid?.() !== 0 || passableByOthers(PROJECT_ROOT)) return inProject;
  return join(tmpdir(), `crm-erp-sync-tryton-${createHash('sha256').update(PROJECT_ROOT).digest('hex').slice(0, 12)}`);
}
export const DATABASE_NAME = 'sync';
export const ADMIN_LOGIN = 'admin';
export const SYNC_LOGIN = 'crm-sync';
export const COMPANY_NAME = 'Sync Lab Company';
export const COMPANY_CURRENCY = 'EUR';

export function adminPassword(): string {
  return process.env.TRYTON_ADMIN_PASSWORD || 'Adm1n-Lab-Pass';
}

export function syncPassword(): string {
  return process.env.TRYTON_SYNC_PASSWORD || 'crm-Sync-dev-4821';
}

/**
 * Files of one running instance: its PostgreSQL cluster (a copy of the pristine one, holding the
 * database DATABASE_NAME), trytond's file store, config and logs.
 */
export function instancePaths(dataDir: string) {
  return {
    dataDir,
    pgDir: join(dataDir, 'pg'),
    files: join(dataDir, 'files'),
    www: join(dataDir, 'www'),
    config: join(dataDir, 'trytond.conf'),
    logConfig: join(dataDir, 'logging.conf'),
    log: join(dataDir, 'trytond.log'),
    pidFile: join(dataDir, 'trytond.pid'),
    stateFile: join(dataDir, 'instance.json'),
  };
}
export type InstancePaths = ReturnType<typeof instancePaths>;
