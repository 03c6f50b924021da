import { Client } from '@hubspot/api-client';
import type { SyncError } from '../../contracts/errors';
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
}

export class HubSpotTransport {
  /** Generic CRM object APIs (/crm/v3/objects/{objectType}/…). */
  private readonly objects: Client['crm']['objects'];
  /** Associations v4 (/crm/v4/associations/…). */
  private readonly associations: Client['crm']['associations']['v4'];
  private readonly secrets: string[];

  constructor(private readonly options: TransportOptions) {
    const client = new Client({
      accessToken: options.accessToken,
      ...(options.basePath !== undefined ? { basePath: options.basePath } : {}),
      numberOfApiCallRetries: 0,
    });
    // The client applies decorators from a process-wide singleton when an API is first touched;
    // touch ours now, while the singleton holds this client's (empty) decorator list.
    this.objects = client.crm.objects;
    this.associations = client.crm.associations.v4;
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

  private async guarded<T>(bucket: GovernorBucket, operation: string, fn: () => Promise<T>): Promise<T> {
    await this.options.governor.acquire(bucket);
    try {
      return await fn();
    } catch (err) {
      const error = toSyncError(err, operation, this.secrets);
      if (error.type === 'RateLimited') {
        this.options.onRateLimited?.(error);
        await this.options.governor.backoff(bucket, error.retryAfterMs ?? 1000);
      }
      throw error;
    }
  }
}
