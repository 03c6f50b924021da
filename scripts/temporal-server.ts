/**
 * The production Temporal server (built from its Go module by scripts/toolchain.ts) on PostgreSQL
 * persistence and visibility, on loopback: schema set up with temporal-sql-tool (create-database,
 * setup-schema 0.0, update-schema from the module's versioned schema folder), a minimal config
 * file, and the services as separate processes when asked (`groups`), so a test can SIGKILL one
 * service (history) and start it again. Stopped by PID. Pitfalls it handles:
 *  - no namespace exists on a fresh cluster: it creates one (`temporal operator namespace create`)
 *    and waits until the frontend's namespace cache knows it;
 *  - search attributes are registered, then waited for until the namespace lists them
 *    (`system.forceSearchAttributesCacheRefreshOnRead` makes them usable at once afterwards);
 *  - PostgreSQL visibility allows at most 10 custom Keyword attributes (the project has 3).
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { SEARCH_ATTRIBUTE_FLAGS } from '../contracts/search-attributes';
import { ensureTemporalCli, ensureTemporalServer, type TemporalServerTools } from './toolchain';

const run = promisify(execFile);
const SERVICES = ['frontend', 'history', 'matching', 'worker'] as const;
export type TemporalService = (typeof SERVICES)[number];
/**
 * With authorization on, the server's own system worker reaches the cluster through an
 * internal-frontend (no authorizer, internode settings) instead of the public frontend, which
 * would refuse its token-less calls; it runs in the frontend's process.
 */
type ConfiguredService = TemporalService | 'internal-frontend';
/** PostgreSQL visibility's limit on custom Keyword search attributes. */
export const MAX_KEYWORD_ATTRIBUTES = 10;

/** Refuses search attributes a PostgreSQL-backed server cannot hold (more than 10 custom Keywords), before any is created. */
export function checkSearchAttributeBudget(flags: readonly string[]): void {
  const keywords = flags.filter((f) => f.split('=')[1] === 'Keyword').map((f) => f.split('=')[0]!);
  if (keywords.length > MAX_KEYWORD_ATTRIBUTES) {
    throw new Error(`${keywords.length} custom Keyword search attributes (${keywords.join(', ')}): PostgreSQL visibility holds at most ${MAX_KEYWORD_ATTRIBUTES}`);
  }
}

export interface PostgresTarget {
  host: string;
  port: number;
  user: string;
  password: string;
}

/** A PostgreSQL URL (postgres://user:password@host:port/…) as the SQL tool and the config need it. */
export function postgresTarget(url: string): PostgresTarget {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || 5432), user: decodeURIComponent(u.username), password: decodeURIComponent(u.password) };
}

/**
 * Create `database` (if missing) and bring its schema to the module's latest version:
 * `kind` temporal (persistence) or visibility. update-schema is a no-op on an up-to-date database.
 */
