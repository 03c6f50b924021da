/**
 * Salesforce REST error bodies (reference §2 "Errors"): a JSON array of
 * `{message, errorCode, fields}`. Handlers throw {@link SfHttpError}; the router answers it.
 */
export interface SfErrorItem {
  message: string;
  errorCode: string;
  fields?: string[];
}

export class SfHttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(`HTTP ${statusCode}`);
  }
}

export function sfError(status: number, errorCode: string, message: string, fields?: string[]): SfHttpError {
  const item: SfErrorItem = { message, errorCode };
  if (fields) item.fields = fields;
  return new SfHttpError(status, [item]);
}

export const notFound = (message = 'The requested resource does not exist'): SfHttpError => sfError(404, 'NOT_FOUND', message);
export const malformedQuery = (message: string): SfHttpError => sfError(400, 'MALFORMED_QUERY', message);
export const invalidField = (message: string, fields?: string[]): SfHttpError => sfError(400, 'INVALID_FIELD', message, fields);
export const badJson = (message: string): SfHttpError => sfError(400, 'JSON_PARSER_ERROR', message);

/** A per-record error in Collections results and Bulk failed rows. */
export interface RecordError {
  statusCode: string;
  message: string;
  fields: string[];
}

/** Thrown by record validation; callers turn it into a per-record error or a 400. */
export class RecordProblem extends Error {
  constructor(
    readonly statusCode: string,
    message: string,
    readonly fields: string[] = [],
    /** Matching record ids when an external id matched several (HTTP 300). */
    readonly matches?: string[],
  ) {
    super(message);
  }
  toRecordError(): RecordError {
    return { statusCode: this.statusCode, message: this.message, fields: this.fields };
  }
}
