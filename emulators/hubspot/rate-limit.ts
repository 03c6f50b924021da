import type { RatePolicy } from './errors';

/**
 * HubSpot's limits as the emulator applies them: a rolling 10-second window per app (token),
 * a daily count per account, and 5 search requests per rolling second per account. Only accepted
 * requests are counted (whether HubSpot counts refused ones is not documented).
 */
export interface RateLimitOptions {
  /** Requests per rolling 10 s per app. @default 190 */
  per10s: number;
  /** Search requests per rolling second per account. @default 5 */
  searchPerSecond: number;
  /** Requests per day per account. @default 1_000_000 */
  daily: number;
}

export type RateDecision =
  | { ok: true; headers: Record<string, string> }
  | { ok: false; policy: RatePolicy; headers: Record<string, string> };

class RollingWindow {
  private readonly hits: number[] = [];
  private head = 0;
  constructor(private readonly windowMs: number) {}

  count(now: number): number {
    while (this.head < this.hits.length && (this.hits[this.head] ?? 0) <= now - this.windowMs) this.head++;
    if (this.head > 1024) {
      this.hits.splice(0, this.head);
      this.head = 0;
    }
    return this.hits.length - this.head;
  }

  add(now: number): void {
    this.hits.push(now);
  }
}

export class RateLimiter {
  private readonly apps = new Map<string, RollingWindow>();
  private readonly search = new RollingWindow(1000);
  private daily = { day: '', count: 0 };
  /** Counters for tests and benches (`searches`: search requests that arrived, accepted or not). */
  readonly stats = { accepted: 0, limited: 0, searches: 0, searchLimited: 0 };

  constructor(private readonly options: RateLimitOptions) {}

  check(app: string, isSearch: boolean, now = Date.now()): RateDecision {
    const day = new Date(now).toISOString().slice(0, 10);
    if (this.daily.day !== day) this.daily = { day, count: 0 };
    if (this.daily.count >= this.options.daily) {
      this.stats.limited++;
      return { ok: false, policy: 'DAILY', headers: this.dailyHeaders() };
    }
    if (isSearch) {
      this.stats.searches++;
      // Search responses carry no rate-limit headers (reference §1).
      if (this.search.count(now) >= this.options.searchPerSecond) {
        this.stats.searchLimited++;
        return { ok: false, policy: 'SECONDLY', headers: {} };
      }
      this.search.add(now);
      this.daily.count++;
      this.stats.accepted++;
      return { ok: true, headers: {} };
    }
    let window = this.apps.get(app);
    if (!window) {
      window = new RollingWindow(10_000);
      this.apps.set(app, window);
    }
    const used = window.count(now);
    if (used >= this.options.per10s) {
      this.stats.limited++;
      return { ok: false, policy: 'TEN_SECONDLY_ROLLING', headers: { ...this.intervalHeaders(0), ...this.dailyHeaders() } };
    }
    window.add(now);
    this.daily.count++;
    this.stats.accepted++;
    return { ok: true, headers: { ...this.intervalHeaders(this.options.per10s - used - 1), ...this.dailyHeaders() } };
  }

  private intervalHeaders(remaining: number): Record<string, string> {
    return {
      'X-HubSpot-RateLimit-Interval-Milliseconds': '10000',
      'X-HubSpot-RateLimit-Max': String(this.options.per10s),
      'X-HubSpot-RateLimit-Remaining': String(remaining),
    };
  }

  private dailyHeaders(): Record<string, string> {
    return {
      'X-HubSpot-RateLimit-Daily': String(this.options.daily),
      'X-HubSpot-RateLimit-Daily-Remaining': String(Math.max(0, this.options.daily - this.daily.count)),
    };
  }
}
