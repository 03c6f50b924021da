import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeConfigFiles } from './config-files';
import { ensureTrytonInstalled } from './install';
import { TrytonClient } from '../../connectors/tryton/client';
import { startPostgresServer, stopPostgresPid, type PostgresServer } from '../postgres';
import { ensureCountries } from './bootstrap';
import { ensurePristineDatabase, trytonDatabaseUri } from './pristine';
import { freePort, isAlive, portAnswers, spawnTrytond, stopPid, waitUntilReady } from './process';
import {
  ADMIN_LOGIN, DATABASE_NAME, SYNC_LOGIN, TRYTON_DATA_ROOT, adminPassword, instancePaths, syncPassword,
} from './settings';

export interface StartTrytonOptions {
  /** Folder of this instance (config, database copy, log). @default a new folder under .data/tryton/instances */
  dataDir?: string;
  /** @default a free port on 127.0.0.1 */
  port?: number;
  /** Reuse an existing database in dataDir instead of a fresh copy of the pristine one. @default false */
  reuseDatabase?: boolean;
  /** Remove dataDir on stop(). @default true when dataDir was not given */
  removeOnStop?: boolean;
  log?: (msg: string) => void;
}

export interface TrytonInstance {
  url: string;
  database: string;
  /** trytond's PID. */
  pid: number;
  /** The PID of the instance's PostgreSQL server (postmaster). */
  postgresPid: number;
  /** The connector's least-privilege user. */
  user: string;
  password: string;
  /** Admin credentials, for test helpers only. */
  admin: { user: string; password: string };
  dataDir: string;
  logFile: string;
  stop(): Promise<void>;
}

/** The live postmaster of a cluster folder, from its postmaster.pid. */
export function postmasterPid(pgDir: string): number | null {
  const f = join(pgDir, 'postmaster.pid');
  if (!existsSync(f)) return null;
  const pid = Number(readFileSync(f, 'utf8').split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : null;
}

/**
 * Installs Tryton if needed, builds (once) or reuses the cached pristine PostgreSQL cluster,
 * copies it into this instance's folder (`cp -a`, keeping its unprivileged owner; ~0.5 s), starts
 * PostgreSQL on it and trytond on 127.0.0.1. Stop both with `stop()` (by PID).
 */
export async function startTryton(opts: StartTrytonOptions = {}): Promise<TrytonInstance> {
  const log = opts.log ?? (() => undefined);
  await ensureTrytonInstalled(log);
  const pristine = await ensurePristineDatabase(log);
  const dataDir = opts.dataDir ?? join(TRYTON_DATA_ROOT, 'instances', `${process.pid}-${randomBytes(4).toString('hex')}`);
  const removeOnStop = opts.removeOnStop ?? opts.dataDir === undefined;
  const p = instancePaths(dataDir);
  mkdirSync(dataDir, { recursive: true });
  const stale = postmasterPid(p.pgDir); // a kept dev cluster whose trytond was stopped but not its server
  if (stale !== null) await stopPostgresPid(stale);
  const reused = Boolean(opts.reuseDatabase && existsSync(join(p.pgDir, 'PG_VERSION')));
  if (!reused) {
    rmSync(p.pgDir, { recursive: true, force: true });
    execFileSync('cp', ['-a', pristine, p.pgDir]);
  }
  let port = 0;
  let pid = 0;
  let url = '';
  let pg: PostgresServer | undefined;
  try {
    pg = await startPostgresServer({ dataDir: p.pgDir, detached: true, log });
    const databaseUri = trytonDatabaseUri(pg);
    // freePort() releases the port before trytond binds it: another process may take it in
    // between. A trytond that then exits while its port answers lost that race: try another port.
    for (let attempt = 1; ; attempt++) {
      port = opts.port ?? (await freePort());
      writeConfigFiles(p, port, databaseUri);
      pid = spawnTrytond(p);
      url = `http://127.0.0.1:${port}`;
      try {
        await waitUntilReady(url, pid);
        break;
      } catch (err) {
        if (opts.port !== undefined || attempt >= 3 || isAlive(pid) || !(await portAnswers(port))) throw err;
      }
    }
    if (reused) {
      // A kept database may predate countries the bootstrap adds now.
      const admin = new TrytonClient({ url, database: DATABASE_NAME, user: ADMIN_LOGIN, password: adminPassword() });
      try {
        const added = await ensureCountries(admin);
        if (added.length) log(`added countries ${added.join(', ')} to the kept database`);
      } finally {
        await admin.logout();
      }
    }
  } catch (err) {
    if (pid > 0) await stopPid(pid);
    await pg?.stop();
    if (removeOnStop) rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  const server = pg;
  writeFileSync(p.stateFile, JSON.stringify({ url, database: DATABASE_NAME, pid, postgresPid: server.pid, user: SYNC_LOGIN }, null, 2));
  let stopped = false;
  return {
    url,
    database: DATABASE_NAME,
    pid,
    postgresPid: server.pid,
    user: SYNC_LOGIN,
    password: syncPassword(),
    admin: { user: ADMIN_LOGIN, password: adminPassword() },
    dataDir,
    logFile: p.log,
    async stop() {
      if (stopped) return;
      stopped = true;
      await stopPid(pid);
      await server.stop();
      if (removeOnStop) rmSync(dataDir, { recursive: true, force: true });
      else rmSync(p.stateFile, { force: true });
    },
  };
}
