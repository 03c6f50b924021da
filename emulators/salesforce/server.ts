import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BulkJobs } from './bulk';
import { OrgLimits } from './limits';
import { createHandler } from './router';
import { SalesforceStore } from './store';

export interface SalesforceEmulatorOptions {
  /** SQLite file for state that survives restarts. @default ':memory:' */
  dbPath?: string;
  /** @default 0 (a free port) */
  port?: number;
  /** A session token always accepted as `Authorization: Bearer …`. */
  token: string;
  /** A connected app for the OAuth client-credentials flow. */
  clientId?: string;
  clientSecret?: string;
  /** API requests per UTC day. @default 100_000 */
  dailyLimit?: number;
  /** Requests in flight at once. @default 25 */
  concurrencyLimit?: number;
  /** Delay added to every API answer (makes the concurrency limit observable). @default 0 */
  latencyMs?: number;
  /** Rows per Bulk 2.0 query results page when the client sends no `maxRecords`. @default 50_000 */
  bulkQueryPageSize?: number;
}

export interface SalesforceEmulator {
  /** The instance URL, e.g. `http://127.0.0.1:8085` (jsforce's `instanceUrl`). */
  baseUrl: string;
  store: SalesforceStore;
  limits: OrgLimits;
  stop(): Promise<void>;
}

export async function startSalesforceEmulator(options: SalesforceEmulatorOptions): Promise<SalesforceEmulator> {
  const store = new SalesforceStore(options.dbPath);
  const limits = new OrgLimits(store, { dailyLimit: options.dailyLimit ?? 100_000, concurrencyLimit: options.concurrencyLimit ?? 25 });
  let baseUrl = '';
  const bulk = new BulkJobs(store, 50, options.bulkQueryPageSize);
  const deps = {
    store, limits, bulk, token: options.token, latencyMs: options.latencyMs ?? 0, baseUrl: () => baseUrl,
    ...(options.clientId ? { clientId: options.clientId, clientSecret: options.clientSecret ?? '' } : {}),
  };
  const server = createServer(createHandler(deps));
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    baseUrl, store, limits,
    stop: async () => {
      await bulk.close();
      await new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => {
          store.close();
          if (err) reject(err);
          else resolve();
        });
      });
    },
  };
}
