import { Client, Connection } from '@temporalio/client';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { TASK_QUEUES } from '../../contracts/queues';
import { seedDemo } from '../../demo/seed';
import { freePort, portAnswers, startDevServer, type DevServer } from '../../scripts/dev-server';
import type { HealthReport } from '../../workers/health';
import { ROOT } from '../helpers/env';
import { recordPid, waitFor } from '../helpers/processes';
import { spawnWorker, stopAllWorkers, waitExit } from '../helpers/worker-process';

/**
 * The worker's health endpoint, on a real worker process: ready while it polls; after SIGTERM,
 * not ready ("draining", 503) while the running activity finishes, yet alive (/healthz 200); then
 * the process exits cleanly and the endpoint is gone. The activity is held in flight by a HubSpot
 * base URL that accepts requests and answers none until the test lets go, so the draining window
 * lasts exactly as long as the test needs to look at it.
 */

jest.setTimeout(180_000);

const tmp = mkdtempSync(path.join(os.tmpdir(), 'crm-erp-sync-health-'));
let server: DevServer | undefined;
let connection: Connection | undefined;
const held = new Set<Socket>();
const requests: string[] = [];
let released = false;
const blackHole = http.createServer((req, res) => {
  requests.push(`${req.method} ${req.url}`);
  if (released) res.writeHead(401, { 'content-type': 'application/json' }).end('{"status":"error","category":"INVALID_AUTHENTICATION"}');
  else held.add(req.socket); // never answered
});

afterAll(async () => {
  for (const s of held) s.destroy();
  await new Promise<void>((r) => blackHole.close(() => r()));
  await stopAllWorkers();
  await connection?.close().catch(() => undefined);
  await server?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

async function probe(url: string): Promise<{ code: number; body: HealthReport }> {
  const res = await fetch(url);
  return { code: res.status, body: (await res.json()) as HealthReport };
}

test('ready while polling; draining (503 on /readyz, 200 on /healthz) after SIGTERM while an activity runs; then a clean exit', async () => {
  server = await startDevServer({ logFile: path.join(tmp, 'temporal.log') });
  recordPid(server.pid, 'temporal server start-dev');
  await new Promise<void>((r) => blackHole.listen(0, '127.0.0.1', () => r()));
  const hubspot = `http://127.0.0.1:${(blackHole.address() as AddressInfo).port}`;

  // The shipped config, with a HubSpot request timeout far beyond the test: only the test ends the hang.
  const configDir = path.join(tmp, 'config');
  cpSync(path.join(ROOT, 'config'), configDir, { recursive: true });
  const systems = JSON.parse(readFileSync(path.join(configDir, 'systems.json'), 'utf8')) as Record<string, Record<string, unknown>>;
  systems.hubspot!.requestTimeoutSeconds = 600; // the most it allows
  writeFileSync(path.join(configDir, 'systems.json'), JSON.stringify(systems, null, 2));
  const demo = path.join(tmp, 'demo');
  seedDemo(demo, { accounts: 1, contacts: 0, products: 0 });

  const port = await freePort();
  const worker = spawnWorker({
    TEMPORAL_ADDRESS: server.address,
    SYNC_CONFIG_DIR: configDir,
    DEMO_DATA_DIR: demo,
    SYNC_STATE_DB: path.join(demo, 'state.db'),
    WORKER_FAMILIES: 'hubspot',
    HUBSPOT_BASE_PATH: hubspot,
    HUBSPOT_ACCESS_TOKEN: 'pat-na1-health-test',
    HUBSPOT_GOVERNOR_DB: path.join(tmp, 'governor.db'),
    WORKER_HEALTH_PORT: String(port),
    WORKER_SHUTDOWN_GRACE_SECONDS: '600',
  });
  const base = `http://127.0.0.1:${port}`;
  await worker.ready;
  expect(worker.output()).toContain(`health endpoint on ${base}`);

  const ready = await probe(`${base}/readyz`);
  // The family's queue and the process's own queue (held pages are written there, throughput-v1).
  expect(ready.code).toBe(200);
  expect(ready.body.status).toBe('ready');
  expect(ready.body.workers).toEqual([
    { taskQueue: TASK_QUEUES.hubspot, state: 'RUNNING' },
    { taskQueue: expect.stringMatching(new RegExp(`^${TASK_QUEUES.hubspot.replace(/\./g, '\\.')}\\.worker\\.`)), state: 'RUNNING' },
  ]);
  expect((await probe(`${base}/healthz`)).code).toBe(200);
  expect((await fetch(`${base}/other`)).status).toBe(404);

  connection = await Connection.connect({ address: server.address });
  const handle = await new Client({ connection }).workflow.start('syncPipeline', {
    taskQueue: TASK_QUEUES.hubspot,
    workflowId: 'health-draining',
    args: [{ pipeline: 'hubspot-companies-to-erp' }],
  });
  await waitFor(() => requests.length > 0, 'the sync to call HubSpot (an activity in flight)', 60_000, 50);
  expect(held.size).toBeGreaterThan(0);

  worker.child.kill('SIGTERM');
  const draining = await waitFor(
    async () => {
      const r = await probe(`${base}/readyz`);
      return r.body.status === 'draining' ? r : null;
    },
    '/readyz to say draining',
    30_000,
    50,
  );
  expect(draining.code).toBe(503);
  const alive = await probe(`${base}/healthz`);
  expect(alive.code).toBe(200);
  expect(alive.body.status).toBe('draining');
  // Still draining because of the held request: the worker has not exited.
  expect(worker.child.exitCode).toBeNull();
  expect([...held].some((s) => !s.destroyed)).toBe(true);

  // Let go: the request fails (and any retry is refused at once), the activity ends, the worker
  // finishes draining and exits.
  released = true;
  for (const s of held) s.destroy();
  const t0 = Date.now();
  await waitExit(worker.child);
  console.log(`worker-health: exited ${Date.now() - t0} ms after the held request was let go; ${requests.length} HubSpot requests`);
  expect(worker.child.exitCode).toBe(0);
  expect(await portAnswers(port)).toBe(false);
  await handle.terminate('test over');
});