export function setupSchema(tools: TemporalServerTools, pg: PostgresTarget, database: string, kind: 'temporal' | 'visibility'): void {
  const base = ['--ep', pg.host, '-p', String(pg.port), '-u', pg.user, '--pl', 'postgres12', '--db', database];
  // The password through the environment (SQL_PASSWORD), not the command line that `ps` shows.
  const env = { ...process.env, SQL_PASSWORD: pg.password };
  const sql = (args: string[]) => execFileSync(tools.sqlTool, [...base, ...args], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', env });
  try {
    sql(['create-database']);
  } catch (err) {
    if (!/already exists/.test(String((err as { stderr?: string }).stderr ?? err))) throw err;
  }
  sql(['setup-schema', '-v', '0.0']);
  sql(['update-schema', '-d', path.join(tools.schemaDir, 'postgresql', 'v12', kind, 'versioned')]);
}

/**
 * A free loopback port below 32768: the cluster_membership table keeps ports in a PostgreSQL
 * `smallint`, so an ephemeral port from the OS (32768 and up) stops the service at start
 * ("value … is out of range for type smallint").
 */
async function freeSmallintPort(taken: Set<number>): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const p = 20_000 + Math.floor(Math.random() * 12_000);
    if (taken.has(p)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen(p, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (free) return p;
  }
  throw new Error('no free port between 20000 and 32000 on 127.0.0.1');
}

interface Ports {
  grpc: number;
  membership: number;
  http?: number;
}

/**
 * mTLS on the frontend: clients (SDK, CLI) must present a certificate signed by `clientCaFile`.
 * The server's own system worker reaches the frontend through the same mTLS (global.tls.systemWorker);
 * traffic between the internal services (internode) stays plain on loopback.
 */
export interface TemporalServerTls {
  /** The frontend's certificate and key (PEM files). */
  serverCertFile: string;
  serverKeyFile: string;
  /** CA(s) that signed the clients' certificates (requireClientAuth). */
  clientCaFile: string;
  /** CA that signed the server certificate (the system worker and the CLI verify the frontend with it). */
  serverCaFile: string;
  /** A client certificate and key for the server's system worker and the CLI calls this script makes. */
  clientCertFile: string;
  clientKeyFile: string;
  /** The name in the server certificate (its SAN). */
  serverName: string;
}

function tlsYaml(tls: TemporalServerTls): string {
  return `  tls:
    frontend:
      server:
        certFile: ${JSON.stringify(tls.serverCertFile)}
        keyFile: ${JSON.stringify(tls.serverKeyFile)}
        requireClientAuth: true
        clientCaFiles: [${JSON.stringify(tls.clientCaFile)}]
    systemWorker:
      certFile: ${JSON.stringify(tls.clientCertFile)}
      keyFile: ${JSON.stringify(tls.clientKeyFile)}
      client:
        serverName: ${JSON.stringify(tls.serverName)}
        rootCaFiles: [${JSON.stringify(tls.serverCaFile)}]
`;
}

/**
 * Bearer-token authorization on the frontend (what an SDK's API key is sent as): JWTs checked
 * against the keys at `jwksUrl` by the server's default claim mapper and authorizer
 * (permissions claim `permissions`, entries `<namespace>:<read|write|worker|admin>`).
 */
export interface TemporalServerAuth {
  jwksUrl: string;
  /** A token with `temporal-system:admin` for this script's own CLI calls. */
  adminToken: string;
}

function authYaml(auth: TemporalServerAuth): string {
  return `  authorization:
    jwtKeyProvider:
      keySourceURIs: [${JSON.stringify(auth.jwksUrl)}]
      refreshInterval: 1m
    permissionsClaimName: permissions
    authorizer: default
    claimMapper: default
`;
}

/** The CLI's flags for a cluster with frontend mTLS. */
function cliTlsFlags(tls: TemporalServerTls | undefined): string[] {
  if (!tls) return [];
  return ['--tls-cert-path', tls.clientCertFile, '--tls-key-path', tls.clientKeyFile, '--tls-ca-path', tls.serverCaFile, '--tls-server-name', tls.serverName];
}

function configYaml(pg: PostgresTarget, databases: { temporal: string; visibility: string }, ports: Record<ConfiguredService, Ports>, dynamicConfig: string, tls?: TemporalServerTls, auth?: TemporalServerAuth): string {
  const store = (db: string, conns: number) => `      sql:
        pluginName: postgres12
        databaseName: ${JSON.stringify(db)}
        connectAddr: ${JSON.stringify(`${pg.host}:${pg.port}`)}
        connectProtocol: tcp
        user: ${JSON.stringify(pg.user)}
        password: ${JSON.stringify(pg.password)}
        maxConns: ${conns}
        maxIdleConns: ${conns}
        maxConnLifetime: 1h`;
  const service = (s: ConfiguredService) => `  ${s}:
    rpc:
      grpcPort: ${ports[s].grpc}
      membershipPort: ${ports[s].membership}
      bindOnLocalHost: true${ports[s].http ? `\n      httpPort: ${ports[s].http}` : ''}`;
  return `# Written by scripts/temporal-server.ts: a loopback cluster on PostgreSQL.
log:
  stdout: true
  level: warn
persistence:
  defaultStore: default
  visibilityStore: visibility
  numHistoryShards: 4
  datastores:
    default:
${store(databases.temporal, 20)}
    visibility:
${store(databases.visibility, 4)}
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: 127.0.0.1
${tls ? tlsYaml(tls) : ''}${auth ? authYaml(auth) : ''}services:
${(ports['internal-frontend'] ? [...SERVICES, 'internal-frontend' as const] : SERVICES).map(service).join('\n')}
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: 127.0.0.1:${ports.frontend.grpc}
dcRedirectionPolicy:
  policy: noop
dynamicConfigClient:
  filepath: ${JSON.stringify(dynamicConfig)}
  pollInterval: 10s
`;
}

const DYNAMIC_CONFIG = `# Written by scripts/temporal-server.ts
frontend.enableUpdateWorkflowExecution:
  - value: true
frontend.enableUpdateWorkflowExecutionAsyncAccepted:
  - value: true
system.forceSearchAttributesCacheRefreshOnRead:
  - value: true
limit.maxIDLength:
  - value: 255
`;

export interface TemporalServerOptions {
  /** PostgreSQL superuser URL (the server and the SQL tool log in with it). */
  postgresUrl: string;
  /** Prefix of the two databases: `<prefix>` and `<prefix>_visibility`. @default "temporal" */
  databasePrefix?: string;
  /** Folder for the config files and the logs. */
  dir: string;
  /** Service groups, one OS process each. @default one process with all four services */
  groups?: TemporalService[][];
  /** @default "default" */
  namespace?: string;
  /** Called with each spawned PID (tests record them for the leftover check). */
  onSpawn?: (pid: number, what: string) => void;
  /** mTLS on the frontend (requireClientAuth). @default plain text */
  tls?: TemporalServerTls;
  /** Bearer-token (JWT) authorization on the frontend. @default none */
  authorization?: TemporalServerAuth;
}

export interface TemporalServerProcess {
  services: TemporalService[];
  pid: number;
  child: ChildProcess;
}

export interface TemporalServer {
  address: string;
  namespace: string;
  processes: TemporalServerProcess[];
  /** The process running `service`. */
  processOf(service: TemporalService): TemporalServerProcess;
  /** Start a group again (after a kill), on the same ports and databases. */
  restart(service: TemporalService): Promise<TemporalServerProcess>;
  /** SIGTERM every process (SIGKILL after 15 s); resolves when all have exited. */
  stop(): Promise<void>;
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function stopChild(child: ChildProcess, graceMs = 15_000): Promise<void> {
  return new Promise((resolve) => {
    if (exited(child)) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => !exited(child) && child.kill('SIGKILL'), graceMs).unref();
  });
}

async function waitUntil(what: string, timeoutMs: number, check: () => Promise<boolean>, alive: () => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    alive();
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`Temporal server: timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** A server process exited while the cluster was starting (as opposed to a timeout). */
class ServerExitedError extends Error {}

/**
 * Schema, config, processes, namespace and search attributes: a cluster ready for workers.
 * The ports are probed free and then released before the server binds them, so another process
 * can take one in between; when a server process exits during start, the start is tried again on
 * new ports (three tries; each failure is printed).
 */
export async function startTemporalServer(opts: TemporalServerOptions): Promise<TemporalServer> {
  const tools = ensureTemporalServer();
  const pg = postgresTarget(opts.postgresUrl);
  const prefix = opts.databasePrefix ?? 'temporal';
  const databases = { temporal: prefix, visibility: `${prefix}_visibility` };
  setupSchema(tools, pg, databases.temporal, 'temporal');
  setupSchema(tools, pg, databases.visibility, 'visibility');
  for (let attempt = 1; ; attempt++) {
    try {
      return await startProcesses(opts, tools, pg, databases);
    } catch (err) {
      if (!(err instanceof ServerExitedError) || attempt >= 3) throw err;
      process.stderr.write(`temporal-server: start attempt ${attempt} failed, trying again on new ports: ${err.message}\n`);
    }
  }
}

async function startProcesses(opts: TemporalServerOptions, tools: TemporalServerTools, pg: PostgresTarget, databases: { temporal: string; visibility: string }): Promise<TemporalServer> {
  const cli = ensureTemporalCli();

  const ports = {} as Record<ConfiguredService, Ports>;
  const taken = new Set<number>();
  const port = async () => {
    const p = await freeSmallintPort(taken);
    taken.add(p);
    return p;
  };
  for (const s of SERVICES) ports[s] = { grpc: await port(), membership: await port(), ...(s === 'frontend' ? { http: await port() } : {}) };
  if (opts.authorization) ports['internal-frontend'] = { grpc: await port(), membership: await port(), http: await port() };
  mkdirSync(opts.dir, { recursive: true });
  const dynamicConfig = path.join(opts.dir, 'dynamicconfig.yaml');
  writeFileSync(dynamicConfig, DYNAMIC_CONFIG);
  const configFile = path.join(opts.dir, 'temporal-server.yaml');
  // Authorization comes on after the set-up below: with it, the frontend's own internal calls
  // (adding search attributes) carry no token and are refused.
  writeFileSync(configFile, configYaml(pg, databases, ports, dynamicConfig, opts.tls), { mode: 0o600 }); // it holds the database password
  const address = `127.0.0.1:${ports.frontend.grpc}`;
  const namespace = opts.namespace ?? 'default';
  const groups = opts.groups ?? [[...SERVICES]];
  for (const s of SERVICES) if (!groups.some((g) => g.includes(s))) throw new Error(`Temporal server: no group runs the ${s} service`);

  const processes: TemporalServerProcess[] = [];
  const spawnGroup = (services: TemporalService[]): TemporalServerProcess => {
    const log = openSync(path.join(opts.dir, `${services.join('+')}.log`), 'a');
    const all: ConfiguredService[] = opts.authorization && services.includes('frontend') ? [...services, 'internal-frontend'] : services;
    const args = ['--config-file', configFile, ...(opts.authorization ? [] : ['--allow-no-auth']), 'start', ...all.flatMap((s) => ['--service', s])];
    const child = spawn(tools.server, args, { stdio: ['ignore', log, log] });
    if (child.pid === undefined) throw new Error('could not spawn temporal-server');
    opts.onSpawn?.(child.pid, `${tools.server} ${args.join(' ')}`);
    const p = { services, pid: child.pid, child };
    const i = processes.findIndex((x) => x.services.join() === services.join());
    if (i >= 0) processes[i] = p;
    else processes.push(p);
    return p;
  };
  const alive = () => {
    for (const p of processes) {
      if (!exited(p.child)) continue;
      const log = path.join(opts.dir, `${p.services.join('+')}.log`);
      const tail = readFileSync(log, 'utf8')
        .trim()
        .split('\n')
        .slice(-4)
        .map((l) => l.replace(/,"(?:logging-call-at|stacktrace)":"[^"]*"/g, ''))
        // fx errors nest "could not build arguments for …" many times; the cause is at the end.
        .map((l) => (l.length > 900 ? `${l.slice(0, 300)} … ${l.slice(-600)}` : l))
        .join('\n');
      throw new ServerExitedError(`temporal-server (${p.services.join(', ')}) exited (${p.child.exitCode ?? p.child.signalCode}); the end of ${log}:\n${tail}`);
    }
  };
  const stop = async () => {
    await Promise.all(processes.map((p) => stopChild(p.child)));
  };
  const temporal = (args: string[]) => run(cli, [...args, '--address', address, ...cliTlsFlags(opts.tls)], {
      timeout: 15_000,
      // The token through the environment, not the command line that `ps` shows.
      ...(opts.authorization ? { env: { ...process.env, TEMPORAL_API_KEY: opts.authorization.adminToken } } : {}),
    });

  try {
    // Each process initialises the cluster metadata of an empty database at start; two doing it
    // at once fail one of them ("SaveClusterMetadata encountered version mismatch"). So the
    // frontend's process first, alone, and the other groups once it serves.
    const first = groups.filter((g) => g.includes('frontend'));
    for (const g of first) spawnGroup(g);
    await waitUntil('the frontend to serve', 120_000, async () => /SERVING/.test((await temporal(['operator', 'cluster', 'health'])).stdout), alive);
    for (const g of groups) if (!first.includes(g)) spawnGroup(g);
    // A fresh cluster has no namespace at all, not even "default".
    await temporal(['operator', 'namespace', 'create', '--namespace', namespace, '--retention', '24h']).catch((err: { stderr?: string }) => {
      if (!/already|exists/i.test(err.stderr ?? '')) throw err;
    });
    checkSearchAttributeBudget(SEARCH_ATTRIBUTE_FLAGS);
    for (const flag of SEARCH_ATTRIBUTE_FLAGS) {
      const [name, type] = flag.split('=');
      await temporal(['operator', 'search-attribute', 'create', '--namespace', namespace, '--name', name!, '--type', type!]).catch((err: { stderr?: string }) => {
        if (!/already|exists/i.test(err.stderr ?? '')) throw err;
      });
    }
    // The namespace cache refreshes on its own schedule: usable once a visibility query in it answers.
    await waitUntil(`namespace "${namespace}" to be usable`, 120_000, async () => {
      await temporal(['workflow', 'count', '--namespace', namespace]);
      const listed = (await temporal(['operator', 'search-attribute', 'list', '--namespace', namespace])).stdout;
      return SEARCH_ATTRIBUTE_FLAGS.every((f) => listed.includes(f.split('=')[0]!));
    }, alive);
    if (opts.authorization) {
      await stop();
      writeFileSync(configFile, configYaml(pg, databases, ports, dynamicConfig, opts.tls, opts.authorization), { mode: 0o600 });
      for (const g of groups) spawnGroup(g);
      await waitUntil('the frontend to serve with authorization', 120_000, async () => {
        if (!/SERVING/.test((await temporal(['operator', 'cluster', 'health'])).stdout)) return false;
        await temporal(['workflow', 'count', '--namespace', namespace]); // the admin token is accepted
        return true;
      }, alive);
    }
  } catch (err) {
    await stop();
    throw err;
  }

  const processOf = (service: TemporalService) => {
    const p = processes.find((x) => x.services.includes(service));
    if (!p) throw new Error(`no process runs ${service}`);
    return p;
  };
  return {
    address,
    namespace,
    processes,
    processOf,
    async restart(service) {
      const old = processOf(service);
      // A process just killed is reaped a moment later: wait for its exit event.
      if (!exited(old.child)) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 10_000);
          old.child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      if (!exited(old.child)) throw new Error(`temporal-server (${old.services.join(', ')}) pid ${old.pid} still runs; kill it first`);
      const p = spawnGroup(old.services);
      if (old.services.includes('frontend')) await waitUntil('the frontend to serve again', 120_000, async () => /SERVING/.test((await temporal(['operator', 'cluster', 'health'])).stdout), alive);
      return p;
    },
    stop,
  };
}
