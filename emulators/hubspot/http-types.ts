/** What handlers receive and return; the router does the HTTP. */
export interface EmulatorRequest {
  method: string;
  segments: string[];
  query: URLSearchParams;
  body: unknown;
  rawLength: number;
}

export interface EmulatorResponse {
  status: number;
  body?: unknown;
}

export function methodNotAllowed(method: string): EmulatorResponse {
  return { status: 405, body: { status: 'error', message: `Method ${method} not allowed`, category: 'VALIDATION_ERROR' } };
}

export function asObject(body: unknown): Record<string, unknown> {
  return typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
}
