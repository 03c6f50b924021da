import { randomUUID } from 'node:crypto';

/**
 * HubSpot error bodies (reference §1 "Error body" and "429 body"). Every error carries
 * `status: 'error'`, a `message`, a uuid `correlationId` and a `category`.
 */
export interface ErrorDetail {
  message: string;
  code?: string;
  in?: string;
  context?: Record<string, string[]>;
}

export interface HubSpotErrorBody {
  status: 'error';
  message: string;
  correlationId: string;
  category: string;
  subCategory?: string;
  context?: Record<string, string[]>;
  errors?: ErrorDetail[];
  links?: Record<string, string>;
}

/** Thrown by handlers; the router turns it into an HTTP response. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly body: object,
    readonly headers: Record<string, string> = {},
  ) {
    super(typeof (body as { message?: unknown }).message === 'string' ? (body as { message: string }).message : 'error');
  }
}

export function errorBody(
  category: string,
  message: string,
  extra: Partial<Omit<HubSpotErrorBody, 'status' | 'message' | 'category' | 'correlationId'>> = {},
): HubSpotErrorBody {
  return { status: 'error', message, correlationId: randomUUID(), category, ...extra };
}

export function validationError(message: string, errors?: ErrorDetail[], context?: Record<string, string[]>): HttpError {
  return new HttpError(400, errorBody('VALIDATION_ERROR', message, { ...(errors ? { errors } : {}), ...(context ? { context } : {}) }));
}

/** The per-property failure HubSpot reports as "Property values were not valid: [...]". */
export interface PropertyProblem {
  name: string;
  error: 'PROPERTY_DOESNT_EXIST' | 'INVALID_INTEGER' | 'INVALID_OPTION' | 'INVALID_EMAIL' | 'INVALID_DATE' | 'READ_ONLY_VALUE';
  message: string;
}

export function propertyValuesBody(problems: PropertyProblem[]): HubSpotErrorBody {
  const list = problems.map((p) => ({
    isValid: false,
    message: p.message,
    error: p.error,
    name: p.name,
    localizedErrorMessage: p.message,
  }));
  return errorBody('VALIDATION_ERROR', `Property values were not valid: ${JSON.stringify(list)}`, {
    errors: problems.map((p) => ({ message: p.message, code: p.error, context: { propertyName: [p.name] } })),
  });
}

export function unauthorized(): HttpError {
  return new HttpError(
    401,
    errorBody(
      'INVALID_AUTHENTICATION',
      'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview',
    ),
  );
}

export function notFound(message: string, context?: Record<string, string[]>): HttpError {
  return new HttpError(404, errorBody('OBJECT_NOT_FOUND', message, context ? { context } : {}));
}

export function conflict(message: string): HttpError {
  return new HttpError(409, errorBody('CONFLICT', message));
}

export type RatePolicy = 'TEN_SECONDLY_ROLLING' | 'SECONDLY' | 'DAILY';

/** The 429 body HubSpot sends (errorType RATE_LIMIT, policyName names the limit hit). */
export function rateLimitBody(policyName: RatePolicy): object {
  const message =
    policyName === 'DAILY'
      ? 'You have reached your daily limit.'
      : policyName === 'SECONDLY'
        ? 'You have reached your secondly limit.'
        : 'You have reached your ten_secondly_rolling limit.';
  return {
    status: 'error',
    message,
    errorType: 'RATE_LIMIT',
    correlationId: randomUUID(),
    policyName,
    requestId: randomUUID(),
  };
}
