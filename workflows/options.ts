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

/** Reading a page from a source system. */
export const FETCH: ActivityOptions = { startToCloseTimeout: '10 minutes', retry: externalRetry };

/** Mapping, validating and planning a staged page: CPU and state store only. */
export const TRANSFORM: ActivityOptions = {
  startToCloseTimeout: '5 minutes',
  retry: { ...externalRetry, maximumAttempts: 5 },
};

/**
 * Writing a page into a target system. Heartbeats after each batch, so a worker that dies is
 * noticed within the heartbeat timeout and the retry resumes at the last batch written.
 */
export const WRITE: ActivityOptions = {
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '15 seconds',
  retry: externalRetry,
};

/** Checkpoints, run reports: quick state-store bookkeeping, run as local activities. */
export const BOOKKEEPING: LocalActivityOptions = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '500 milliseconds', maximumInterval: '10 seconds', maximumAttempts: 10, nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES] },
};
