import { SyncError } from '../../contracts/errors';
import type { ErrorType } from '../../contracts/errors';

/**
 * Salesforce errors → the shared vocabulary. jsforce throws an error carrying `errorCode` (the
 * REST body's `errorCode`, or `ERROR_HTTP_<status>`) and `message`; network failures carry a
 * Node error `code`. Messages are cut short and scrubbed of tokens before they leave.
 */

/** Refused as a whole call because of the org's limits. Retry after this long. */
export const CONCURRENCY_RETRY_MS = 2_000;

export function typeForStatusCode(code: string): ErrorType {
  switch (code) {
    case 'DUPLICATE_VALUE':
    case 'DUPLICATE_EXTERNAL_ID':
    case 'MULTIPLE_CHOICES':
      return 'Conflict';
    case 'NOT_FOUND':
    case 'ENTITY_IS_DELETED':
      return 'NotFound';
    case 'REQUEST_LIMIT_EXCEEDED':
      return 'RateLimited';
    case 'UNABLE_TO_LOCK_ROW':
    case 'SERVER_UNAVAILABLE':
    case 'ALL_OR_NONE_OPERATION_ROLLED_BACK':
      return 'Transient';
    case 'INVALID_SESSION_ID':
      return 'AuthError';
    default:
      return 'ValidationError';
  }
}

interface JsforceError {
  errorCode?: unknown;
  message?: unknown;
  code?: unknown;
  name?: unknown;
}

/** Milliseconds to the next UTC midnight, when the daily allowance starts again. */
export function msToNextUtcDay(now: number): number {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1) - now;
}

export function toSyncError(err: unknown, operation: string, redact: (s: string) => string, now = Date.now()): SyncError {
  if (err instanceof SyncError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as JsforceError;
  const message = redact(String(e.message ?? err)).slice(0, 300);
  const code = typeof e.errorCode === 'string' ? e.errorCode : undefined;
  const base = `Salesforce ${operation}`;
  if (code === 'REQUEST_LIMIT_EXCEEDED') {
    const daily = /TotalRequests/i.test(message);
    return new SyncError('RateLimited', `${base}: REQUEST_LIMIT_EXCEEDED: ${message}`, {
      retryAfterMs: daily ? msToNextUtcDay(now) : CONCURRENCY_RETRY_MS,
      details: { errorCode: code, limit: daily ? 'daily' : 'concurrency' },
    });
  }
  if (code === 'INVALID_SESSION_ID') return new SyncError('AuthError', `${base}: INVALID_SESSION_ID: the token was refused; check the connector's credentials`, { details: { errorCode: code } });
  if (code === 'MALFORMED_QUERY' || code === 'INVALID_FIELD' || code === 'INVALID_TYPE') {
    return new SyncError('ConfigError', `${base}: ${code}: ${message}`, { details: { errorCode: code } });
  }
  if (code !== undefined) {
    const http = /^ERROR_HTTP_(\d+)$/.exec(code);
    if (http) {
      const status = Number(http[1]);
      return new SyncError(status >= 500 || status === 429 || status === 420 ? 'Transient' : 'ValidationError', `${base}: HTTP ${status}: ${message}`, { details: { status } });
    }
    return new SyncError(typeForStatusCode(code), `${base}: ${code}: ${message}`, { details: { errorCode: code } });
  }
  const net = typeof e.code === 'string' ? e.code : undefined;
  return new SyncError('Transient', `${base} failed: ${net ? `${net}: ` : ''}${message}`, net ? { details: { code: net } } : {});
}
