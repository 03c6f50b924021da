import type { TestWorkflowEnvironment } from '@temporalio/testing';
import Database from 'better-sqlite3';
import type { Activities } from '../../activities';
import type { SyncPairResult } from '../../contracts/pair-sync';
import { demoPaths } from '../../demo/seed';
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
const calls: { kind: 'prepare' | 'write'; side: string; seq: number; at: 'start' | 'end'; stale?: boolean }[] = [];
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
      async preparePairPage(ref) {
        calls.push({ kind: 'prepare', side: ref.side, seq: ref.seq, at: 'start' });
        const r = await real.preparePairPage(ref);
        calls.push({ kind: 'prepare', side: ref.side, seq: ref.seq, at: 'end' });
        return r;
      },
      async writePairPage(ref) {
        calls.push({ kind: 'write', side: ref.side, seq: ref.seq, at: 'start' });
        if (staleOnce && staleOnce.side === ref.side && staleOnce.seq === ref.seq) {
          staleOnce = null;
          calls.push({ kind: 'write', side: ref.side, seq: ref.seq, at: 'end', stale: true });
          return { created: { crm: 0, erp: 0 }, updated: { crm: 0, erp: 0 }, deleted: { crm: 0, erp: 0 }, quarantined: { crm: 0, erp: 0 }, stale: true };
        }
        const r = await real.writePairPage(ref);
        calls.push({ kind: 'write', side: ref.side, seq: ref.seq, at: 'end' });
        return r;
      },
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

  // Read ahead: some CRM page was prepared before the previous page's write started (one worker
  // runs its activities one after another, so it is the order that shows it, not an overlap).
  const at = (kind: string, side: string, seq: number) => calls.findIndex((c) => c.at === 'start' && c.kind === kind && c.side === side && c.seq === seq);
  const ahead = calls.filter((c) => c.at === 'start' && c.kind === 'write' && c.side === 'crm').filter((w) => at('prepare', 'crm', w.seq + 1) >= 0 && at('prepare', 'crm', w.seq + 1) < at('write', 'crm', w.seq));
  expect(ahead.length).toBeGreaterThan(0);
  // Never across sides: the ERP side's first prepare starts after every CRM write ended.
  const firstErp = calls.findIndex((c) => c.kind === 'prepare' && c.side === 'erp');
  const lastCrmWriteEnd = calls.map((c, i) => (c.kind === 'write' && c.side === 'crm' && c.at === 'end' ? i : -1)).reduce((a, b) => Math.max(a, b), -1);
  expect(firstErp).toBeGreaterThan(lastCrmWriteEnd);

  // The stale page: written once as stale, prepared again from the same cursor, written again.
  const page2 = calls.filter((c) => c.side === 'crm' && c.seq === 2 && c.at === 'end');
  expect(page2.map((c) => [c.kind, c.stale === true])).toEqual(
    expect.arrayContaining([['write', true], ['write', false]]),
  );
  expect(calls.filter((c) => c.kind === 'prepare' && c.side === 'crm' && c.seq === 2 && c.at === 'start').length).toBeGreaterThanOrEqual(2);

  // Counted once: every account read once (the stale page's 200 are taken back), one ERP customer
  // per created one, the stale page as a retry.
  expect(r.totals.sides.crm!.read).toBe(ACCOUNTS);
  expect(r.totals.sides.erp!.created).toBe(erpRows());
  expect(r.totals.retries).toBeGreaterThanOrEqual(1);

  // A second run finds nothing to write: no echo, no duplicate from the page written after its retry.
  const again = (await (await env.client.workflow.start('syncPair', { taskQueue: 'ts-pair-read-ahead', workflowId: 'pair-read-ahead-2', args: [{ pair: 'demo-customers', pageSize: PAGE }] })).result()) as SyncPairResult;
  expect(again.totals.sides.erp!.created + again.totals.sides.erp!.updated + again.totals.sides.crm!.created + again.totals.sides.crm!.updated).toBe(0);
});
