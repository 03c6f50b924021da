import type { TestWorkflowEnvironment } from '@temporalio/testing';
import Database from 'better-sqlite3';
import type { Activities } from '../../activities';
import type { SyncPairResult } from '../../contracts/pair-sync';
import { demoPaths } from '../../demo/seed';
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
const calls: { kind: 'prepare' | 'write'; side: string; seq: number; at: 'start' | 'end'; stale?: boolean }[] = [];
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
      async preparePairPage(ref) {
        calls.push({ kind: 'prepare', side: ref.side, seq: ref.seq, at: 'start' });
        const r = await real.preparePairPage(ref);
        calls.push({ kind: 'prepare', side: ref.side, seq: ref.seq, at: 'end' });
        return r;
      },
      async writePairPage(ref) {
        calls.push({ kind: 'write', side: ref.side, seq: ref.seq, at: 'start' });
        // A slow target for the first page: its write runs until the write of the page after has
        // started ahead of it (bounded), so that the overlap does not hang on timing.
        if (ref.side === 'crm' && ref.seq === 0 && ref.after === undefined) {
          const deadline = Date.now() + 30_000;
          while (!calls.some((c) => c.kind === 'write' && c.side === 'crm' && c.seq === 1 && c.at === 'start') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
        }
        if (staleOnce && staleOnce.side === ref.side && staleOnce.seq === ref.seq) {
          staleOnce = null;
          // Held until the page after has been written ahead of this one (its write started and
          // waits on the worker for this one's commit), so what follows does not hang on timing.
          const deadline = Date.now() + 30_000;
          while (!calls.some((c) => c.kind === 'write' && c.side === ref.side && c.seq === ref.seq + 1 && c.at === 'start') && Date.now() < deadline) {
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
          // The real write refuses the page (not its plan): it ends without committing, as a stale one does.
          await real.writePairPage({ ...ref, planHash: 'steered' }).catch(() => undefined);
          calls.push({ kind: 'write', side: ref.side, seq: ref.seq, at: 'end', stale: true });
          return { created: { crm: 0, erp: 0 }, updated: { crm: 0, erp: 0 }, deleted: { crm: 0, erp: 0 }, quarantined: { crm: 0, erp: 0 }, stale: true };
        }
        const r = await real.writePairPage(ref);
        calls.push({ kind: 'write', side: ref.side, seq: ref.seq, at: 'end', stale: r.stale === true });
        return r;
      },
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

  const first = (kind: string, side: string, seq: number, at: 'start' | 'end') => calls.findIndex((c) => c.kind === kind && c.side === side && c.seq === seq && c.at === at);
  // Written ahead: CRM page 1's write started while page 0's was still running (page 0's runs until it has, bounded, see above).
  expect(first('write', 'crm', 1, 'start')).toBeGreaterThan(first('write', 'crm', 0, 'start'));
  expect(first('write', 'crm', 1, 'start')).toBeLessThan(first('write', 'crm', 0, 'end'));
  // A side's commits in page order: the CRM writes that did write ended in page order.
  const written = calls.filter((c) => c.kind === 'write' && c.side === 'crm' && c.at === 'end' && !c.stale).map((c) => c.seq);
  expect(written).toEqual([...written].sort((a, b) => a - b));
  expect(new Set(written).size).toBe(written.length);
  // Page 2 ended without committing; page 3, written ahead of it, wrote nothing; both were prepared again.
  const ends = (seq: number) => calls.filter((c) => c.kind === 'write' && c.side === 'crm' && c.seq === seq && c.at === 'end').map((c) => c.stale === true);
  expect(ends(2)).toEqual([true, false]);
  expect(ends(3)).toEqual([true, false]);
  expect(calls.filter((c) => c.kind === 'prepare' && c.side === 'crm' && c.seq === 3 && c.at === 'start').length).toBeGreaterThanOrEqual(2);
  // Never across sides: the ERP side's first prepare and write start after every CRM write ended.
  const lastCrmWriteEnd = calls.map((c, i) => (c.kind === 'write' && c.side === 'crm' && c.at === 'end' ? i : -1)).reduce((a, b) => Math.max(a, b), -1);
  expect(calls.findIndex((c) => c.side === 'erp')).toBeGreaterThan(lastCrmWriteEnd);

  // Counted once: every account read once, one ERP customer per created one.
  expect(r.totals.sides.crm!.read).toBe(ACCOUNTS);
  expect(r.totals.sides.erp!.created).toBe(erpRows());
  expect(r.totals.sides.erp!.created + r.totals.sides.crm!.quarantined + r.totals.sides.erp!.quarantined).toBeGreaterThan(0);

  // A second run finds nothing to write: no echo, no duplicate from the pages written ahead.
  const again = (await (await env.client.workflow.start('syncPair', { taskQueue: 'ts-pair-write-ahead', workflowId: 'pair-write-ahead-2', args: [{ pair: 'demo-customers', pageSize: PAGE }] })).result()) as SyncPairResult;
  expect(again.totals.sides.erp!.created + again.totals.sides.erp!.updated + again.totals.sides.crm!.created + again.totals.sides.crm!.updated).toBe(0);
});
