/**
 * Starts a Temporal dev server (the pinned CLI) with a SQLite file and the project's search
 * attributes, on loopback. `npm run temporal` runs it in the foreground with the Web UI.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { SEARCH_ATTRIBUTE_FLAGS } from '../contracts/search-attributes';
import { loadEnvFile } from '../workers/env-file';
import { ensureTemporalCli } from './toolchain';

export interface DevServer {
  address: string;
  uiUrl: string | null;
  pid: number;
  stop(): Promise<void>;
}

export interface DevServerOptions {
  /** SQLite file for persistence; omit for in-memory. */
  dbFile?: string;
  port?: number;
  /** Web UI port; null = headless. */
  uiPort?: number | null;
  /** The codec server the Web UI decodes payloads through (`--ui-codec-endpoint`), e.g. http://127.0.0.1:8888. */
  uiCodecEndpoint?: string;
  /** Where the server's output goes (a file), else ignored. */
  logFile?: string;
  /** Keep the server running after this process exits (the demo leaves the UI up). */
  detached?: boolean;
  /** Register the project's search attributes (false: a bare server, for tests). @default true */
  searchAttributes?: boolean;
  /** More dynamic config values (`--dynamic-config-value name=value`), e.g. `{ 'system.enableActivityEagerExecution': 'false' }` in a benchmark. */
  dynamicConfig?: Record<string, string>;
}

/** Where `npm run temporal` (and `npm start`, when it starts one) runs the dev server. */
export interface DevServerSettings {
  port: number;
  uiPort: number;
  dbFile: string;
}

/**
 * Dev server settings from the environment: TEMPORAL_PORT (default: the port of TEMPORAL_ADDRESS,
 * else 7233), TEMPORAL_UI_PORT (8233), TEMPORAL_DB_FILE (.data/temporal.db). The dev server
 * listens on loopback only, so a TEMPORAL_ADDRESS naming another host is refused, as is a
 * TEMPORAL_PORT that contradicts TEMPORAL_ADDRESS (workers would look elsewhere).
 */
