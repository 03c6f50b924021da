/**
 * `npm start -- --erp tryton` as a child process: the demo starts a real Tryton through
 * scripts/tryton.ts, and one won deal goes through orderToCash to paid, each step printed.
 * One deal only: Tryton tests are slow.
 */
import path from 'node:path';
import { orderWorkflowId, type OrderToCashResult } from '../../contracts/orders';
import { demoPaths, seedDemo } from '../../demo/seed';
import { queryDb } from '../helpers/demo-env';
import { spawnDemo, type DemoProcess } from '../helpers/demo-process';
import { startDevEnv, type DevEnv } from '../helpers/env';

jest.setTimeout(600_000);

let env: DevEnv;
let demo: DemoProcess | null = null;
let dir: string;

beforeAll(async () => {
  env = await startDevEnv();
  dir = path.join(env.tmp, 'demo');
  seedDemo(dir, { accounts: 300, contacts: 0, products: 100 });
  demo = spawnDemo(['--erp', 'tryton'], { DEMO_DATA_DIR: dir, TEMPORAL_ADDRESS: env.server.address });
});

afterAll(async () => {
  await demo?.stop(60_000); // the demo stops its Tryton (by PID) on Ctrl-C
  await env?.teardown();
});

test('the Tryton variant takes one won deal through orderToCash to paid and prints each step', async () => {
  const [, url] = await demo!.line(/^Tryton on (http:\/\/127\.0\.0\.1:\d+), database \S+$/m, 480_000);
  const [, dealId] = await demo!.line(/^Order to cash: won deal (\d+) → Tryton (\S+) /m, 300_000);
  expect(demo!.output()).toContain(`→ Tryton ${url} `);
  const [, orderNumber, invoiceNumber] = await demo!.line(new RegExp(`^Order to cash: deal ${dealId} paid: order (\\S+), invoice (\\S+)$`, 'm'), 300_000);
  for (const step of ['load deal', 'ensure customer', 'create draft order', 'confirm order', 'wait for invoice', 'wait for payment', 'write back payment']) {
    expect(demo!.output()).toMatch(new RegExp(`^ {2}${step} +completed`, 'm'));
  }
  // What the saga says, and what it wrote back to the CRM deal.
  const result = (await env.client.workflow.getHandle(orderWorkflowId(dealId!)).result()) as OrderToCashResult;
  expect(result).toMatchObject({ outcome: 'paid', orderNumber, invoiceNumber });
  const deal = queryDb<Record<string, string | null>>(demoPaths(dir).crm, 'SELECT * FROM deals WHERE id = ?', Number(dealId))[0]!;
  expect(deal).toMatchObject({ erp_order_number: orderNumber, erp_invoice_number: invoiceNumber, erp_payment_status: 'paid' });
});
