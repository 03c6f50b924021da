/**
 * Local PostgreSQL (Debian's postgresql-15, pinned in toolchain.json), started by the project:
 * `npx tsx scripts/postgres.ts <install|start|stop|status> [--port N] [--data-dir D]`.
 *
 * - install: apt-get the pinned packages when missing (a no-op, one dpkg-query each, otherwise).
 * - start:   initdb into .data/postgres (or --data-dir) when it holds no cluster, then run postgres
 *   detached on 127.0.0.1:5432 (or --port N); prints the URL (e.g. for SYNC_STATE_URL).
 * - stop / status: by the PID in the data folder's postmaster.pid, never by process name.
 *
 * Importable API (test/helpers/postgres.ts builds on it): ensurePostgresInstalled(),
 * startPostgresServer(). initdb refuses to run as root, so as root the cluster belongs to an
 * unprivileged system user (`crmsync-pg`, created once with useradd; `nobody` if that fails) and
 * initdb/postgres are spawned with its uid/gid; the data folder is chowned to it. The server listens
 * on 127.0.0.1 only, its unix socket lives in a private temporary folder, and TCP logins need the
 * superuser's random password (kept in the data folder, mode 0600), which the returned URL carries.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';

const PROJECT_ROOT = path.join(__dirname, '..');
/** The unprivileged owner of clusters started as root. */
export const SERVICE_USER = 'crmsync-pg';
export const SUPERUSER = 'postgres';
const PASSWORD_FILE = 'crm-erp-sync-superuser.password';

export interface PostgresToolchain {
  major: string;
  apt: Record<string, string>;
}

export function readPostgresToolchain(): PostgresToolchain {
  const raw = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'toolchain.json'), 'utf8')) as { postgres?: Partial<PostgresToolchain> };
  const p = raw.postgres;
  if (!p || typeof p.major !== 'string' || typeof p.apt !== 'object' || p.apt === null) {
    throw new Error('toolchain.json: missing or malformed "postgres" section (major, apt)');
  }
  return { major: p.major, apt: p.apt };
}

/** Where Debian puts the server binaries (initdb, postgres, pg_isready, createdb). */
export function postgresBinDir(): string {
  return `/usr/lib/postgresql/${readPostgresToolchain().major}/bin`;
}

function installedVersion(pkg: string): string | null {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}\t${Version}', pkg], { encoding: 'utf8' });
  if (r.status !== 0) return null;
  const [status, version] = r.stdout.split('\t');
  return status?.endsWith(' installed') && version ? version : null;
}

/** Pinned packages whose installed version differs from toolchain.json. */
export function missingPostgresPackages(): string[] {
  return Object.entries(readPostgresToolchain().apt)
    .filter(([pkg, version]) => installedVersion(pkg) !== version)
    .map(([pkg, version]) => `${pkg}=${version}`);
}

