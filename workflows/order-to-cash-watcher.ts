import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { WatcherActivities } from '../activities/orders-watcher';
import { DealWatcherInputSchema, type DealWatcherInput, type DealWatcherResult } from '../contracts/orders';
import { parseWorkflowInput } from './input';
import { BOOKKEEPING, FETCH } from './options';

const reading = proxyActivities<WatcherActivities>(FETCH);
const bookkeeping = proxyActivities<WatcherActivities>({ startToCloseTimeout: BOOKKEEPING.startToCloseTimeout, retry: BOOKKEEPING.retry });

/** Runs longer than this many pages continue next time (the checkpoint keeps the place). */
const MAX_PAGES = 50;

/**
 * Pipeline-like: reads won deals after its checkpoint (cursor on updated_at, id), starts their
 * `orderToCash` sagas idempotently, and commits the checkpoint after each page's starts.
 * Meant to run on a schedule (overlap: skip).
 */
export async function dealWatcher(rawInput: DealWatcherInput = {}): Promise<DealWatcherResult> {
  const input = parseWorkflowInput(DealWatcherInputSchema, rawInput ?? {}, '{"pageSize":100}');
  const result: DealWatcherResult = { read: 0, started: 0, alreadyClosed: 0, pages: 0 };
  let cursor = await bookkeeping.loadWatcherCheckpoint({ name: input.name });
  for (;;) {
    const page = await reading.fetchWonDeals({ after: cursor, limit: input.pageSize });
    result.pages += 1;
    result.read += page.dealIds.length;
    if (page.dealIds.length) {
      const s = await reading.startOrderSagas({ dealIds: page.dealIds, watcher: input.name, ...(input.approval ? { approval: input.approval } : {}) });
      result.started += s.started;
      result.alreadyClosed += s.alreadyClosed;
      cursor = page.nextCursor;
      await bookkeeping.commitWatcherCheckpoint({ name: input.name, cursor, runId: workflowInfo().runId });
    }
    if (!page.hasMore || result.pages >= MAX_PAGES) return result;
  }
}
