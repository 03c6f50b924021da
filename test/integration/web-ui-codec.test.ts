/**
 * The dev server's Web UI with the codec server (issue 10 item 4): a sync runs with encrypted
 * payloads; headless Chromium opens the workflow's page in the Web UI. Started with
 * `--ui-codec-endpoint` pointing at the codec server, the page shows the decoded input and result;
 * the same history under a UI without the endpoint shows only encoded data.
 */
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { TASK_QUEUES } from '../../contracts/queues';
import type { SyncResult } from '../../contracts/sync';
import { seedDemo } from '../../demo/seed';
import { freePort, portAnswers, startDevServer, type DevServer } from '../../scripts/dev-server';
import { codecFromEnv, ENCODING_ENCRYPTED } from '../../workers/codec';
import { startCodecServer, type CodecServer } from '../../workers/codec-server';
import { createSyncWorkers } from '../../workers/worker';
import { startBrowser, type HeadlessBrowser } from '../helpers/browser';
import { installTestRuntime, testWorkflowBundle } from '../helpers/env';
import { waitFor } from '../helpers/processes';

jest.setTimeout(300_000);

const KEYS = `k-ui:${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64')}`;
const WORKFLOW_ID = 'ui-codec-products';
let tmp: string;
let server: DevServer | undefined;
let codecServer: CodecServer | undefined;
let browser: HeadlessBrowser | undefined;
let browserStarting: Promise<HeadlessBrowser> | undefined;
let runId: string;
let result: SyncResult;

/** A dev server with the Web UI on the SQLite file of this test, with or without the codec endpoint. */
async function serverWithUi(uiPort: number, codecUrl?: string): Promise<DevServer> {
  return startDevServer({ dbFile: path.join(tmp, 'temporal.db'), logFile: path.join(tmp, 'temporal.log'), uiPort, ...(codecUrl ? { uiCodecEndpoint: codecUrl } : {}) });
}

beforeAll(async () => {
  installTestRuntime();
  // Chromium starts while the sync runs; afterAll stops it even when the rest fails.
  browserStarting = startBrowser();
  browserStarting.catch(() => undefined);
  tmp = mkdtempSync(path.join(os.tmpdir(), 'crm-sync-ui-'));
  const dir = path.join(tmp, 'demo');
  seedDemo(dir, { accounts: 0, contacts: 0, products: 50 });
  const uiPort = await freePort();
  codecServer = await startCodecServer({ codec: codecFromEnv({ SYNC_CODEC_KEYS: KEYS })!, port: 0, corsOrigins: [`http://127.0.0.1:${uiPort}`, `http://localhost:${uiPort}`] });
  server = await serverWithUi(uiPort, codecServer.url);
  const connection = await Connection.connect({ address: server.address });
  const native = await NativeConnection.connect({ address: server.address });
  try {
    const workers = await createSyncWorkers({ connection: native, namespace: 'default', families: ['sql'], stateDb: path.join(dir, 'state.db'), env: { DEMO_DATA_DIR: dir, SYNC_CODEC_KEYS: KEYS }, workflowBundle: await testWorkflowBundle() });
    const running = workers.run();
    try {
      const client = new Client({ connection, dataConverter: { payloadCodecs: [codecFromEnv({ SYNC_CODEC_KEYS: KEYS })!] } });
      const h = await client.workflow.start('syncPipeline', { taskQueue: TASK_QUEUES.sql, workflowId: WORKFLOW_ID, args: [{ pipeline: 'demo-products', pageSize: 37 }] });
      runId = h.firstExecutionRunId;
      result = await h.result();
    } finally {
      workers.shutdown();
      await running;
    }
  } finally {
    await native.close();
    await connection.close();
  }
  browser = await browserStarting;
});

afterAll(async () => {
  await (browser ?? (await browserStarting?.catch(() => undefined)))?.stop();
  await server?.stop();
  await codecServer?.close();
  rmSync(tmp, { recursive: true, force: true });
});

/**
 * The workflow's page in the Web UI, once its history has rendered; returns its text. With
 * `settleMs`, waits that long more (payloads are decoded, or not, after the page renders): a test
 * that then polls for what decoding shows needs no such wait.
 */
async function workflowPageText(page: Page, settleMs = 0): Promise<string> {
  const ui = server!.uiUrl!;
  await waitFor(() => portAnswers(Number(new URL(ui).port)), 'the Web UI to listen', 60_000, 200);
  await page.setViewportSize({ width: 1600, height: 2400 });
  // A UI that has just started may answer before the server behind it does, and render the page
  // without its history: the page is loaded again then (three tries of 30 s).
  for (let attempt = 1; ; attempt++) {
    await page.goto(`${ui}/namespaces/default/workflows/${WORKFLOW_ID}/${runId}/history`, { waitUntil: 'domcontentloaded' });
    try {
      await page.getByText('Workflow Execution Completed').first().waitFor({ state: 'attached', timeout: 30_000 });
      break;
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }
  await page.getByText('Result').first().waitFor({ state: 'attached', timeout: 30_000 });
  if (settleMs > 0) await page.waitForTimeout(settleMs);
  const text = await page.locator('body').innerText();
  return text;
}

test('with --ui-codec-endpoint the Web UI shows the decoded input and result of the sync', async () => {
  expect(result.status).toBe('completed');
  const page = await browser!.browser.newPage();
  const text = await workflowPageText(page);
  // "pageSize" exists only inside the (encrypted) input payload; "durationMs" only inside the result.
  await page.getByText('"pageSize"', { exact: false }).first().waitFor({ state: 'attached', timeout: 30_000 });
  const decoded = await page.locator('body').innerText();
  expect(decoded).toMatch(/"pageSize":\s*37/);
  expect(decoded).toMatch(/"durationMs":\s*\d+/);
  expect(decoded).not.toContain(ENCODING_ENCRYPTED);
  expect(text).toContain('syncPipeline');
  await page.close();
});

test('without the codec endpoint the same page shows only encoded data', async () => {
  await server!.stop();
  server = await serverWithUi(await freePort()); // the same SQLite file, a UI without the endpoint
  const page = await browser!.browser.newPage();
  // A negative claim: give a decoder that should not exist the time it would take.
  const text = await workflowPageText(page, 3000);
  expect(text).not.toContain('pageSize');
  expect(text).not.toContain('durationMs');
  // Input and result are shown as what history holds: the ciphertext, base64.
  expect(text).toMatch(/\nInput\n"[A-Za-z0-9+/]{40,}={0,2}"\nResult\n"[A-Za-z0-9+/]{40,}={0,2}"\n/);
  expect(text).toContain('syncPipeline'); // the page itself did render
  await page.close();
});
