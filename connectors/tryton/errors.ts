import { SyncError } from '../../contracts/errors';

/**
 * Translates Tryton's error shapes into the shared vocabulary. Messages carry Tryton's own text
 * (useful to an operator) but never the request, the session or the password.
 *
 * Observed on 6.0 with a JSON-RPC `id` (HTTP 200 + `error`):
 *   ["UserError", [message, description, domain]]      refused data, access and rule failures
 *   ["UserWarning", [name, message, description]]      needs a confirmation
 *   ["ConcurrencyException", message]                  `_timestamp` optimistic lock
 *   ["'no_such_field'", ""]                             bare KeyError: unknown field/model
 * and HTTP 401 (login/session), 403 (method not exposed), 429 (too many failed logins), 5xx.
 */

const MAX_MESSAGE = 500;

function clip(s: string): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > MAX_MESSAGE ? `${one.slice(0, MAX_MESSAGE)}…` : one;
}

/**
 * The field label and model label Tryton quotes in its messages, e.g. `field "Code" in "Currency"`
 * (6.0) or `field "Name" in record "" of "Product Template"` (8.0 names the record too).
 */
export function fieldFromMessage(message: string): { field?: string; model?: string } {
  const m = /field "([^"]+)"(?: (?:in|on|of)(?: record "[^"]*" (?:of|in))? "([^"]+)")?/i.exec(message);
  if (m?.[1]) return m[2] ? { field: m[1], model: m[2] } : { field: m[1] };
  const u = /The (\w[\w ]*?) on (\w[\w ]*?) must be unique/i.exec(message);
  if (u?.[1]) return u[2] ? { field: u[1], model: u[2] } : { field: u[1] };
  return {};
}

function userError(method: string, message: string, description: string): SyncError {
  const text = clip(description ? `${message} ${description}` : message);
  const where = fieldFromMessage(message);
  const details: Record<string, string> = { method, remote: 'UserError' };
  if (where.model) details.model = where.model;
  const opts = { details, ...(where.field ? { field: where.field } : {}) };
  if (/^You are not allowed to /i.test(message)) return new SyncError('AuthError', text, opts);
  if (/that don't exist anymore/i.test(message)) return new SyncError('NotFound', text, opts);
  if (/must be unique/i.test(message)) return new SyncError('Conflict', text, opts);
  return new SyncError('ValidationError', text, opts);
}

/** Translates the `error` member of a JSON-RPC response. */
export function translateRpcError(method: string, error: unknown): SyncError {
  const arr = Array.isArray(error) ? error : [error];
  const kind = typeof arr[0] === 'string' ? arr[0] : '';
  const args: unknown = arr[1];
  const argList = Array.isArray(args) ? args.map((a) => (typeof a === 'string' ? a : '')) : [];
  switch (kind) {
    case 'UserError':
      return userError(method, argList[0] ?? 'Tryton refused the request', argList[1] ?? '');
    case 'UserWarning':
      return new SyncError('ValidationError', clip(`${argList[1] ?? ''} ${argList[2] ?? ''}`) || 'Tryton warning', {
        details: { method, remote: 'UserWarning', warning: argList[0] ?? '' },
      });
    case 'ConcurrencyException':
      return new SyncError('Conflict', clip(typeof args === 'string' ? args : 'Records were modified in the meanwhile'), {
        details: { method, remote: 'ConcurrencyException' },
      });
    default:
      break;
  }
  const keyError = /^'([^']+)'$/.exec(kind);
  if (keyError?.[1]) {
    return new SyncError('ConfigError', `Tryton does not know '${keyError[1]}' (unknown model, field or method) in ${method}`, {
      details: { method, remote: 'KeyError' },
    });
  }
  if (/Missing context argument|doesn't exist!?$/i.test(kind)) {
    return new SyncError('ConfigError', clip(`${method}: ${kind.replace(/'[^']*\/([^/']+)'/, "'$1'")}`), {
      details: { method },
    });
  }
  if (/database is locked|OperationalError/i.test(kind)) {
    return new SyncError('Transient', clip(`${method}: ${kind}`), { details: { method } });
  }
  // Anything else is an unexpected server-side exception: treat as a 5xx.
  return new SyncError('Transient', clip(`${method}: Tryton server error: ${kind || 'unknown'}`), {
    details: { method, remote: 'ServerError' },
  });
}

/** Translates a non-200 HTTP status (Tryton answers these with an HTML body we never echo). */
export function translateHttpStatus(method: string, status: number, retryAfter: string | null): SyncError {
  const details = { method, status };
  if (status === 401) return new SyncError('AuthError', `Tryton refused the credentials or session (HTTP 401) for ${method}`, { details });
  if (status === 403) return new SyncError('AuthError', `Tryton forbids ${method} (HTTP 403: not exposed over RPC or not allowed)`, { details });
  if (status === 429) {
    const secs = retryAfter !== null ? Number(retryAfter) : NaN;
    return new SyncError('RateLimited', `Tryton throttled ${method} (HTTP 429)`, {
      details,
      retryAfterMs: Number.isFinite(secs) ? secs * 1000 : 60_000,
    });
  }
  if (status === 409) return new SyncError('ValidationError', `Tryton needs a confirmation for ${method} (HTTP 409 UserWarning)`, { details });
  if (status === 423) return new SyncError('Conflict', `Tryton reports a concurrent modification in ${method} (HTTP 423)`, { details });
  if (status === 400) return new SyncError('ValidationError', `Tryton rejected ${method} (HTTP 400)`, { details });
  if (status === 404) return new SyncError('ConfigError', `Tryton has no such endpoint or database for ${method} (HTTP 404)`, { details });
  if (status === 405) return new SyncError('ConfigError', `Tryton has no such route for ${method} (HTTP 405): check that TRYTON_URL is the server's base URL and the server is Tryton 8.0`, { details });
  return new SyncError('Transient', `Tryton answered HTTP ${status} to ${method}`, { details });
}

/** Translates a fetch failure (connection refused, reset, timeout). */
export function translateNetworkError(method: string, err: unknown, timeoutMs?: number): SyncError {
  const e = err as { name?: string; cause?: { code?: string } } | null;
  const code = e?.cause?.code ?? (e?.name === 'TimeoutError' || e?.name === 'AbortError' ? 'TIMEOUT' : 'NETWORK');
  if (code === 'TIMEOUT' && timeoutMs !== undefined) {
    return new SyncError('Transient', `Tryton ${method} timed out: no complete answer within ${timeoutMs / 1000} s`, {
      details: { method, code, timeoutMs },
    });
  }
  return new SyncError('Transient', `Tryton unreachable during ${method} (${code})`, { details: { method, code } });
}
