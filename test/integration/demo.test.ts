/**
 * `npm start` as a new user runs it: workers/demo.ts as a child process (its own data dir, the
 * test's dev server), far enough to see the schedules registered, the price change stop at the
 * approval gate, the printed command approve it when run in a shell, and the sync go on.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { demoPaths, seedDemo } from '../../demo/seed';
import { queryDb } from '../helpers/demo-env';
import { toMinorUnits } from '../../mappings/dsl/money';
import { ROOT, startDevEnv, type DevEnv } from '../helpers/env';
import { spawnDemo, type DemoProcess } from '../helpers/demo-process';

jest.setTimeout(300_000);

let env: DevEnv;
let demo: DemoProcess | null = null;
let dir: string;

beforeAll(async () => {
  env = await startDevEnv();
  dir = path.join(env.tmp, 'demo');
  // A small seed: the demo seeds only a CRM without the seed marker, so it keeps this one.
  seedDemo(dir, { accounts: 300, contacts: 300, products: 100 });
  demo = spawnDemo([], { DEMO_DATA_DIR: dir, TEMPORAL_ADDRESS: env.server.address, TEMPORAL_UI_URL: env.server.uiUrl ?? 'http://127.0.0.1:8233' });
});

afterAll(async () => {
  await demo?.stop();
  await env?.teardown();
});

const line = (re: RegExp) => demo!.line(re);

test('the demo registers its schedules, stops at the price gate, and the printed command approves it', async () => {
  await line(/^Schedules: .*\n {2}see them: .*\/namespaces\/default\/schedules$/m);
  const ids: string[] = [];
  for await (const s of env.client.schedule.list()) ids.push(s.scheduleId);
  expect(ids.sort()).toEqual(['pair:demo-customers', 'pipeline:demo-accounts', 'pipeline:demo-contacts', 'pipeline:demo-products']);
  expect((await env.client.schedule.getHandle('pipeline:demo-products').describe()).state.paused).toBe(true);

  // Money as people read it, through the money module: "817.83 EUR → 1,226.75 EUR".
  const change = await line(/^Price change in the CRM: product #(\d+) ".*" ([\d,]+\.\d{2}) EUR → ([\d,]+\.\d{2}) EUR \(\+50%/m);
  const [, productId, before, after] = change;
  const afterMinor = toMinorUnits(after!, 'EUR');
  expect(afterMinor).toBe(Math.round(toMinorUnits(before!, 'EUR') * 1.5));
  await line(/^Approval needed: demo-products page 1 \(workflow (\S+)\) waits for pricing-lead:$/m);
  expect(demo!.output()).toMatch(/^ {2}listPrice\.amountMinor changes by more than 20% on 1 record\(s\); largest: \d+ ([\d,]+\.\d{2}) EUR → ([\d,]+\.\d{2}) EUR \(50\.0%\)$/m);
  expect(demo!.output()).toContain(`largest: ${productId} ${before} EUR → ${after} EUR (50.0%)`);
  const command = (await line(/^ {2}(npm run temporal:cli -- workflow update execute .*)$/m))[1]!;
  expect(command).toContain(`--address ${env.server.address}`);

  // Nothing of the gated page is written before the decision.
  const price = () => queryDb<{ p: number }>(demoPaths(dir).erp, 'SELECT list_price_minor p FROM products WHERE external_key = ?', productId)[0]!.p;
  expect(price()).not.toBe(afterMinor);

  // The command exactly as printed, in a shell.
  const run = spawnSync('bash', ['-c', command], { cwd: ROOT, encoding: 'utf8', env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TEMPORAL_'))), timeout: 120_000 });
  expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: expect.any(String) });
  expect(run.stdout).toMatch(/approved:true/);

  await line(/^Approval: demo-products approved by pricing-lead via update at \S+; the sync went on: 1 updated, \d+ unchanged, status completed$/m);
  expect(price()).toBe(afterMinor);

  // One line per event: no stack dump anywhere in the console.
  expect(demo!.output()).not.toMatch(/^\s+at .+\(.+:\d+:\d+\)$/m);
});
