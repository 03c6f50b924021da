import { ApplicationFailure } from '@temporalio/common';
import { isSyncError, type SyncError } from '../contracts/errors';

/** A SyncError as an ApplicationFailure: same type, retryability from the vocabulary. */
export function toFailure(err: SyncError): ApplicationFailure {
  return ApplicationFailure.create({
    type: err.type,
    message: err.message,
    nonRetryable: !err.retryable,
    details: err.field ? [{ field: err.field }] : undefined,
    ...(err.type === 'RateLimited' && err.retryAfterMs ? { nextRetryDelay: err.retryAfterMs } : {}),
  });
}

/** Wrap every activity so that SyncErrors cross into Temporal with their type intact. */
export function withFailureTranslation<T extends Record<string, (...args: never[]) => Promise<unknown>>>(activities: T): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities)) {
    wrapped[name] = async (...args: never[]) => {
      try {
        return await fn(...args);
      } catch (err) {
        if (isSyncError(err)) throw toFailure(err);
        throw err;
      }
    };
  }
  return wrapped as T;
}
