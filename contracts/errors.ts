/**
 * The closed vocabulary of failure types. Activities turn a {@link SyncError} into an
 * ApplicationFailure with the same `type`; workflows branch on `failure.type`, never on classes.
 * This module imports nothing from Temporal so connectors can use it.
 */
export const ERROR_TYPES = {
  /** Workflow input does not match its contract. Non-retryable. */
  InvalidInput: 'InvalidInput',
  /** A record (or a write) was refused by a schema or business rule. Non-retryable. */
  ValidationError: 'ValidationError',
  /** A mapping could not be applied to a record (bad transform input). Non-retryable. */
  MappingError: 'MappingError',
  /** A pipeline, system, mapping or connector is misconfigured. Non-retryable. */
  ConfigError: 'ConfigError',
  /** Credentials refused or missing. Non-retryable: retrying will not fix a password. */
  AuthError: 'AuthError',
  /** The thing addressed does not exist. Non-retryable. */
  NotFound: 'NotFound',
  /** Optimistic-lock or uniqueness conflict. Non-retryable at activity level. */
  Conflict: 'Conflict',
  /** The remote system throttled us; retry after `retryAfterMs`. */
  RateLimited: 'RateLimited',
  /** Network, timeout, 5xx, locked database: retry with backoff. */
  Transient: 'Transient',
} as const;

export type ErrorType = (typeof ERROR_TYPES)[keyof typeof ERROR_TYPES];

export const NON_RETRYABLE_ERROR_TYPES: readonly ErrorType[] = [
  ERROR_TYPES.InvalidInput,
  ERROR_TYPES.ValidationError,
  ERROR_TYPES.MappingError,
  ERROR_TYPES.ConfigError,
  ERROR_TYPES.AuthError,
  ERROR_TYPES.NotFound,
  ERROR_TYPES.Conflict,
];

export function isRetryableType(type: ErrorType): boolean {
  return !NON_RETRYABLE_ERROR_TYPES.includes(type);
}

export interface SyncErrorOptions {
  /** Dotted path of the field at fault, e.g. `phone` or `lines.0.quantity`. */
  field?: string;
  /** For RateLimited: how long the caller should wait. */
  retryAfterMs?: number;
  /** Short, secret-free details (status code, remote error code). */
  details?: Record<string, string | number | boolean | null>;
  cause?: unknown;
}

/**
 * The one error class connectors, mappings and the state store throw. Messages must be safe to
 * show in workflow history: no tokens, headers or full response bodies.
 */
export class SyncError extends Error {
  readonly type: ErrorType;
  readonly field?: string;
  readonly retryAfterMs?: number;
  readonly details?: Record<string, string | number | boolean | null>;

  constructor(type: ErrorType, message: string, options: SyncErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SyncError';
    this.type = type;
    if (options.field !== undefined) this.field = options.field;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
    if (options.details !== undefined) this.details = options.details;
  }

  get retryable(): boolean {
    return isRetryableType(this.type);
  }
}

/** Duck-typed check that survives module duplication (Jest, bundles). */
export function isSyncError(err: unknown): err is SyncError {
  return (
    typeof err === 'object' &&
    err !== null &&
    (err as { name?: unknown }).name === 'SyncError' &&
    typeof (err as { type?: unknown }).type === 'string'
  );
}
