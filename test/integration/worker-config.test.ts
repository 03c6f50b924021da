import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDevServer } from '../../scripts/dev-server';
import { currentStamp } from '../../workers/workflow-bundle';
import { ROOT } from '../helpers/env';
import { spawnWorker, waitExit } from '../helpers/worker-process';

jest.setTimeout(60_000);

/** The worker process refuses to start on a broken file, before it connects to anything. */
async function startWith(mutate: (configDir: string, mappingsDir: string) => void): Promise<{ code: number | null; output: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'worker-config-'));
  const configDir = path.join(dir, 'config');
  const mappingsDir = path.join(dir, 'mappings');
  cpSync(path.join(ROOT, 'config'), configDir, { recursive: true });
  cpSync(path.join(ROOT, 'mappings/definitions'), mappingsDir, { recursive: true });
  mutate(configDir, mappingsDir);
  // an address nothing listens on: the worker must fail on the config before trying it
  const w = spawnWorker({ SYNC_CONFIG_DIR: configDir, SYNC_MAPPINGS_DIR: mappingsDir, TEMPORAL_ADDRESS: '127.0.0.1:1' });
  w.ready.catch(() => undefined);
  await waitExit(w.child);
  return { code: w.child.exitCode, output: w.output() };
}

test('a broken pipeline file stops the worker naming the file and the path', async () => {
  const { code, output } = await startWith((configDir) => {
    const file = path.join(configDir, 'pipelines', 'demo-accounts.json');
    writeFileSync(file, JSON.stringify({ name: 'demo-accounts', family: 'sql', source: { system: 'demo-crm', entity: 'accounts' }, target: { system: 'demo-erp', entity: 'customers' }, mapping: 'crm-account-to-customer', pageSize: 0 }));
  });
  expect(code).toBe(1);
  expect(output).toMatch(/config\/pipelines\/demo-accounts\.json: pageSize: Too small: expected number to be >=1/);
});

test('a broken mapping file stops the worker naming the file and the path', async () => {
  const { code, output } = await startWith((_c, mappingsDir) => {
    const file = path.join(mappingsDir, 'crm-contact-to-contact.json');
    writeFileSync(file, JSON.stringify({ name: 'crm-contact-to-contact', target: 'Contact', fields: { lastName: { from: 'full_name', transform: ['trim', { splitName: 'middle' }] } } }));
  });
  expect(code).toBe(1);
  expect(output).toMatch(/mappings\/crm-contact-to-contact\.json: fields\.lastName\.transform\[1\]/);
});

test('a stale prebuilt workflow bundle stops the worker naming WORKFLOW_BUNDLE_PATH and the fix', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'worker-bundle-'));
  const file = path.join(dir, 'workflow-bundle.js');
  // stamped as npm run build:workflows does, from other sources than this checkout's
  writeFileSync(file, `/* crm-erp-sync workflow bundle ${JSON.stringify({ ...currentStamp(), sourceHash: 'f'.repeat(64) })} */var __TEMPORAL__;`);
  const w = spawnWorker({ WORKFLOW_BUNDLE_PATH: file, TEMPORAL_ADDRESS: '127.0.0.1:1' });
  w.ready.catch(() => undefined);
  await waitExit(w.child);
  expect(w.child.exitCode).toBe(1);
  expect(w.output()).toContain(`WORKFLOW_BUNDLE_PATH: the workflow bundle ${file} is stale: sourceHash ${'f'.repeat(64)} (bundle)`);
  expect(w.output()).toContain(`npm run build:workflows -- ${file}`);
});

test('a worker pointed at a namespace without the search attributes refuses to start and prints the commands', async () => {
  // a dev server without the project's search attributes (on a free port, ready when healthy)
  const server = await startDevServer({ searchAttributes: false });
  try {
    const w = spawnWorker({ TEMPORAL_ADDRESS: server.address, DEMO_DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'nosa-')) });
    w.ready.catch(() => undefined);
    await waitExit(w.child);
    expect(w.child.exitCode).toBe(1);
    expect(w.output()).toMatch(/lacks the search attributes SyncPipeline=Keyword, SyncEntity=Keyword, SyncStatus=Keyword, SyncRecordsRead=Int/);
    expect(w.output()).toMatch(/temporal operator search-attribute create --namespace default --name SyncPipeline --type Keyword/);
  } finally {
    await server.stop();
  }
});
