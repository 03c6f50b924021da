import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TrytonClient } from '../../connectors/tryton/client';
import { bootstrapBusiness } from './bootstrap';
import { writeConfigFiles } from './config-files';
import { freePort, spawnTrytond, stopPid, waitUntilReady } from './process';
import { ADMIN_LOGIN, DATABASE_NAME, TRYTON_DATA_ROOT, adminPassword, instancePaths, syncPassword } from './settings';
import { readTrytonToolchain } from './toolchain';

/** Bump when bootstrap.ts changes what it creates, so cached databases are rebuilt. */
const BOOTSTRAP_VERSION = 2; // 2: countries JP, AT, BE

/** Cache file name: changes with the pinned packages, the bootstrap and the passwords. */
export function pristinePath(): string {
  const key = createHash('sha256')
    .update(JSON.stringify([readTrytonToolchain(), BOOTSTRAP_VERSION, adminPassword(), syncPassword()]))
    .digest('hex')
    .slice(0, 12);
  return join(TRYTON_DATA_ROOT, `pristine-${key}.sqlite`);
}

/**
 * Returns the path of an initialised and bootstrapped SQLite database, building it when it is
 * not cached: `trytond-admin` (~30 s) activates the modules, then a temporary trytond runs the
 * business bootstrap over JSON-RPC. The build happens in a scratch folder and the result is
 * renamed into place, so an interrupted build never leaves a half-made cache.
 */
export async function ensurePristineDatabase(log: (msg: string) => void = () => undefined): Promise<string> {
  const target = pristinePath();
  if (existsSync(target)) return target;
  const scratch = join(TRYTON_DATA_ROOT, `build-${process.pid}-${randomBytes(4).toString('hex')}`);
  const p = instancePaths(scratch);
  const port = await freePort();
  writeConfigFiles(p, port);
  writeFileSync(p.dbFile, '');
  const passFile = join(scratch, 'adminpass');
  writeFileSync(passFile, `${adminPassword()}\n`, { mode: 0o600 });
  const t0 = Date.now();
  log('initialising the Tryton database (trytond-admin, ~30 s)…');
  try {
    execFileSync(
      'trytond-admin',
      ['-c', p.config, '--logconf', p.logConfig, '-d', DATABASE_NAME, '-u', ...readTrytonToolchain().modules,
        '--activate-dependencies', '--email', 'admin@example.com'],
      { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, TRYTONPASSFILE: passFile } },
    );
  } finally {
    rmSync(passFile, { force: true }); // never leave the admin password on disk, even on failure
  }
  log(`modules activated in ${Date.now() - t0} ms; bootstrapping company, accounts, fiscal years…`);
  const pid = spawnTrytond(p);
  try {
    const url = `http://127.0.0.1:${port}`;
    await waitUntilReady(url, pid);
    const admin = new TrytonClient({ url, database: DATABASE_NAME, user: ADMIN_LOGIN, password: adminPassword() });
    await bootstrapBusiness(admin, syncPassword());
    await admin.logout();
  } finally {
    await stopPid(pid);
  }
  mkdirSync(TRYTON_DATA_ROOT, { recursive: true });
  copyFileSync(p.dbFile, `${target}.tmp`);
  renameSync(`${target}.tmp`, target);
  rmSync(scratch, { recursive: true, force: true });
  log(`pristine database ready in ${Date.now() - t0} ms: ${target}`);
  return target;
}
