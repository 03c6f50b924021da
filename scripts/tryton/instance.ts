import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeConfigFiles } from './config-files';
import { ensureTrytonInstalled } from './install';
import { TrytonClient } from '../../connectors/tryton/client';
import { ensureCountries } from './bootstrap';
import { ensurePristineDatabase } from './pristine';
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
  pid: number;
  /** The connector's least-privilege user. */
  user: string;
  password: string;
  /** Admin credentials, for test helpers only. */
  admin: { user: string; password: string };
  dataDir: string;
  logFile: string;
  stop(): Promise<void>;
}

/**
 * Installs Tryton if needed, builds (once) or reuses the cached pristine database, copies it
 * into this instance's folder and starts trytond on 127.0.0.1. Stop it with `stop()` (by PID).
 */
export async function startTryton(opts: StartTrytonOptions = {}): Promise<TrytonInstance> {
  const log = opts.log ?? (() => undefined);
  await ensureTrytonInstalled(log);
  const pristine = await ensurePristineDatabase(log);
  const dataDir = opts.dataDir ?? join(TRYTON_DATA_ROOT, 'instances', `${process.pid}-${randomBytes(4).toString('hex')}`);
  const removeOnStop = opts.removeOnStop ?? opts.dataDir === undefined;
  const p = instancePaths(dataDir);
  mkdirSync(p.dbDir, { recursive: true });
  const reused = Boolean(opts.reuseDatabase && existsSync(p.dbFile));
  if (!reused) copyFileSync(pristine, p.dbFile);
  let port = 0;
  let pid = 0;
  let url = '';
  try {
    // freePort() releases the port before trytond binds it: another process may take it in
    // between. A trytond that then exits while its port answers lost that race: try another port.
    for (let attempt = 1; ; attempt++) {
      port = opts.port ?? (await freePort());
      writeConfigFiles(p, port);
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
    throw err;
  }
  writeFileSync(p.stateFile, JSON.stringify({ url, database: DATABASE_NAME, pid, user: SYNC_LOGIN }, null, 2));
  let stopped = false;
  return {
    url,
    database: DATABASE_NAME,
    pid,
    user: SYNC_LOGIN,
    password: syncPassword(),
    admin: { user: ADMIN_LOGIN, password: adminPassword() },
    dataDir,
    logFile: p.log,
    async stop() {
      if (stopped) return;
      stopped = true;
      await stopPid(pid);
      if (removeOnStop) rmSync(dataDir, { recursive: true, force: true });
      else rmSync(p.stateFile, { force: true });
    },
  };
}
