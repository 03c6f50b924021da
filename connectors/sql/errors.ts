import { isSyncError, SyncError } from '../../contracts/errors';

/** Translate a database error into the shared vocabulary; the message keeps no data values. */
export function translateSqlError(err: unknown, context: string): SyncError {
  if (isSyncError(err)) return err;
  const code = String((err as { code?: unknown }).code ?? '');
  const message = err instanceof Error ? err.message : String(err);
  // PostgreSQL SQLSTATEs (five characters): constraint and data errors are the record's fault.
  if (/^[0-9A-Z]{5}$/.test(code) && !code.startsWith('SQLITE')) return translatePgError(err as PgError, code, message, context);
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

interface PgError {
  column?: string;
  constraint?: string;
  detail?: string;
}

function translatePgError(err: PgError, code: string, message: string, context: string): SyncError {
  const details = { code };
  // Class 23 (integrity) and 22 (data: a value the column's type refuses) concern one record.
  if (code.startsWith('23') || code.startsWith('22')) {
    const field = err.column ?? /\((\w+)\)=/.exec(err.detail ?? '')?.[1];
    return new SyncError('ValidationError', `${context}: ${message}`, { ...(field ? { field } : {}), details });
  }
  if (code === '42P01' || code === '42703' || code === '3D000' || code === '42501') return new SyncError('ConfigError', `${context}: ${message}`, { details });
  if (code === '28P01' || code === '28000') return new SyncError('AuthError', `${context}: ${message}`, { details });
  return new SyncError('Transient', `${context}: ${message}`, { details });
}
