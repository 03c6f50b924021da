import { isSyncError, SyncError } from '../../contracts/errors';

/** Translate a database error into the shared vocabulary; the message keeps no data values. */
export function translateSqlError(err: unknown, context: string): SyncError {
  if (isSyncError(err)) return err;
  const code = String((err as { code?: unknown }).code ?? '');
  const message = err instanceof Error ? err.message : String(err);
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED' || /ECONNRE|ETIMEDOUT/.test(code)) {
    return new SyncError('Transient', `${context}: database busy (${code})`, { details: { code } });
  }
  if (code.startsWith('SQLITE_CONSTRAINT') || code === 'SQLITE_MISMATCH') {
    const col = /(?:failed|constraint): \w+\.(\w+)/.exec(message)?.[1];
    return new SyncError('ValidationError', `${context}: ${message}`, { ...(col ? { field: col } : {}), details: { code } });
  }
  if (code === 'SQLITE_ERROR' && /no such (table|column)/.test(message)) {
    return new SyncError('ConfigError', `${context}: ${message}`, { details: { code } });
  }
  if (code === 'SQLITE_CANTOPEN' || code === 'SQLITE_READONLY') {
    return new SyncError('ConfigError', `${context}: ${message}`, { details: { code } });
  }
  return new SyncError('Transient', `${context}: ${message}`, { details: { code: code || null } });
}
