import { Client } from '@hubspot/api-client';
import http from 'node:http';
import https from 'node:https';
import { SyncError } from '../../contracts/errors';
import { reportProgress, waitingFor } from '../progress';
import { cleanMessage, toSyncError } from './errors';
import type { GovernorBucket, RateGovernor } from './governor';

/**
 * The one place that talks to HubSpot: every call takes a governor slot first and has its
 * failure translated. The client's own retry decorator and Bottleneck limiter stay off
 * (`numberOfApiCallRetries: 0`, no `limiterOptions`): the retry would sleep 10 s × attempt on
 * a 429 and hide it from the governor and the workflow, and the per-process limiter would
 * double-limit against the shared governor.
 */

export interface TransportOptions {
  accessToken: string;
  /** Origin only, e.g. `http://127.0.0.1:4010`. @default https://api.hubapi.com */
  basePath?: string;
  governor: RateGovernor;
  /** Called after each throttled response (metrics, benches). */
  onRateLimited?: (error: SyncError) => void;
  /**
   * Longest one HTTP request may take, from sending it to the last byte of the answer; then its
   * socket is destroyed and the call fails as `Transient`. @default 30000
   */
  requestTimeoutMs?: number;
}

export const HUBSPOT_DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** Error code of a request ended by its deadline (kept by node-fetch's FetchError as `code`). */
const DEADLINE_CODE = 'ESYNC_REQUEST_TIMEOUT';

/**
 * An http(s) agent that gives every request a deadline. The official client (node-fetch 2
 * underneath) passes neither a timeout nor an AbortSignal to fetch, but passes an agent through:
 * the agent sees each request (`addRequest`) and destroys it, with its socket, when the deadline
 * passes, which rejects the client's promise. Keep-alive stays on.
 */
function deadlineAgent(basePath: string, timeoutMs: number): http.Agent {
  const Base = basePath.startsWith('https:') ? https.Agent : http.Agent;
  const addRequest = (Base.prototype as unknown as { addRequest: (req: http.ClientRequest, options: unknown) => void }).addRequest;
  const agent = new Base({ keepAlive: true });
  (agent as unknown as { addRequest: typeof addRequest }).addRequest = function (req, options) {
    const timer = setTimeout(() => {
      req.destroy(Object.assign(new Error(`no complete answer within ${timeoutMs} ms`), { code: DEADLINE_CODE }));
    }, timeoutMs);
    // 'close' follows the end of the response (or the request's failure): the deadline is over.
    req.once('close', () => clearTimeout(timer));
    addRequest.call(this, req, options);
  };
  return agent;
}

interface HttpLibraryLike {
  send(ctx: { setAgent(agent: http.Agent): void }): unknown;
}

/**
 * Sends every request of a generated API through `agent`. The client accepts `httpAgent` but, in
 * 13.x, its generated APIs run the configured middleware (which would set the agent) only when a
 * call passes its own options, so the agent is set where every request passes: the http library
 * of the API's configuration (shared by the APIs of one discovery). Fails loudly if the client's
 * internals change, rather than silently sending requests without a deadline.
 */
function routeThrough(api: unknown, agent: http.Agent, patched: WeakSet<object>): void {
  const config = (api as { api?: { configuration?: { httpApi?: HttpLibraryLike } } } | undefined)?.api?.configuration;
  const inner = config?.httpApi;
  if (!config || !inner || typeof inner.send !== 'function') {
    throw new SyncError('ConfigError', 'this @hubspot/api-client version is not supported: cannot give its requests a timeout');
  }
  if (patched.has(config)) return;
  patched.add(config);
  config.httpApi = {
    send(ctx) {
      ctx.setAgent(agent);
      return inner.send(ctx);
    },
  };
}

function isDeadline(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === DEADLINE_CODE;
}

export class HubSpotTransport {
  /** Generic CRM object APIs (/crm/v3/objects/{objectType}/…). */
  private readonly objects: Client['crm']['objects'];
  /** Associations v4 (/crm/v4/associations/…). */
  private readonly associations: Client['crm']['associations']['v4'];
  private readonly secrets: string[];
  private readonly agent: http.Agent;
  /** The deadline of every request, in ms. */
  readonly requestTimeoutMs: number;

  constructor(private readonly options: TransportOptions) {
    this.requestTimeoutMs = options.requestTimeoutMs ?? HUBSPOT_DEFAULT_REQUEST_TIMEOUT_MS;
    this.agent = deadlineAgent(options.basePath ?? 'https://api.hubapi.com', this.requestTimeoutMs);
    const client = new Client({
      accessToken: options.accessToken,
      ...(options.basePath !== undefined ? { basePath: options.basePath } : {}),
      numberOfApiCallRetries: 0,
      httpAgent: this.agent,
    });
    // The client applies decorators from a process-wide singleton when an API is first touched;
    // touch ours now, while the singleton holds this client's (empty) decorator list.
    this.objects = client.crm.objects;
    this.associations = client.crm.associations.v4;
    const patched = new WeakSet<object>();
    for (const api of [this.objects.basicApi, this.objects.batchApi, this.objects.searchApi, this.associations.basicApi, this.associations.batchApi]) {
      routeThrough(api, this.agent, patched);
    }
    this.secrets = [options.accessToken];
  }

  /** `message` without the access token or anything token-like: for text from HubSpot bodies. */
  redact(message: string): string {
    return cleanMessage(message, this.secrets);
  }

  async call<T>(bucket: GovernorBucket, operation: string, fn: (objects: Client['crm']['objects']) => Promise<T>): Promise<T> {
    return this.guarded(bucket, operation, () => fn(this.objects));
  }

  /** Like `call`, for the associations v4 APIs. */
  async callAssociations<T>(operation: string, fn: (associations: Client['crm']['associations']['v4']) => Promise<T>): Promise<T> {
    return this.guarded('general', operation, () => fn(this.associations));
  }

  /** Closes idle keep-alive sockets. */
  close(): void {
    this.agent.destroy();
  }

  private async guarded<T>(bucket: GovernorBucket, operation: string, fn: () => Promise<T>): Promise<T> {
    // Waiting for a rate slot is not a hung request: a caller watching for progress ignores it.
    await waitingFor(() => this.options.governor.acquire(bucket));
    try {
      return await fn();
    } catch (err) {
      if (isDeadline(err)) {
        throw new SyncError('Transient', `HubSpot ${operation} timed out: no complete answer within ${this.requestTimeoutMs / 1000} s`, {
          details: { code: 'TIMEOUT', timeoutMs: this.requestTimeoutMs },
        });
      }
      const error = toSyncError(err, operation, this.secrets);
      if (error.type === 'RateLimited') {
        this.options.onRateLimited?.(error);
        await this.options.governor.backoff(bucket, error.retryAfterMs ?? 1000);
      }
      throw error;
    } finally {
      reportProgress();
    }
  }
}
