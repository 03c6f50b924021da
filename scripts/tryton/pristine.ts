import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TrytonClient } from '../../connectors/tryton/client';
import { readPostgresToolchain, startPostgresServer, type PostgresServer } from '../postgres';
import { bootstrapBusiness } from './bootstrap';
import { writeConfigFiles } from './config-files';
import { withFileLock } from './lock';
import { pruneTrytonCaches } from './prune';
import { freePort, spawnTrytond, stopPid, waitUntilReady } from './process';
import { ADMIN_LOGIN, DATABASE_NAME, TRYTON_DATA_ROOT, adminPassword, instancePaths, syncPassword, type InstancePaths } from './settings';
import { readTrytonToolchain, trytonCommand } from './toolchain';

/** Bump when bootstrap.ts changes what it creates, so cached databases are rebuilt. */
const BOOTSTRAP_VERSION = 4; // 2: countries JP, AT, BE; 3: Tryton 8.0 on PostgreSQL; 4: Account Product Administration
/** Bump when the trytond-admin step changes. */
const INIT_VERSION = 1;

function cacheKey(extra: unknown[]): string {
  return createHash('sha256')
    .update(JSON.stringify([readTrytonToolchain(), readPostgresToolchain().major, ...extra]))
    .digest('hex')
    .slice(0, 12);
}

/**
 * The cached pristine PostgreSQL cluster (a stopped data folder holding the database
 * DATABASE_NAME): its name changes with the pinned packages, PostgreSQL's major version, the
 * bootstrap and the passwords.
 */
export function pristinePath(): string {
  return join(TRYTON_DATA_ROOT, `pristine-${cacheKey([INIT_VERSION, BOOTSTRAP_VERSION, adminPassword(), syncPassword()])}.pg`);
}

/** The cached cluster with the modules activated (before the bootstrap): changes with fewer inputs. */
export function initialisedPath(): string {
  return join(TRYTON_DATA_ROOT, `initialised-${cacheKey([INIT_VERSION, adminPassword()])}.pg`);
}

/** trytond's `[database] uri` for a PostgreSQL server of scripts/postgres.ts. */
export function trytonDatabaseUri(pg: Pick<PostgresServer, 'url'>): string {
  const u = new URL(pg.url);
  return `postgresql://${u.username}:${u.password}@${u.host}/`;
}

/**
 * Returns the folder of a stopped PostgreSQL cluster holding the initialised and bootstrapped
 * database, building it when it is not cached: initdb, `trytond-admin` (minutes) activates the
 * modules, then a temporary trytond runs the business bootstrap over JSON-RPC, and the server is
 * shut down cleanly. Instances copy this folder (scripts/tryton/instance.ts). The build happens in
 * a scratch folder renamed into place, so an interrupted build never leaves a half-made cache;
 * parallel callers wait on a lock file and one builds.
 */
export async function ensurePristineDatabase(log: (msg: string) => void = () => undefined): Promise<string> {
  const target = pristinePath();
  if (existsSync(target)) return target;
  mkdirSync(TRYTON_DATA_ROOT, { recursive: true });
  return withFileLock(`${target}.lock`, log, async () => {
    if (existsSync(target)) return target;
    const scratch = join(TRYTON_DATA_ROOT, `build-${process.pid}-${randomBytes(4).toString('hex')}`);
    const p = instancePaths(scratch);
    mkdirSync(scratch, { recursive: true });
    const t0 = Date.now();
    try {
      await initialisedCluster(p, log);
      log(`bootstrapping company, accounts, fiscal years…`);
      const pg = await startPostgresServer({ dataDir: p.pgDir, log });
      try {
        const port = await freePort();
        writeConfigFiles(p, port, trytonDatabaseUri(pg));
        const pid = spawnTrytond(p);
        try {
          const url = `http://127.0.0.1:${port}`;
          await waitUntilReady(url, pid);
          const adminClient = new TrytonClient({ url, database: DATABASE_NAME, user: ADMIN_LOGIN, password: adminPassword() });
          await bootstrapBusiness(adminClient, syncPassword());
          await adminClient.logout();
        } finally {
          await stopPid(pid);
        }
      } finally {
        await pg.stop(); // a clean (fast) shutdown: copies start without recovery
      }
      renameSync(p.pgDir, target);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
    // The caches of other pins, module sets or passwords are never read again.
    pruneTrytonCaches(TRYTON_DATA_ROOT, [target, initialisedPath()], log);
    log(`pristine database ready in ${Date.now() - t0} ms: ${target}`);
    return target;
  });
}

/**
 * Puts into `p.pgDir` a stopped cluster whose database has the modules activated (trytond-admin,
 * the slow part: 8–9 min measured at load 17–20, an estimated 1.5–2 min idle), from its own cache when it has one:
 * a change of the bootstrap or of the connector's password then costs only the bootstrap.
 */
async function initialisedCluster(p: InstancePaths, log: (msg: string) => void): Promise<void> {
  const cache = initialisedPath();
  if (existsSync(cache)) {
    execFileSync('cp', ['-a', cache, p.pgDir]);
    return;
  }
  const t0 = Date.now();
  const pg = await startPostgresServer({ dataDir: p.pgDir, log });
  try {
    await pg.createDatabase(DATABASE_NAME);
    writeConfigFiles(p, await freePort(), trytonDatabaseUri(pg));
    const passFile = join(p.dataDir, 'adminpass');
    writeFileSync(passFile, `${adminPassword()}\n`, { mode: 0o600 });
    log('initialising the Tryton database (trytond-admin, 1-8 min depending on load)…');
    const [python, admin] = trytonCommand('trytond-admin');
    try {
      execFileSync(
        python,
        [admin, '-c', p.config, '--logconf', p.logConfig, '-d', DATABASE_NAME, '--all', '-u', ...readTrytonToolchain().modules,
          '--activate-dependencies', '--email', 'admin@example.com'],
        { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, TRYTONPASSFILE: passFile, TRYTOND_DATABASE_NAMES: DATABASE_NAME } },
      );
    } finally {
      rmSync(passFile, { force: true }); // never leave the admin password on disk, even on failure
    }
  } finally {
    await pg.stop();
  }
  rmSync(`${cache}.tmp`, { recursive: true, force: true });
  execFileSync('cp', ['-a', p.pgDir, `${cache}.tmp`]);
  renameSync(`${cache}.tmp`, cache);
  log(`modules activated in ${Date.now() - t0} ms (cached in ${cache})`);
}
