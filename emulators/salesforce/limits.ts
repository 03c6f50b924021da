import { SfHttpError } from './errors';
import type { SalesforceStore } from './store';

/**
 * Org limits (reference §2 "Limits"): a daily API request allowance (UTC day, persisted) and a
 * cap on concurrent requests, both refused with `403 REQUEST_LIMIT_EXCEEDED`. Every answer,
 * refusals included, carries `Sforce-Limit-Info: api-usage=used/limit`.
 */
export interface LimitOptions {
  /** API requests per UTC day. @default 100_000 */
  dailyLimit: number;
  /** Requests in flight at once. @default 25 */
  concurrencyLimit: number;
}

export class OrgLimits {
  private inFlight = 0;
  readonly stats = { accepted: 0, refusedDaily: 0, refusedConcurrency: 0, peakConcurrency: 0 };

  constructor(
    private readonly store: SalesforceStore,
    readonly options: LimitOptions,
    private readonly clock: () => number = Date.now,
  ) {}

  private day(): string {
    return new Date(this.clock()).toISOString().slice(0, 10);
  }

  header(used = this.store.usage(this.day())): Record<string, string> {
    return { 'Sforce-Limit-Info': `api-usage=${used}/${this.options.dailyLimit}` };
  }

  used(): number {
    return this.store.usage(this.day());
  }

  /** Admits one API request (counted) or throws the 403; call `release()` when it is answered. */
  admit(): Record<string, string> {
    const used = this.store.usage(this.day());
    if (used >= this.options.dailyLimit) {
      this.stats.refusedDaily++;
      throw new SfHttpError(403, [{ message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }], this.header(used));
    }
    if (this.inFlight >= this.options.concurrencyLimit) {
      this.stats.refusedConcurrency++;
      throw new SfHttpError(403, [{ message: 'ConcurrentPerOrgLongTxn Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }], this.header(used));
    }
    this.inFlight++;
    this.stats.accepted++;
    this.stats.peakConcurrency = Math.max(this.stats.peakConcurrency, this.inFlight);
    return this.header(this.store.countRequest(this.day()));
  }

  release(): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
  }
}
