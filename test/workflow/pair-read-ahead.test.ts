import type { TestWorkflowEnvironment } from '@temporalio/testing';
import Database from 'better-sqlite3';
import type { Activities } from '../../activities';
import { nothingWritten, type SyncPairResult } from '../../contracts/pair-sync';
import { demoPaths } from '../../demo/seed';
import { PageCalls } from '../helpers/page-calls';
import { startTimeSkippingDemo, type TimeSkippingDemo } from '../helpers/time-skipping-demo';

/**
 * `pair-read-ahead` in the workflow, over the real activities: pages of a side are prepared
 * while earlier pages of that side are written, never across sides; a write that answers
 * `stale` (here: steered so for one page, as writePairPage answers when an earlier write moved
 * one of its links; the check itself is in test/activity/pair-read-ahead.test.ts) makes the
 * workflow prepare that page again from the same cursor, and the result counts it once.
 */

jest.setTimeout(180_000);

const ACCOUNTS = 1200;
const PAGE = 200;
let setup: TimeSkippingDemo;
let env: TestWorkflowEnvironment;
const calls = new PageCalls();
/** The (side, seq) whose first write answers `stale` without writing. */
let staleOnce: { side: string; seq: number } | null = null;

beforeAll(async () => {
  setup = await startTimeSkippingDemo({
    name: 'pair-read-ahead',
    taskQueue: 'ts-pair-read-ahead',
    seed: { accounts: ACCOUNTS, contacts: 0, products: 0 },
    config: () => undefined,
    activities: (real: Activities): Activities => ({
      ...real,
      preparePairPage: (ref) => calls.around('prepare', ref.side, ref.seq, () => real.preparePairPage(ref)),
      writePairPage: (ref) =>
        calls.around('write', ref.side, ref.seq, async () => {
          // A slow target for the first page: its write runs until the next page's prepare has
          // started (bounded), so that the overlap does not hang on the order the worker starts activities in.
          if (ref.side === 'crm' && ref.seq === 0) await calls.until('prepare', 'crm', 1, 'start');
          if (!staleOnce || staleOnce.side !== ref.side || staleOnce.seq !== ref.seq) return real.writePairPage(ref);
          staleOnce = null;
          return { ...nothingWritten(['crm', 'erp']), stale: true as const };
        }),
    }),
  });
  env = setup.env;
});

afterAll(() => setup?.stop());

const erpRows = (): number => (new Database(demoPaths(setup.dir).erp, { readonly: true }).prepare('SELECT count(*) c FROM customers').get() as { c: number }).c;

test('pages of a side are prepared ahead of its writes, never across sides; a stale page is prepared again and counted once', async () => {
  staleOnce = { side: 'crm', seq: 2 };
  const h = await env.client.workflow.start('syncPair', { taskQueue: 'ts-pair-read-ahead', workflowId: 'pair-read-ahead-1', args: [{ pair: 'demo-customers', pageSize: PAGE }] });
  const r = (await h.result()) as SyncPairResult;
  expect(r.status).toBe('completed');

  // Read ahead: CRM page 1's prepare started before page 0's write ended (page 0's write runs
  // until it has, bounded, see above; without read-ahead page 1 is prepared only after it).
  expect(calls.first('prepare', 'crm', 1, 'start')).toBeGreaterThanOrEqual(0);
  expect(calls.first('prepare', 'crm', 1, 'start')).toBeLessThan(calls.first('write', 'crm', 0, 'end'));
  // Never across sides: the ERP side's first prepare starts after every CRM write ended.
  expect(calls.calls.findIndex((c) => c.kind === 'prepare' && c.side === 'erp')).toBeGreaterThan(calls.lastWriteEnd('crm'));

  // The stale page: written once as stale, prepared again from the same cursor, written again.
  expect(calls.writeEnds('crm', 2)).toEqual(expect.arrayContaining([true, false]));
  expect(calls.starts('prepare', 'crm', 2)).toBeGreaterThanOrEqual(2);

  // Counted once: every account read once (the stale page's 200 are taken back), one ERP customer
  // per created one, the stale page as a retry.
  expect(r.totals.sides.crm!.read).toBe(ACCOUNTS);
  expect(r.totals.sides.erp!.created).toBe(erpRows());
  expect(r.totals.retries).toBeGreaterThanOrEqual(1);

  // A second run finds nothing to write: no echo, no duplicate from the page written after its retry.
  const again = (await (await env.client.workflow.start('syncPair', { taskQueue: 'ts-pair-read-ahead', workflowId: 'pair-read-ahead-2', args: [{ pair: 'demo-customers', pageSize: PAGE }] })).result()) as SyncPairResult;
  expect(again.totals.sides.erp!.created + again.totals.sides.erp!.updated + again.totals.sides.crm!.created + again.totals.sides.crm!.updated).toBe(0);
});
