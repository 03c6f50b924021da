import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RateLimiter } from './rate-limit';
import { createHandler } from './router';
import { HubSpotStore } from './store';

export interface HubSpotEmulatorOptions {
  /** SQLite file for state that survives restarts. @default ':memory:' */
  dbPath?: string;
  /** @default 0 (a free port) */
  port?: number;
  /** The private-app token requests must carry as `Authorization: Bearer …`. */
  token: string;
  /** Requests per rolling 10 s per app (Starter 100, Professional/Enterprise 190). @default 190 */
  rateLimitPer10s?: 100 | 190;
  /** Search requests per second per account. @default 5 */
  searchPerSecond?: number;
  /** Requests per day per account. @default 1_000_000 */
  dailyLimit?: number;
}

export interface HubSpotEmulator {
  /** Origin to pass as the client's `basePath`, e.g. `http://127.0.0.1:4010`. */
  baseUrl: string;
  /** Direct access for seeding and assertions in tests. */
  store: HubSpotStore;
  /** Accepted and throttled request counts. */
  stats: RateLimiter['stats'];
  stop(): Promise<void>;
}

export async function startHubSpotEmulator(options: HubSpotEmulatorOptions): Promise<HubSpotEmulator> {
  const store = new HubSpotStore(options.dbPath);
  const limiter = new RateLimiter({
    per10s: options.rateLimitPer10s ?? 190,
    searchPerSecond: options.searchPerSecond ?? 5,
    daily: options.dailyLimit ?? 1_000_000,
  });
  const server = createServer(createHandler({ store, limiter, token: options.token }));
  // Long idle keep-alive, so clients do not race a server-side close when reusing a socket.
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    store,
    stats: limiter.stats,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => {
          store.close();
          if (err) reject(err);
          else resolve();
        });
      }),
  };
}
