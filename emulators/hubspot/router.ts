import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorBody, HttpError, rateLimitBody, unauthorized, validationError } from './errors';
import { handleAssociations, handleBatchAssociateDefault } from './associations';
import { handleBatch } from './batch';
import type { EmulatorRequest, EmulatorResponse } from './http-types';
import { asObject } from './http-types';
import { handleObjects } from './objects';
import { handleProperties } from './properties';
import type { RateLimiter } from './rate-limit';
import { resolveObjectType } from './schema';
import type { ObjectType } from './schema';
import { search } from './search';
import type { HubSpotStore } from './store';

/** HTTP plumbing: auth, rate limits, JSON, dispatch, error bodies. */

export interface RouterDeps {
  store: HubSpotStore;
  limiter: RateLimiter;
  token: string;
}

function objectType(raw: string | undefined): ObjectType {
  const t = raw === undefined ? undefined : resolveObjectType(raw);
  if (!t) throw validationError(`Unable to infer object type from: ${String(raw)}`);
  return t;
}

function dispatch(deps: RouterDeps, req: EmulatorRequest): EmulatorResponse {
  const s = req.segments;
  if (s[0] !== 'crm') throw new HttpError(404, errorBody('OBJECT_NOT_FOUND', `No route for ${req.method} /${s.join('/')}`));
  if (s[1] === 'v3' && s[2] === 'objects') {
    const type = objectType(s[3]);
    if (s.length === 4) return handleObjects(deps.store, type, undefined, req);
    if (s[4] === 'search' && s.length === 5 && req.method === 'POST') {
      return { status: 200, body: search(deps.store, type, asObject(req.body), req.rawLength) };
    }
    if (s[4] === 'batch' && s.length === 6 && req.method === 'POST') return handleBatch(deps.store, type, s[5] ?? '', req);
    if (s.length === 5) return handleObjects(deps.store, type, decodeURIComponent(s[4] ?? ''), req);
  }
  if (s[1] === 'v3' && s[2] === 'properties' && s.length === 4) return handleProperties(deps.store, objectType(s[3]), req);
  if (s[1] === 'v3' && s[2] === 'properties' && s.length === 5) {
    return handleProperties(deps.store, objectType(s[3]), req, decodeURIComponent(s[4] ?? ''));
  }
  if (s[1] === 'v4' && s[2] === 'associations' && s[5] === 'batch' && s[6] === 'associate' && s[7] === 'default' && s.length === 8 && req.method === 'POST') {
    return handleBatchAssociateDefault(deps.store, s[3], s[4], req);
  }
  if (s[1] === 'v4' && s[2] === 'objects' && s[5] === 'associations') return handleAssociations(deps.store, s.slice(3), req);
  throw new HttpError(404, errorBody('OBJECT_NOT_FOUND', `No route for ${req.method} /${s.join('/')}`));
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string>): void {
  const payload = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    ...(body === undefined ? {} : { 'Content-Type': 'application/json;charset=utf-8' }),
    'Content-Length': Buffer.byteLength(payload),
  });
  res.end(payload);
}

export function createHandler(deps: RouterDeps): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let headers: Record<string, string> = {};
      try {
        const url = new URL(req.url ?? '/', 'http://emulator');
        const auth = req.headers.authorization ?? '';
        if (auth !== `Bearer ${deps.token}`) throw unauthorized();
        const segments = url.pathname.split('/').filter((p) => p !== '');
        const isSearch = req.method === 'POST' && segments[4] === 'search';
        const decision = deps.limiter.check(deps.token, isSearch);
        headers = decision.headers;
        if (!decision.ok) throw new HttpError(429, rateLimitBody(decision.policy), decision.headers);
        const raw = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        if (raw !== '') {
          try {
            body = JSON.parse(raw);
          } catch {
            throw validationError('Invalid input JSON on line 1: the body is not valid JSON');
          }
        }
        const out = dispatch(deps, { method: req.method ?? 'GET', segments, query: url.searchParams, body, rawLength: raw.length });
        send(res, out.status, out.body, headers);
      } catch (err) {
        if (err instanceof HttpError) send(res, err.statusCode, err.body, { ...headers, ...err.headers });
        else send(res, 500, errorBody('INTERNAL_ERROR', `Internal error: ${err instanceof Error ? err.message : String(err)}`), headers);
      }
    });
  };
}