/** Installs the pinned PostgreSQL packages with apt-get when any is missing (needs root, as on CI). */
export function ensurePostgresInstalled(log: (msg: string) => void = () => undefined): void {
  const missing = missingPostgresPackages();
  if (missing.length === 0) return;
  log(`installing ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
  const still = missingPostgresPackages();
  if (still.length > 0) throw new Error(`PostgreSQL packages still missing after apt-get install: ${still.join(' ')}`);
}

interface Owner {
  uid: number;
  gid: number;
  name: string;
}

function lookupUser(name: string): Owner | null {
  const r = spawnSync('getent', ['passwd', name], { encoding: 'utf8' });
  if (r.status !== 0) return null;
  const f = r.stdout.trim().split(':');
  return { name, uid: Number(f[2]), gid: Number(f[3]) };
}

/** The user the cluster runs as: null when not root (run as oneself), else the service user. */
export function clusterOwner(): Owner | null {
  if (process.getuid?.() !== 0) return null;
  const found = lookupUser(SERVICE_USER);
  if (found) return found;
  // Several test files may race to create it: a failed useradd is fine if the user now exists.
  spawnSync('useradd', ['--system', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', SERVICE_USER], { stdio: 'ignore' });
  const created = lookupUser(SERVICE_USER) ?? lookupUser('nobody');
  if (!created) throw new Error(`could not create the unprivileged user ${SERVICE_USER} for PostgreSQL (useradd failed) and there is no "nobody"`);
  return created;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Stops a postmaster by PID: SIGINT (fast shutdown), then SIGQUIT, then SIGKILL. Never by name. */
export async function stopPostgresPid(pid: number, graceMs = 15_000): Promise<void> {
  for (const [signal, wait] of [['SIGINT', graceMs], ['SIGQUIT', 5000], ['SIGKILL', 5000]] as const) {
    if (!isAlive(pid)) return;
    try {
      process.kill(pid, signal);
    } catch {
      return;
    }
    const deadline = Date.now() + wait;
    while (Date.now() < deadline && isAlive(pid)) await sleep(50);
  }
  if (isAlive(pid)) throw new Error(`postgres (pid ${pid}) did not exit after SIGKILL`);
}

export interface PostgresServerOptions {
  /** Cluster folder: initdb'd when it holds no cluster yet, kept on stop. Default: a temporary folder removed on stop. */
  dataDir?: string;
  /** TCP port on 127.0.0.1; default a free one (with retry when it is taken meanwhile). */
  port?: number;
  /** Keep fsync on (a dev server meant to survive power loss). Tests leave it off: faster, and they never crash the machine. */
  durable?: boolean;
  /** Let the server outlive this process (the `start` command). */
  detached?: boolean;
  /** Called with the postmaster's PID as soon as it is spawned (tests record it for the leftover check). */
  onSpawn?: (pid: number, what: string) => void;
  log?: (msg: string) => void;
}

export interface PostgresServer {
  /** `postgres://postgres:<password>@127.0.0.1:<port>/postgres` */
  url: string;
  port: number;
  pid: number;
  dataDir: string;
  socketDir: string;
  logFile: string;
  /** A URL for database `name` on this server. */
  urlFor(name: string): string;
  /** Creates database `name` (lowercase letters, digits, underscores) and returns its URL. */
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

/** Runs a binary as the cluster's owner. */
function runAs(owner: Owner | null, file: string, args: string[], home: string): void {
  const r = spawnSync(file, args, {
    encoding: 'utf8',
    env: { ...process.env, HOME: home, LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8' },
    ...(owner ? { uid: owner.uid, gid: owner.gid } : {}),
  });
  if (r.error) throw new Error(`${path.basename(file)}: ${r.error.message} (is postgresql-${readPostgresToolchain().major} installed? run \`npx tsx scripts/postgres.ts install\`)`);
  if (r.status !== 0) throw new Error(`${path.basename(file)} ${args.join(' ')} failed (${r.status}): ${(r.stderr || r.stdout).trim()}`);
}

function chownTree(owner: Owner | null, dir: string): void {
  if (owner) execFileSync('chown', ['-R', `${owner.uid}:${owner.gid}`, dir]);
}

/** initdb (as the owner) into `dataDir` unless it already holds a cluster; returns the superuser's password. */
function ensureCluster(owner: Owner | null, dataDir: string, workDir: string): string {
  const pwFile = path.join(dataDir, PASSWORD_FILE);
  if (existsSync(path.join(dataDir, 'PG_VERSION'))) {
    if (!existsSync(pwFile)) throw new Error(`${dataDir} holds a PostgreSQL cluster not made by scripts/postgres.ts (no ${PASSWORD_FILE}); use another --data-dir`);
    return readFileSync(pwFile, 'utf8').trim();
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  chownTree(owner, dataDir);
  if (owner && spawnSync('test', ['-w', dataDir], { uid: owner.uid, gid: owner.gid }).status !== 0) {
    throw new Error(`${dataDir}: user ${owner.name} cannot reach this folder (a parent folder is closed to other users, e.g. one made by mkdtemp); open its parents to others with chmod o+x, or pick another folder`);
  }
  const password = randomBytes(18).toString('base64url');
  const initPw = path.join(workDir, 'initdb.pw');
  writeFileSync(initPw, password, { mode: 0o600 });
  chownTree(owner, initPw);
  try {
    runAs(owner, path.join(postgresBinDir(), 'initdb'), ['-D', dataDir, '-U', SUPERUSER, `--pwfile=${initPw}`, '--auth-host=scram-sha-256', '--auth-local=trust', '-E', 'UTF8', '--no-locale', '--no-sync'], workDir);
  } finally {
    rmSync(initPw, { force: true });
  }
  writeFileSync(pwFile, password, { mode: 0o600 });
  chownTree(owner, pwFile);
  return password;
}

function pgIsReady(socketDir: string, port: number): boolean {
  return spawnSync(path.join(postgresBinDir(), 'pg_isready'), ['-q', '-h', socketDir, '-p', String(port), '-U', SUPERUSER, '-d', 'postgres']).status === 0;
}

/** Starts PostgreSQL on 127.0.0.1 and waits until it accepts connections. */
export async function startPostgresServer(opts: PostgresServerOptions = {}): Promise<PostgresServer> {
  const log = opts.log ?? (() => undefined);
  ensurePostgresInstalled(log);
  const owner = clusterOwner();
  // A short private folder for the unix socket (paths are limited to ~100 bytes), the log, HOME.
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'crm-erp-sync-pg-'));
  const ownData = opts.dataDir === undefined;
  const dataDir = path.resolve(opts.dataDir ?? path.join(workDir, 'data'));
  try {
    chownTree(owner, workDir);
    const password = ensureCluster(owner, dataDir, workDir);
    for (let attempt = 1; ; attempt++) {
      const port = opts.port ?? (await freePort());
      try {
        return await launch({ ...opts, owner, workDir, dataDir, ownData, password, port, log });
      } catch (err) {
        // Another process took the free port between freePort() and the bind: try another one.
        if (opts.port === undefined && attempt < 3 && /could not (bind|create listen socket)|Address already in use/i.test(String(err))) continue;
        throw err;
      }
    }
  } catch (err) {
    rmSync(workDir, { recursive: true, force: true });
    throw err;
  }
}

async function launch(o: PostgresServerOptions & { owner: Owner | null; workDir: string; dataDir: string; ownData: boolean; password: string; port: number; log: (m: string) => void }): Promise<PostgresServer> {
  const logFile = path.join(o.workDir, `postgres-${o.port}.log`);
  const out = openSync(logFile, 'a');
  const settings: Record<string, string> = {
    listen_addresses: '127.0.0.1',
    port: String(o.port),
    unix_socket_directories: o.workDir,
    max_connections: '200',
    shared_buffers: '32MB',
    ...(o.durable ? {} : { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' }),
  };
  const args = ['-D', o.dataDir, ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
  const bin = path.join(postgresBinDir(), 'postgres');
  let pid: number;
  try {
    const child = spawn(bin, args, {
      detached: true,
      stdio: ['ignore', out, out],
      env: { ...process.env, HOME: o.workDir, LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8' },
      ...(o.owner ? { uid: o.owner.uid, gid: o.owner.gid } : {}),
    });
    if (child.pid === undefined) throw new Error(`could not spawn ${bin}`);
    pid = child.pid;
    if (o.detached) child.unref();
    o.onSpawn?.(pid, bin);
  } finally {
    closeSync(out);
  }
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (!isAlive(pid)) throw new Error(`postgres (pid ${pid}) exited during start-up: ${readFileSync(logFile, 'utf8').trim().split('\n').slice(-5).join(' | ')}`);
    if (pgIsReady(o.workDir, o.port)) break;
    if (Date.now() > deadline) {
      await stopPostgresPid(pid);
      throw new Error(`postgres (pid ${pid}) did not accept connections on 127.0.0.1:${o.port} within 60 s; log ${logFile}`);
    }
    await sleep(100);
  }
  o.log(`postgres ${pid} ready on 127.0.0.1:${o.port} (data ${o.dataDir})`);
  const urlFor = (db: string) => `postgres://${SUPERUSER}:${encodeURIComponent(o.password)}@127.0.0.1:${o.port}/${db}`;
  let stopped: Promise<void> | undefined;
  return {
    url: urlFor('postgres'),
    port: o.port,
    pid,
    dataDir: o.dataDir,
    socketDir: o.workDir,
    logFile,
    urlFor,
    async createDatabase(name: string): Promise<string> {
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`database name "${name}": expected lowercase letters, digits and underscores, starting with a letter or underscore`);
      runAs(o.owner, path.join(postgresBinDir(), 'createdb'), ['-h', o.workDir, '-p', String(o.port), '-U', SUPERUSER, name], o.workDir);
      return urlFor(name);
    },
    stop() {
      stopped ??= (async () => {
        await stopPostgresPid(pid);
        if (o.ownData) rmSync(o.dataDir, { recursive: true, force: true });
        rmSync(o.workDir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}

// ── CLI ──────────────────────────────────────────────────────────────────────
const DEV_DIR = path.join(PROJECT_ROOT, '.data', 'postgres');
const cliLog = (msg: string): void => console.error(`[postgres] ${msg}`);

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function postmasterPid(dataDir: string): number | null {
  const f = path.join(dataDir, 'postmaster.pid');
  if (!existsSync(f)) return null;
  const pid = Number(readFileSync(f, 'utf8').split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : null;
}

async function main(command: string | undefined): Promise<number> {
  const dataDir = path.resolve(arg('--data-dir') ?? DEV_DIR);
  const stateFile = path.join(dataDir, 'crm-erp-sync-server.json');
  const running = postmasterPid(dataDir);
  switch (command) {
    case 'install':
      ensurePostgresInstalled(cliLog);
      cliLog(`installed: ${Object.keys(readPostgresToolchain().apt).join(', ')}`);
      return 0;
    case 'start': {
      if (running !== null) {
        cliLog(`already running (pid ${running})`);
        console.log(readFileSync(stateFile, 'utf8'));
        return 0;
      }
      const portArg = arg('--port');
      const srv = await startPostgresServer({ dataDir, port: portArg ? Number(portArg) : 5432, durable: true, detached: true, log: cliLog });
      const state = JSON.stringify({ url: srv.url, pid: srv.pid, dataDir, log: srv.logFile }, null, 2);
      writeFileSync(stateFile, state, { mode: 0o600 });
      console.log(state);
      return 0;
    }
    case 'stop':
      if (running === null) {
        cliLog('not running');
        return 0;
      }
      await stopPostgresPid(running);
      cliLog(`stopped pid ${running}`);
      return 0;
    case 'status':
      if (running === null) {
        cliLog('not running');
        return 1;
      }
      console.log(readFileSync(stateFile, 'utf8'));
      return 0;
    default:
      console.error('usage: npx tsx scripts/postgres.ts <install|start|stop|status> [--port N] [--data-dir D]');
      return 2;
  }
}

if (require.main === module) {
  main(process.argv[2]).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`[postgres] ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
