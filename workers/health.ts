/**
 * The worker's health endpoint for process managers and load balancers (WORKER_HEALTH_PORT):
 *  - `GET /healthz` (liveness): 200 while the process is up and no worker has failed, else 503;
 *  - `GET /readyz` (readiness): 200 only while every worker polls its task queue; 503 while
 *    starting (bundling, connecting) and while draining after SIGTERM/SIGINT, when the workers
 *    take no new tasks and finish the running ones within WORKER_SHUTDOWN_GRACE_SECONDS.
 * Both answer JSON `{ status, workers: [{ taskQueue, state }] }`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { State, Worker } from '@temporalio/worker';

export type HealthStatus = 'starting' | 'ready' | 'draining' | 'stopped' | 'failed';

export interface HealthReport {
  status: HealthStatus;
  workers: { taskQueue: string; state: State }[];
}

export interface HealthServer {
  url: string;
  /** The workers whose state the endpoint reports (once created). */
  setWorkers(workers: readonly Worker[]): void;
  /** Shutdown has begun (a signal): not ready from now on, whatever the workers' states say yet. */
  markDraining(): void;
  report(): HealthReport;
  close(): Promise<void>;
}

const DRAINING: readonly State[] = ['STOPPING', 'DRAINING', 'DRAINED'];

export function healthReport(workers: readonly Pick<Worker, 'getState' | 'options'>[] | null, draining: boolean): HealthReport {
  const list = (workers ?? []).map((w) => ({ taskQueue: w.options.taskQueue, state: w.getState() }));
  const states = list.map((w) => w.state);
  let status: HealthStatus;
  if (states.includes('FAILED')) status = 'failed';
  else if (workers === null) status = draining ? 'draining' : 'starting';
  else if (states.length && states.every((s) => s === 'STOPPED')) status = 'stopped';
  else if (draining || states.some((s) => DRAINING.includes(s) || s === 'STOPPED')) status = 'draining';
  else if (states.every((s) => s === 'RUNNING')) status = 'ready';
  else status = 'starting'; // INITIALIZED: created, not yet polling
  return { status, workers: list };
}

export async function startHealthServer(opts: { host: string; port: number }): Promise<HealthServer> {
  let workers: readonly Worker[] | null = null;
  let draining = false;
  const report = () => healthReport(workers, draining);
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path !== '/healthz' && path !== '/readyz') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /healthz or /readyz\n');
      return;
    }
    const r = report();
    const ok = path === '/readyz' ? r.status === 'ready' : r.status !== 'failed';
    res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(r) + '\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}`,
    setWorkers(w) {
      workers = w;
    },
    markDraining() {
      draining = true;
    },
    report,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
