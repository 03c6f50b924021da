import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BulkJobs } from './bulk';
import { notFound, SfHttpError, sfError } from './errors';
import type { SfRequest, SfResponse } from './http-types';
import { header } from './http-types';
import type { OrgLimits } from './limits';
import { batchSizeOf, queryMore, runQuery } from './query';
import { handleCollections, handleSObjects } from './rest';
import type { SalesforceStore } from './store';

/** HTTP plumbing: OAuth, bearer auth, org limits, dispatch, error bodies. */

export interface RouterDeps {
  store: SalesforceStore;
  limits: OrgLimits;
  bulk: BulkJobs;
  /** A token always accepted (a session id handed to tests). */
  token: string;
  /** Client-credentials app allowed to get tokens at `/services/oauth2/token`. */
  clientId?: string;
  clientSecret?: string;
  /** Added to every API answer, to make concurrency observable. @default 0 */
  latencyMs: number;
  baseUrl: () => string;
}

function dispatch(deps: RouterDeps, req: SfRequest): SfResponse {
  const [first] = req.segments;
  if (first === undefined && req.method === 'GET') {
    const base = `/services/data/v${req.version}`;
    return { status: 200, body: { sobjects: `${base}/sobjects`, query: `${base}/query`, queryAll: `${base}/queryAll`, composite: `${base}/composite`, jobs: `${base}/jobs`, limits: `${base}/limits` } };
  }
  if (first === 'limits' && req.method === 'GET') {
    const max = deps.limits.options.dailyLimit;
    return { status: 200, body: { DailyApiRequests: { Max: max, Remaining: Math.max(0, max - deps.limits.used()) } } };
  }
  if (first === 'sobjects') return handleSObjects(deps.store, req);
  if (first === 'composite' && req.segments[1] === 'sobjects') return handleCollections(deps.store, req);
  if ((first === 'query' || first === 'queryAll') && req.method === 'GET') {
    const batch = batchSizeOf(header(req, 'sforce-query-options'));
    if (req.segments.length === 2) return { status: 200, body: queryMore(deps.store, req.segments[1] ?? '', batch, req.version) };
    const q = req.query.get('q');
    if (!q) throw sfError(400, 'MALFORMED_QUERY', 'A query string has to be specified');
    return { status: 200, body: runQuery(deps.store, q, first === 'queryAll', batch, req.version) };
  }
  if (first === 'jobs') return deps.bulk.handle(req);
  throw notFound();
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string>, contentType?: string): void {
  const payload = body === undefined ? '' : typeof body === 'string' && contentType ? body : JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    ...(body === undefined ? {} : { 'Content-Type': contentType ?? 'application/json;charset=UTF-8' }),
    'Content-Length': Buffer.byteLength(payload),
  });
  res.end(payload);
}

function oauthToken(deps: RouterDeps, raw: string): { status: number; body: unknown } {
  const form = new URLSearchParams(raw);
  if (form.get('grant_type') !== 'client_credentials') return { status: 400, body: { error: 'unsupported_grant_type', error_description: 'grant type not supported' } };
  if (!deps.clientId || form.get('client_id') !== deps.clientId || form.get('client_secret') !== deps.clientSecret) {
    return { status: 400, body: { error: 'invalid_client', error_description: 'invalid client credentials' } };
  }
  const token = `00DEm0000000001!${randomBytes(24).toString('base64url')}`;
  deps.store.db.prepare('CREATE TABLE IF NOT EXISTS tokens (token TEXT PRIMARY KEY)').run();
  deps.store.db.prepare('INSERT INTO tokens (token) VALUES (?)').run(token);
  return {
    status: 200,
    body: { access_token: token, signature: randomBytes(16).toString('base64'), scope: 'api', instance_url: deps.baseUrl(), id: `${deps.baseUrl()}/id/00DEm0000000001/005Em0000000001`, token_type: 'Bearer', issued_at: String(Date.now()) },
  };
}

function validToken(deps: RouterDeps, auth: string): boolean {
  const m = /^(?:Bearer|OAuth) (.+)$/.exec(auth);
  if (!m) return false;
  if (m[1] === deps.token) return true;
  deps.store.db.prepare('CREATE TABLE IF NOT EXISTS tokens (token TEXT PRIMARY KEY)').run();
  return deps.store.db.prepare('SELECT 1 FROM tokens WHERE token = ?').get(m[1]) !== undefined;
}

export function createHandler(deps: RouterDeps): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const chunks: Buffer[] = [];
    let admitted = false;
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const url = new URL(req.url ?? '/', 'http://emulator');
      if (url.pathname === '/services/oauth2/token' && req.method === 'POST') {
        const out = oauthToken(deps, raw);
        send(res, out.status, out.body, {});
        return;
      }
      let headers: Record<string, string> = {};
      const finish = (fn: () => void): void => {
        const done = (): void => {
          if (admitted) deps.limits.release();
          fn();
        };
        if (deps.latencyMs > 0 && admitted) setTimeout(done, deps.latencyMs);
        else done();
      };
      try {
        const m = /^\/services\/data\/v(\d+\.\d)(?:\/(.*))?$/.exec(url.pathname);
        if (!m) throw notFound();
        if (!validToken(deps, req.headers.authorization ?? '')) {
          throw new SfHttpError(401, [{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }]);
        }
        headers = deps.limits.admit();
        admitted = true;
        const segments = (m[2] ?? '').split('/').filter((p) => p !== '');
        const out = dispatch(deps, { method: req.method ?? 'GET', segments, version: m[1]!, query: url.searchParams, headers: req.headers, raw });
        finish(() => send(res, out.status, out.body, { ...headers, ...out.headers }, out.contentType));
      } catch (err) {
        if (err instanceof SfHttpError) finish(() => send(res, err.statusCode, err.body, { ...headers, ...err.headers }));
        else finish(() => send(res, 500, [{ errorCode: 'UNKNOWN_EXCEPTION', message: `An unexpected error occurred: ${err instanceof Error ? err.message : String(err)}` }], headers));
      }
    });
  };
}
