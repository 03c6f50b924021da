import Database from 'better-sqlite3';
import path from 'node:path';
import type { SyncPairResult } from '../../contracts/pair-sync';
import { TASK_QUEUES } from '../../contracts/queues';
import type { SyncResult } from '../../contracts/sync';
import { demoPaths } from '../../demo/seed';
import { queryDb, startDemoWorkers, type RunningDemo } from '../helpers/demo-env';
import type { DevEnv } from '../helpers/env';

/**
 * A first link whose match does not map. The one-way pipeline demo-accounts wrote ERP customers
 * for CRM accounts; then a CRM user breaks one account's phone. The first run of the pair
 * (demo-customers) finds that customer's match by external key, but the account fails its
 * mapping. The pair must hold the customer in quarantine, naming the account, and never create a
 * second CRM account for it (it did: the candidate was dropped and the planner saw no match).
 * Once the phone is fixed and both are replayed, they link with no new record on either side.
 */

jest.setTimeout(300_000);

const ACCOUNTS = 40;
let demo: RunningDemo;
let env: DevEnv;
let dir: string;
let n = 0;

beforeAll(async () => {
  demo = await startDemoWorkers({ accounts: ACCOUNTS, contacts: 0, products: 0 });
  ({ env, dir } = demo);
});

afterAll(() => demo?.stop());

const run = <R>(type: string, args: Record<string, unknown>) =>
  env.client.workflow.execute(type, { taskQueue: TASK_QUEUES.sql, workflowId: `${type}-${++n}`, args: [args] }) as Promise<R>;
const crmCount = () => queryDb<{ n: number }>(demoPaths(dir).crm, 'SELECT COUNT(*) n FROM accounts')[0]!.n;
function setPhone(id: number, phone: string): void {
  const db = new Database(demoPaths(dir).crm);
  try {
    expect(db.prepare('UPDATE accounts SET phone = ?, updated_at = ? WHERE id = ?').run(phone, new Date(Date.now() + 1000).toISOString(), id).changes).toBe(1);
  } finally {
    db.close();
  }
}
const quarantined = (pair: string) =>
  queryDb<{ source_key: string; rule: string; reason: string }>(
    path.join(dir, 'state.db'),
    'SELECT source_key, rule, reason FROM quarantine WHERE pipeline = ? AND resolved_at IS NULL ORDER BY source_key',
    pair,
  );

test('a customer whose matching CRM account does not map is held, not duplicated; fixed, it links with no write', async () => {
  const oneWay = await run<SyncResult>('syncPipeline', { pipeline: 'demo-accounts' });
  expect(oneWay.status).toBe('completed');
  const [{ k: key }] = queryDb<{ k: string }>(demoPaths(dir).erp, 'SELECT external_key k FROM customers ORDER BY id LIMIT 1') as [{ k: string }];
  const accountId = Number(key);
  setPhone(accountId, 'call reception');
  const before = crmCount();

  const first = await run<SyncPairResult>('syncPair', { pair: 'demo-customers' });
  expect(first.status).toBe('completed');
  expect(crmCount()).toBe(before); // no second account for the customer
  const held = quarantined('demo-customers');
  expect(held).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ source_key: `crm:${accountId}`, rule: 'phoneE164' }),
      expect.objectContaining({ source_key: expect.stringMatching(/^erp:/), rule: 'matchUnmappable', reason: expect.stringContaining(`matches crm record ${accountId}, which does not map`) }),
    ]),
  );

  // The account fixed: the next run reads it again (it changed) and links it to its customer.
  setPhone(accountId, '030 901820');
  const second = await run<SyncPairResult>('syncPair', { pair: 'demo-customers' });
  expect(second.status).toBe('completed');
  expect(crmCount()).toBe(before);
  expect(queryDb<{ n: number }>(demoPaths(dir).erp, 'SELECT COUNT(*) n FROM customers WHERE external_key = ?', key)[0]!.n).toBe(1);
  const links = queryDb<{ n: number }>(path.join(dir, 'state.db'), "SELECT COUNT(*) n FROM link_keys WHERE pair = 'demo-customers' AND side = 'crm' AND key = ?", String(accountId));
  expect(links[0]!.n).toBe(1);
});
