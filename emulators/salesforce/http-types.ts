/** What handlers receive and return; the router does the HTTP. */
export interface SfRequest {
  method: string;
  /** Path segments after `/services/data/vXX.X/`. */
  segments: string[];
  version: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  /** Raw body text (JSON or CSV). */
  raw: string;
}

export interface SfResponse {
  status: number;
  /** JSON body, or a string sent as is with `contentType`. */
  body?: unknown;
  contentType?: string;
  headers?: Record<string, string>;
}

export function header(req: SfRequest, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}
