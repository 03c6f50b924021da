import { WorkflowUpdateFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import Database from 'better-sqlite3';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { approveUpdate, pendingApprovalQuery, type ApprovalState } from '../../contracts/approval';
import type { SyncResult } from '../../contracts/sync';
import { demoPaths } from '../../demo/seed';
import { openSqliteStateStore } from '../../state/sqlite-store';
import { startTimeSkippingDemo, type TimeSkippingDemo } from '../helpers/time-skipping-demo';

jest.setTimeout(120_000);

let setup: TimeSkippingDemo;
let env: TestWorkflowEnvironment;
let dir: string;
let n = 0;

beforeAll(async () => {
  setup = await startTimeSkippingDemo({
    name: 'approval',
    taskQueue: 'ts-approval',
    seed: { accounts: 0, contacts: 0, products: 50 },
    // the shipped config plus one pipeline with a price-change approval gate
    config: (configDir) =>
      writeFileSync(
        path.join(configDir, 'pipelines', 'priced-products.json'),
        JSON.stringify({
          name: 'priced-products',
          family: 'sql',
          source: { system: 'demo-crm', entity: 'products' },
          target: { system: 'demo-erp', entity: 'products' },
          mapping: 'crm-product-to-product',
          approval: {
            watchFields: ['listPrice.amountMinor'],
            maxChangePercent: 20,
            policy: { approvers: ['pricing-lead'], timeout: '2 days', onTimeout: { action: 'reject' } },
          },
        }),
      ),
  });
  ({ env, dir } = setup);
});

afterAll(() => setup?.stop());

const start = () =>
  env.client.workflow.start('syncPipeline', { taskQueue: 'ts-approval', workflowId: `approval-${++n}`, args: [{ pipeline: 'priced-products' }] });

/** Raise the CRM price of products 1–5 by `factor`, as a CRM user would. */
function repriceProducts(factor: number): void {
  const db = new Database(demoPaths(dir).crm);
  const now = new Date(Date.now() + n * 1000).toISOString();
  db.prepare("UPDATE products SET price = printf('%.2f', CAST(price AS REAL) * ?), updated_at = ? WHERE id <= 5 AND price GLOB '[0-9]*'").run(factor, now);
  db.close();
}
const erpPrices = (): number[] =>
  (new Database(demoPaths(dir).erp, { readonly: true }).prepare("SELECT list_price_minor p FROM products WHERE external_key IN ('1','2','3','4','5') ORDER BY external_key").all() as { p: number }[]).map(
    (r) => r.p,
  );

async function pending(h: Awaited<ReturnType<typeof start>>): Promise<ApprovalState> {
  for (let i = 0; i < 200; i++) {
    const s = await h.query(pendingApprovalQuery);
    if (s.pending) return s;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('no approval became pending');
}

test('a first run with only creates passes the gate without asking', async () => {
  const r = (await (await start()).result()) as SyncResult;
  expect(r.status).toBe('completed');
  // every one of the 50 products is written or quarantined (duplicate SKUs, bad prices), exactly
  expect(r.totals.read).toBe(50);
  expect(r.totals.created + r.totals.quarantined).toBe(50);
  const erp = new Database(demoPaths(dir).erp, { readonly: true });
  expect((erp.prepare('SELECT count(*) c FROM products').get() as { c: number }).c).toBe(r.totals.created);
  erp.close();
  const store = openSqliteStateStore(path.join(dir, 'state.db'));
  expect(await store.listQuarantine('priced-products', 1000)).toHaveLength(r.totals.quarantined);
  await store.close();
  expect(r.approvals).toEqual([]);
});

test('a price change above the limit waits; the validator refuses the wrong approver and a stale plan; the approved plan is applied', async () => {
  const before = erpPrices();
  repriceProducts(1.5);
  const h = await start();
  const state = await pending(h);
  expect(state.pending!.reasons[0]).toMatch(/^listPrice\.amountMinor changes by more than 20% on \d+ record\(s\); largest: /);
  expect(erpPrices()).toEqual(before); // nothing written while waiting

  const planHash = state.pending!.planHash;
  const wrongApprover = await h.executeUpdate(approveUpdate, { args: [{ approver: 'intern', planHash }] }).catch((e: unknown) => e);
  expect(wrongApprover).toBeInstanceOf(WorkflowUpdateFailedError);
  expect(String((wrongApprover as WorkflowUpdateFailedError).cause?.message)).toMatch(/"intern" may not decide gate "priced-products page 1"; allowed: pricing-lead/);
  const stale = await h.executeUpdate(approveUpdate, { args: [{ approver: 'pricing-lead', planHash: 'feedface' }] }).catch((e: unknown) => e);
  expect(String((stale as WorkflowUpdateFailedError).cause?.message)).toMatch(/plan feedface is not pending/);

  const outcome = await h.executeUpdate(approveUpdate, { args: [{ approver: 'pricing-lead', planHash, comment: 'Q3 price list' }] });
  expect(outcome).toMatchObject({ approved: true, decidedBy: 'pricing-lead', planHash });
  const r = (await h.result()) as SyncResult;
  expect(r.status).toBe('completed');
  expect(r.totals.updated).toBe(5);
  expect(r.approvals).toEqual([expect.objectContaining({ decision: 'approve', approver: 'pricing-lead', accepted: true, comment: 'Q3 price list', via: 'update' })]);
  erpPrices().forEach((p, i) => expect(p).toBeGreaterThan(before[i]!));
});

test('when nobody answers within two days the policy rejects: nothing is written and the next run asks again', async () => {
  const before = erpPrices();
  repriceProducts(2);
  const r = (await (await start()).result()) as SyncResult; // time skips over the 2-day timeout
  expect(r.status).toBe('rejected');
  expect(r.totals.updated).toBe(0);
  expect(r.approvals).toEqual([expect.objectContaining({ decision: 'timeout', via: 'timer' })]);
  expect(erpPrices()).toEqual(before);

  const again = await start();
  const s = await pending(again);
  expect(s.pending!.reasons[0]).toMatch(/listPrice\.amountMinor changes by more than 20% on 5 record/);
  await again.terminate('test done');
});
