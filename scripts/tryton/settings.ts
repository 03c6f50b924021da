import { join } from 'node:path';
import { PROJECT_ROOT } from './toolchain';

/**
 * Local test-bed settings. Passwords come from the environment with documented defaults that
 * are only meant for a loopback server on a developer machine or CI:
 *   TRYTON_ADMIN_PASSWORD  admin of the test database   (default `Adm1n-Lab-Pass`)
 *   TRYTON_SYNC_PASSWORD   the connector's own user      (default `crm-Sync-dev-4821`)
 * Both must pass Tryton's password policy (8+ characters, 75 % distinct).
 */
export const TRYTON_DATA_ROOT = join(PROJECT_ROOT, '.data', 'tryton');
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
