import type { ActivityOptions, LocalActivityOptions, RetryPolicy } from '@temporalio/workflow';
import { NON_RETRYABLE_ERROR_TYPES } from '../contracts/errors';

/** Retries for calls to external systems: back off up to a minute, give up after ~15 minutes. */
export const externalRetry: RetryPolicy = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '1 minute',
  maximumAttempts: 20,
  nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES],
};

/**
 * Reading a page from a source system. Heartbeats while it runs, so a worker that dies mid-fetch
 * costs the heartbeat timeout, not the start-to-close timeout.
 */
export const FETCH: ActivityOptions = { startToCloseTimeout: '10 minutes', heartbeatTimeout: '15 seconds', retry: externalRetry };

/** Mapping, validating and planning a staged page: CPU and state store only. Heartbeats like FETCH. */
export const TRANSFORM: ActivityOptions = {
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '15 seconds',
  retry: { ...externalRetry, maximumAttempts: 5 },
};

/**
 * Writing a page into a target system. Heartbeats after each batch, and every 3 s while a
 * batch's requests keep completing, so a worker that dies (or whose event loop is stuck) is
 * noticed within the heartbeat timeout and the retry resumes at the last batch written. A batch
 * that makes no progress stops heartbeating and fails `Transient` after its connector's request
 * timeout plus a margin (activities/progress-watch.ts): the heartbeat timeout is deliberately
 * shorter than any request timeout, because heartbeats report progress, not the request's wait.
 * The start-to-close timeout only bounds a whole page that keeps making progress.
 */
export const WRITE: ActivityOptions = {
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '15 seconds',
  retry: externalRetry,
};

const bookkeepingRetry: RetryPolicy = {
  initialInterval: '500 milliseconds',
  maximumInterval: '10 seconds',
  maximumAttempts: 10,
  nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES],
};

/**
 * Loading the checkpoint when nothing else is in flight: a local activity (one marker event, no
 * task-queue round trip). Only where no other activity can be running: a local activity that
 * resolves in the same workflow task as a concurrent activity's completion can replay in another
 * order than it ran, which is a non-determinism error.
 */
export const START: LocalActivityOptions = { startToCloseTimeout: '30 seconds', retry: bookkeepingRetry };

/** Checkpoints and run reports, which run while the next page is being prepared: regular activities. */
export const BOOKKEEPING: ActivityOptions = { startToCloseTimeout: '30 seconds', retry: bookkeepingRetry };

/** Posting an alert to the webhook: retried for a while (a chat service may be down for minutes), never failing the sync. */
export const ALERT: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute', maximumAttempts: 15, nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES] },
};

/**
 * Verifying a signed approval decision (signature, issuer key, audience) on the worker, where the
 * keys are. A regular activity for the same reason as BOOKKEEPING: an approval arrives while the
 * next page may be read ahead. It answers refusals as results; a throw is a worker fault.
 */
export const VERIFY: ActivityOptions = { startToCloseTimeout: '10 seconds', retry: { initialInterval: '200 milliseconds', maximumAttempts: 3 } };