export function devServerSettings(env: NodeJS.ProcessEnv): DevServerSettings {
  const num = (name: string, fallback: number): number => {
    const v = env[name];
    if (v === undefined || v === '') return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`${name}=${v}: expected a port number (1-65535)`);
    return n;
  };
  let addressPort: number | undefined;
  const address = env.TEMPORAL_ADDRESS;
  if (address) {
    const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(address);
    if (!m) throw new Error(`TEMPORAL_ADDRESS=${address}: expected host:port, e.g. 127.0.0.1:7233`);
    const host = m[1] ?? m[2]!;
    if (!['127.0.0.1', 'localhost', '::1'].includes(host)) {
      throw new Error(`TEMPORAL_ADDRESS=${address} is not on this machine: the dev server listens on 127.0.0.1 only; unset it or use 127.0.0.1:<port>`);
    }
    addressPort = Number(m[3]);
  }
  const port = num('TEMPORAL_PORT', addressPort ?? 7233);
  if (addressPort !== undefined && port !== addressPort) {
    throw new Error(`TEMPORAL_PORT=${port} contradicts TEMPORAL_ADDRESS=${address}: workers would look for the server on ${addressPort}; set one of them`);
  }
  return { port, uiPort: num('TEMPORAL_UI_PORT', 8233), dbFile: env.TEMPORAL_DB_FILE || '.data/temporal.db' };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export function portAnswers(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** The server exited at start-up and its port answers: another process took the port first. */
class PortTaken extends Error {}

async function waitReady(cli: string, address: string, port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const { execFile } = await import('node:child_process');
  for (;;) {
    if (child.exitCode !== null) {
      if (await portAnswers(port)) throw new PortTaken(`temporal dev server exited with code ${child.exitCode}: port ${port} is taken`);
      throw new Error(`temporal dev server exited with code ${child.exitCode}`);
    }
    const ok = await new Promise<boolean>((resolve) => {
      execFile(cli, ['operator', 'cluster', 'health', '--address', address], { timeout: 5000 }, (err, stdout) =>
        resolve(!err && /SERVING/.test(stdout)),
      );
    }).then(
      // SERVING can come before the dev server has registered its `default` namespace; a client
      // that starts a workflow then gets NamespaceNotFound (seen on a loaded machine).
      (serving) =>
        serving &&
        new Promise<boolean>((resolve) => {
          execFile(cli, ['operator', 'namespace', 'describe', '--namespace', 'default', '--address', address], { timeout: 5000 }, (err) => resolve(!err));
        }),
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`temporal dev server at ${address} not ready after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Starts a dev server on `opts.port`, or on a free port: `freePort()` releases the port before
 * the server binds it, so another process may take it in between; a server that then fails to
 * bind is started again on another free port (three tries).
 */
export async function startDevServer(opts: DevServerOptions = {}): Promise<DevServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startDevServerOn(opts.port ?? (await freePort()), opts);
    } catch (err) {
      if (!(err instanceof PortTaken) || opts.port !== undefined || attempt >= 3) throw err;
    }
  }
}

async function startDevServerOn(port: number, opts: DevServerOptions): Promise<DevServer> {
  const cli = ensureTemporalCli();
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--log-level', 'warn'];
  if (opts.dbFile) {
    mkdirSync(path.dirname(path.resolve(opts.dbFile)), { recursive: true });
    args.push('--db-filename', opts.dbFile);
  }
  if (opts.uiPort) {
    args.push('--ui-port', String(opts.uiPort), '--ui-ip', '127.0.0.1');
    if (opts.uiCodecEndpoint) args.push('--ui-codec-endpoint', opts.uiCodecEndpoint);
  } else args.push('--headless');
  if (opts.searchAttributes !== false) for (const sa of SEARCH_ATTRIBUTE_FLAGS) args.push('--search-attribute', sa);
  args.push('--dynamic-config-value', 'frontend.enableUpdateWorkflowExecution=true');
  args.push('--dynamic-config-value', 'frontend.enableUpdateWorkflowExecutionAsyncAccepted=true');
  for (const [name, value] of Object.entries(opts.dynamicConfig ?? {})) args.push('--dynamic-config-value', `${name}=${value}`);
  let out: 'ignore' | number = 'ignore';
  if (opts.logFile) {
    mkdirSync(path.dirname(path.resolve(opts.logFile)), { recursive: true });
    out = openSync(opts.logFile, 'a');
  }
  const child = spawn(cli, args, { stdio: ['ignore', out, out], detached: opts.detached ?? false });
  if (opts.detached) child.unref();
  const address = `127.0.0.1:${port}`;
  try {
    await waitReady(cli, address, port, child, 60_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    address,
    uiUrl: opts.uiPort ? `http://127.0.0.1:${opts.uiPort}` : null,
    pid: child.pid!,
    stop: () =>
      new Promise<void>((resolve) => {
        // A server killed by a signal (a crash test's SIGKILL) has signalCode set and exitCode null.
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.exitCode === null && child.kill('SIGKILL'), 10_000).unref();
      }),
  };
}

if (require.main === module) {
  Promise.resolve()
    .then(() => {
      loadEnvFile();
      const codec = process.env.TEMPORAL_UI_CODEC_ENDPOINT;
      return startDevServer({ ...devServerSettings(process.env), ...(codec ? { uiCodecEndpoint: codec } : {}) });
    })
    .then((s) => {
      console.log(`Temporal dev server on ${s.address}, Web UI ${s.uiUrl} (pid ${s.pid}); Ctrl-C stops it`);
      if (process.env.TEMPORAL_UI_CODEC_ENDPOINT) console.log(`Web UI decodes payloads through ${process.env.TEMPORAL_UI_CODEC_ENDPOINT} (TEMPORAL_UI_CODEC_ENDPOINT; start it with npm run codec-server)`);
      const stop = () => void s.stop().then(() => process.exit(0));
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    })
    .catch((err: unknown) => {
      console.error(err instanceof Error ? err.message : String(err));
      process.exit(1);
    });
}
