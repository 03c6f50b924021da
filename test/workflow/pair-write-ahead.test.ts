import type { TestWorkflowEnvironment } from '@temporalio/testing';
import Database from 'better-sqlite3';
import type { Activities } from '../../activities';
import { nothingWritten, type SyncPairResult } from '../../contracts/pair-sync';
import { demoPaths } from '../../demo/seed';
import { PageCalls } from '../helpers/page-calls';
import { startTimeSkippingDemo, type TimeSkippingDemo } from '../helpers/time-skipping-demo';

/**
 * `pair-write-ahead` in syncPair, over the real activities on a worker with its own queue: a
 * side's next page has its write started while the page before is still written, and waits on
 * the worker for that page's commit, so a side's commits stay in page order; never across sides.
 * When a page ends without committing (steered here: its write is refused, and the test answers
 * `stale` for it, as writePairPage does when a link moved), the write ahead of it writes nothing
 * and both pages are prepared again and counted once.
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
    name: 'pair-write-ahead',
    taskQueue: 'ts-pair-write-ahead',
    workerId: 'ts-pair-write-ahead-worker',
    seed: { accounts: ACCOUNTS, contacts: 0, products: 0 },
    config: () => undefined,
    activities: (real: Activities): Activities => ({
      ...real,
      preparePairPage: (ref) => calls.around('prepare', ref.side, ref.seq, () => real.preparePairPage(ref)),
      writePairPage: (ref) =>
        calls.around('write', ref.side, ref.seq, async () => {
          // A slow target for the first page: its write runs until the write of the page after has
          // started ahead of it (bounded), so that the overlap does not hang on timing.
          if (ref.side === 'crm' && ref.seq === 0 && ref.after === undefined) await calls.until('write', 'crm', 1, 'start');
          if (!staleOnce || staleOnce.side !== ref.side || staleOnce.seq !== ref.seq) return real.writePairPage(ref);
          staleOnce = null;
          // Held until the page after has been written ahead of this one (its write started and
          // waits on the worker for this one's commit), so what follows does not hang on timing.
          await calls.until('write', ref.side, ref.seq + 1, 'start');
          // The real write refuses the page (not its plan): it ends without committing, as a stale one does.
          await real.writePairPage({ ...ref, planHash: 'steered' }).catch(() => undefined);
          return { ...nothingWritten(['crm', 'erp']), stale: true as const };
        }),
    }),
  });
  env = setup.env;
});

afterAll(() => setup?.stop());

const erpRows = (): number => {
  const db = new Database(demoPaths(setup.dir).erp, { readonly: true });
  try {
    return (db.prepare('SELECT count(*) c FROM customers').get() as { c: number }).c;
  } finally {
    db.close();
  }
};

test("a side's next page is written ahead, its commits stay in order, never across sides, and a page that ends without committing takes the one written ahead back with it", async () => {
  staleOnce = { side: 'crm', seq: 2 };
  const h = await env.client.workflow.start('syncPair', { taskQueue: 'ts-pair-write-ahead', workflowId: 'pair-write-ahead-1', args: [{ pair: 'demo-customers', pageSize: PAGE }] });
  const r = (await h.result()) as SyncPairResult;
  expect(r.status).toBe('completed');

  // Written ahead: CRM page 1's write started while page 0's was still running (page 0's runs until it has, bounded, see above).
  expect(calls.first('write', 'crm', 1, 'start')).toBeGreaterThan(calls.first('write', 'crm', 0, 'start'));
  expect(calls.first('write', 'crm', 1, 'start')).toBeLessThan(calls.first('write', 'crm', 0, 'end'));
  // A side's commits in page order: the CRM writes that did write ended in page order.
  const written = calls.written('crm');
  expect(written).toEqual([...written].sort((a, b) => a - b));
  expect(new Set(written).size).toBe(written.length);
  // Page 2 ended without committing; page 3, written ahead of it, wrote nothing; both were prepared again.
  expect(calls.writeEnds('crm', 2)).toEqual([true, false]);
  expect(calls.writeEnds('crm', 3)).toEqual([true, false]);
  expect(calls.starts('prepare', 'crm', 3)).toBeGreaterThanOrEqual(2);
  // Never across sides: the ERP side's first prepare and write start after every CRM write ended.
  expect(calls.calls.findIndex((c) => c.side === 'erp')).toBeGreaterThan(calls.lastWriteEnd('crm'));

  // Counted once: every account read once, one ERP customer per created one.
  expect(r.totals.sides.crm!.read).toBe(ACCOUNTS);
  expect(r.totals.sides.erp!.created).toBe(erpRows());
  expect(r.totals.sides.erp!.created + r.totals.sides.crm!.quarantined + r.totals.sides.erp!.quarantined).toBeGreaterThan(0);

  // A second run finds nothing to write: no echo, no duplicate from the pages written ahead.
  const again = (await (await env.client.workflow.start('syncPair', { taskQueue: 'ts-pair-write-ahead', workflowId: 'pair-write-ahead-2', args: [{ pair: 'demo-customers', pageSize: PAGE }] })).result()) as SyncPairResult;
  expect(again.totals.sides.erp!.created + again.totals.sides.erp!.updated + again.totals.sides.crm!.created + again.totals.sides.crm!.updated).toBe(0);
});
