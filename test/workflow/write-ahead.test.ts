import type { TestWorkflowEnvironment } from '@temporalio/testing';
import Database from 'better-sqlite3';
import type { Activities } from '../../activities';
import type { SyncResult } from '../../contracts/sync';
import { demoPaths } from '../../demo/seed';
import { PageCalls } from '../helpers/page-calls';
import { startTimeSkippingDemo, type TimeSkippingDemo } from '../helpers/time-skipping-demo';

/**
 * `throughput-v3` (write-ahead) in syncPipeline, over the real activities on a worker with its
 * own queue: page N+1's write starts while page N's is still running and waits on the worker for
 * N's commit, so commits stay in page order. When page N ends without committing (steered here:
 * its first write fails, and the test answers `stale` for it, as writePage does when a link moved),
 * the write ahead of it writes nothing and both pages are prepared again and counted once.
 */

jest.setTimeout(180_000);

const ACCOUNTS = 1200;
const PAGE = 200;
let setup: TimeSkippingDemo;
let env: TestWorkflowEnvironment;
const calls = new PageCalls();
const SIDE = 'accounts'; // one-way: one cursor
let staleOnce: number | null = null;

beforeAll(async () => {
  setup = await startTimeSkippingDemo({
    name: 'write-ahead',
    taskQueue: 'ts-write-ahead',
    workerId: 'ts-write-ahead-worker',
    seed: { accounts: ACCOUNTS, contacts: 0, products: 0 },
    config: () => undefined,
    activities: (real: Activities): Activities => ({
      ...real,
      preparePage: (ref) => calls.around('prepare', SIDE, ref.seq, () => real.preparePage(ref)),
      writePage: (ref) =>
        calls.around('write', SIDE, ref.seq, async () => {
          // A slow target for the first page: its write runs until the write of the page after has
          // started ahead of it (bounded), so that the overlap does not hang on timing.
          if (ref.seq === 0 && ref.after === undefined) await calls.until('write', SIDE, 1, 'start');
          if (staleOnce !== ref.seq) return real.writePage(ref);
          staleOnce = null;
          // Held until the page after has been written ahead of this one (its write started and
          // waits on the worker for this one's commit), so what follows does not hang on timing.
          await calls.until('write', SIDE, ref.seq + 1, 'start');
          // The real write refuses the page (not its plan): it ends without committing, as a stale one does.
          await real.writePage({ ...ref, planHash: 'steered' }).catch(() => undefined);
          return { created: 0, updated: 0, quarantined: 0, stale: true };
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

test('the next page is written ahead, commits stay in order, and a page that ends without committing takes the one written ahead back with it', async () => {
  staleOnce = 2;
  const h = await env.client.workflow.start('syncPipeline', { taskQueue: 'ts-write-ahead', workflowId: 'write-ahead-1', args: [{ pipeline: 'demo-accounts', pageSize: PAGE }] });
  const r = (await h.result()) as SyncResult;
  expect(r.status).toBe('completed');

  // Written ahead: some page's write started before the previous page's write ended.
  // (Page 0's write runs until page 1's has started, see above.)
  expect(calls.first('write', SIDE, 1, 'start')).toBeGreaterThan(calls.first('write', SIDE, 0, 'start'));
  expect(calls.first('write', SIDE, 1, 'start')).toBeLessThan(calls.first('write', SIDE, 0, 'end'));
  // Commits in page order: the writes that did write ended in page order.
  expect(calls.written(SIDE)).toEqual([0, 1, 2, 3, 4, 5]);
  // Page 2 ended without committing; page 3, written ahead of it, wrote nothing; both were prepared again.
  expect(calls.writeEnds(SIDE, 2)).toEqual([true, false]);
  expect(calls.writeEnds(SIDE, 3)).toEqual([true, false]);
  expect(calls.starts('prepare', SIDE, 3)).toBeGreaterThanOrEqual(2);

  // Counted once: every account read once, one ERP customer per created one.
  expect(r.totals.read).toBe(ACCOUNTS);
  expect(r.totals.created).toBe(erpRows());
  expect(r.totals.created + r.totals.quarantined).toBe(ACCOUNTS);

  // A second run finds nothing to write.
  const again = (await (await env.client.workflow.start('syncPipeline', { taskQueue: 'ts-write-ahead', workflowId: 'write-ahead-2', args: [{ pipeline: 'demo-accounts', pageSize: PAGE }] })).result()) as SyncResult;
  expect(again.totals.created + again.totals.updated).toBe(0);
});
