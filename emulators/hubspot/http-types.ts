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

export function asObject(body: unknown): Record<string, unknown> {
  return typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
}
