import { SyncError } from '../../contracts/errors';
import type { ErrorType } from '../../contracts/errors';

/**
 * Translates @hubspot/api-client failures into SyncErrors. The client's ApiException message
 * embeds the whole body and response headers, so it is never reused: messages are rebuilt from
 * status, category and HubSpot's own `message`, then scrubbed of anything token-like.
 */

interface ApiExceptionLike {
  code: number;
  body: unknown;
  headers: Record<string, string>;
}

interface HubSpotErrorBody {
  message?: unknown;
  category?: unknown;
  policyName?: unknown;
  errors?: unknown;
  context?: unknown;
}

const MAX_MESSAGE = 500;

export function isApiException(err: unknown): err is ApiExceptionLike {
  return typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'number' && 'body' in err;
}

/** Removes bearer tokens, private-app tokens and the given secrets; truncates. */
export function cleanMessage(message: string, secrets: readonly string[] = []): string {
  let out = message;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('***');
  out = out
    .replace(/Bearer\s+[^\s"',]+/gi, 'Bearer ***')
    .replace(/\bpat-[a-z0-9-]+/gi, 'pat-***')
    .replace(/([?&](?:hapikey|access_token)=)[^&\s"]+/gi, '$1***');
  return out.length > MAX_MESSAGE ? `${out.slice(0, MAX_MESSAGE)}…` : out;
}

function bodyOf(err: ApiExceptionLike): HubSpotErrorBody {
  return typeof err.body === 'object' && err.body !== null ? (err.body as HubSpotErrorBody) : {};
}

/** The property a validation error names, from `errors[].context.propertyName`. */
export function fieldOf(body: { errors?: unknown }): string | undefined {
  if (!Array.isArray(body.errors)) return undefined;
  for (const e of body.errors as { context?: { propertyName?: unknown } }[]) {
    const names = e.context?.propertyName;
    if (Array.isArray(names) && typeof names[0] === 'string') return names[0];
  }
  return undefined;
}

function header(headers: Record<string, string>, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(headers ?? {})) if (k.toLowerCase() === lower) return v;
  return undefined;
}

/** How long to wait after a 429, by policy (HubSpot documents no Retry-After on REST 429s). */
export function retryAfterMs(policyName: string | undefined, headers: Record<string, string>, now = Date.now()): number {
  const retryAfter = header(headers, 'retry-after');
  if (retryAfter !== undefined && /^\d+$/.test(retryAfter)) return Number(retryAfter) * 1000;
  if (policyName === 'DAILY') {
    const midnight = new Date(now);
    midnight.setUTCHours(24, 0, 0, 0);
    return midnight.getTime() - now;
  }
  return 1000;
}

/** Category of a HubSpot error body → error type of the shared vocabulary. */
export function typeForCategory(category: unknown): ErrorType {
  switch (category) {
    case 'CONFLICT':
      return 'Conflict';
    case 'OBJECT_NOT_FOUND':
      return 'NotFound';
    case 'INVALID_AUTHENTICATION':
    case 'MISSING_SCOPES':
      return 'AuthError';
    case 'RATE_LIMITS':
      return 'RateLimited';
    default:
      return 'ValidationError';
  }
}

function typeForStatus(status: number): ErrorType {
  if (status === 401 || status === 403) return 'AuthError';
  if (status === 429) return 'RateLimited';
  if (status === 404) return 'NotFound';
  if (status === 409) return 'Conflict';
  if (status === 400 || status === 422) return 'ValidationError';
  if (status >= 500) return 'Transient';
  return 'ConfigError';
}

const TRANSIENT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'UND_ERR_SOCKET']);

export function toSyncError(err: unknown, operation: string, secrets: readonly string[] = []): SyncError {
  if (err instanceof SyncError) return err;
  if (isApiException(err)) {
    const status = err.code;
    const body = bodyOf(err);
    const type = typeForStatus(status);
    const category = typeof body.category === 'string' ? body.category : undefined;
    const policyName = typeof body.policyName === 'string' ? body.policyName : undefined;
    const remote = typeof body.message === 'string' ? body.message : `HTTP ${status}`;
    const label = category ?? policyName ?? String(status);
    const message = cleanMessage(`HubSpot ${operation} failed (${status} ${label}): ${remote}`, secrets);
    const details: Record<string, string | number | boolean | null> = { status };
    if (category) details.category = category;
    if (policyName) details.policyName = policyName;
    const field = type === 'ValidationError' ? fieldOf(body) : undefined;
    return new SyncError(type, message, {
      details,
      ...(field !== undefined ? { field } : {}),
      ...(type === 'RateLimited' ? { retryAfterMs: retryAfterMs(policyName, err.headers) } : {}),
    });
  }
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  const text = err instanceof Error ? err.message : String(err);
  const transient = (typeof code === 'string' && TRANSIENT_CODES.has(code)) || /network|socket|timeout|fetch|parse|content-type|mediatype/i.test(text);
  // Unknown non-HTTP failures are most likely bugs or misconfiguration: do not retry them forever.
  return new SyncError(transient ? 'Transient' : 'ConfigError', cleanMessage(`HubSpot ${operation} failed: ${text}`, secrets), {
    details: typeof code === 'string' ? { code } : {},
  });
}
