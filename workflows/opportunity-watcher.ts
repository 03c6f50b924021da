import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { OpportunityWatcherActivities } from '../activities/opportunity-watcher';
import { OpportunityWatcherInputSchema, type OpportunityWatcherInput, type OpportunityWatcherResult } from '../contracts/orders';
import { parseWorkflowInput } from './input';
import { BOOKKEEPING, externalRetry } from './options';

const reading = proxyActivities<OpportunityWatcherActivities>({ startToCloseTimeout: '5 minutes', retry: externalRetry });
const bookkeeping = proxyActivities<OpportunityWatcherActivities>({ startToCloseTimeout: BOOKKEEPING.startToCloseTimeout, retry: BOOKKEEPING.retry });

/** Runs longer than this many pages continue next time (the checkpoint keeps the place). */
const MAX_PAGES = 50;

/**
 * The deal watcher of a CRM with opportunities (Salesforce): reads opportunities changed after
 * its checkpoint through the connector's incremental read (SystemModstamp, Id), starts one
 * `orderToCash` per won one (workflow id `order-to-cash:<crm>:<id>`, never twice), and commits
 * the checkpoint after each page. Meant to run on a schedule (overlap: skip).
 */
export async function opportunityWatcher(rawInput: OpportunityWatcherInput = {}): Promise<OpportunityWatcherResult> {
  const input = parseWorkflowInput(OpportunityWatcherInputSchema, rawInput ?? {}, '{"crm":"salesforce","pageSize":200}');
  const result: OpportunityWatcherResult = { read: 0, won: 0, started: 0, alreadyClosed: 0, pages: 0 };
  let cursor = await bookkeeping.loadOpportunityCheckpoint({ name: input.name });
  for (;;) {
    const page = await reading.fetchWonOpportunities({ crm: input.crm, after: cursor, limit: input.pageSize });
    result.pages += 1;
    result.read += page.read;
    result.won += page.wonIds.length;
    if (page.wonIds.length) {
      const s = await reading.startOpportunitySagas({ crm: input.crm, ids: page.wonIds, watcher: input.name, ...(input.approval ? { approval: input.approval } : {}) });
      result.started += s.started;
      result.alreadyClosed += s.alreadyClosed;
    }
    if (page.read) {
      cursor = page.nextCursor;
      await bookkeeping.commitOpportunityCheckpoint({ name: input.name, cursor, runId: workflowInfo().runId });
    }
    if (!page.hasMore || result.pages >= MAX_PAGES) return result;
  }
}
