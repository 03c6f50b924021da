import { cleanMessage, retryAfterMs, toSyncError } from '../../connectors/hubspot/errors';

const apiError = (code: number, body: unknown, headers: Record<string, string> = {}) =>
  Object.assign(new Error(`HTTP-Code: ${code}\nHeaders: {"authorization":"Bearer pat-na1-secret"}`), { code, body, headers });

describe('toSyncError', () => {
  it('maps statuses to the shared vocabulary', () => {
    expect(toSyncError(apiError(401, { category: 'INVALID_AUTHENTICATION', message: 'nope' }), 'read').type).toBe('AuthError');
    expect(toSyncError(apiError(404, { category: 'OBJECT_NOT_FOUND', message: 'gone' }), 'read').type).toBe('NotFound');
    expect(toSyncError(apiError(409, { category: 'CONFLICT', message: 'dup' }), 'write').type).toBe('Conflict');
    expect(toSyncError(apiError(502, 'Bad gateway'), 'read').type).toBe('Transient');
  });

  it('turns a validation error into ValidationError naming the field', () => {
    const err = toSyncError(
      apiError(400, { status: 'error', category: 'VALIDATION_ERROR', message: 'Property values were not valid', errors: [{ message: 'x', context: { propertyName: ['erp_segment'] } }] }),
      'create companies',
    );
    expect(err).toMatchObject({ type: 'ValidationError', field: 'erp_segment', details: { status: 400, category: 'VALIDATION_ERROR' } });
    expect(err.message).toBe('HubSpot create companies failed (400 VALIDATION_ERROR): Property values were not valid');
  });

  it('turns a 429 into RateLimited with a wait and the policy', () => {
    const err = toSyncError(apiError(429, { status: 'error', errorType: 'RATE_LIMIT', policyName: 'TEN_SECONDLY_ROLLING', message: 'limit' }), 'search');
    expect(err).toMatchObject({ type: 'RateLimited', retryAfterMs: 1000, details: { status: 429, policyName: 'TEN_SECONDLY_ROLLING' } });
    expect(err.retryable).toBe(true);
  });

  it('honours Retry-After and waits for the next day on DAILY', () => {
    expect(retryAfterMs('TEN_SECONDLY_ROLLING', { 'Retry-After': '3' })).toBe(3000);
    const now = Date.UTC(2026, 0, 1, 23, 0, 0);
    expect(retryAfterMs('DAILY', {}, now)).toBe(3_600_000);
  });

  it('maps network failures to Transient and never leaks the token', () => {
    const err = toSyncError(Object.assign(new Error('request to http://x?hapikey=abc failed, Bearer pat-na1-secret'), { code: 'ECONNRESET' }), 'read', ['pat-na1-secret']);
    expect(err.type).toBe('Transient');
    expect(err.message).not.toContain('secret');
    expect(err.message).not.toContain('abc');
  });

  it('never reuses the client exception message (it embeds headers)', () => {
    const err = toSyncError(apiError(500, { message: 'boom' }), 'read', ['pat-na1-secret']);
    expect(err.message).toBe('HubSpot read failed (500 500): boom');
  });
});

describe('cleanMessage', () => {
  it('scrubs tokens and truncates', () => {
    expect(cleanMessage('auth Bearer abc.def failed for pat-eu1-123-456')).toBe('auth Bearer *** failed for pat-***');
    expect(cleanMessage('x'.repeat(600))).toHaveLength(501);
  });
});
