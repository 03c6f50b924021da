import { Connection } from 'jsforce';
import { SyncError } from '../../contracts/errors';
import { toSyncError } from './errors';
import type { ApiUsageGovernor } from './governor';

/**
 * The one way the connector talks to Salesforce: a jsforce Connection, each call holding a
 * governor slot, answering within a deadline, its errors translated and scrubbed, and the
 * `Sforce-Limit-Info` usage jsforce parsed fed back to the governor.
 */
export type SalesforceAuth =
  | { kind: 'token'; accessToken: string }
  | { kind: 'clientCredentials'; clientId: string; clientSecret: string; loginUrl?: string };

export interface SalesforceTransportOptions {
  /** The org's instance URL, e.g. `https://acme.my.salesforce.com` or the emulator's. */
  instanceUrl: string;
  auth: SalesforceAuth;
  /** @default '62.0' */
  version?: string;
  governor: ApiUsageGovernor;
  /** Longest one call may take before it fails `Transient`. @default 120000 */
  requestTimeoutMs?: number;
}

export class SalesforceTransport {
  readonly conn: Connection;
  readonly requestTimeoutMs: number;
  private authorized: Promise<void> | undefined;
  private readonly secrets: string[];

  constructor(private readonly options: SalesforceTransportOptions) {
    const version = options.version ?? '62.0';
    this.requestTimeoutMs = options.requestTimeoutMs ?? 120_000;
    if (options.auth.kind === 'token') {
      this.conn = new Connection({ instanceUrl: options.instanceUrl, accessToken: options.auth.accessToken, version, maxRequest: 10 });
      this.authorized = Promise.resolve();
      this.secrets = [options.auth.accessToken];
    } else {
      this.conn = new Connection({
        instanceUrl: options.instanceUrl,
        version,
        oauth2: { clientId: options.auth.clientId, clientSecret: options.auth.clientSecret, loginUrl: options.auth.loginUrl ?? options.instanceUrl },
      });
      this.secrets = [options.auth.clientSecret];
    }
  }

  /** Replaces secrets (and any issued access token) in a message. */
  redact(message: string): string {
    let out = message;
    for (const s of [...this.secrets, this.conn.accessToken ?? '']) if (s.length >= 6) out = out.split(s).join('[redacted]');
    return out.replace(/Bearer\s+\S+/g, 'Bearer [redacted]');
  }

  private authorize(): Promise<void> {
    if (!this.authorized) {
      const auth = this.options.auth;
      if (auth.kind !== 'clientCredentials') return Promise.resolve();
      this.authorized = this.conn
        .authorize({ grant_type: 'client_credentials' })
        .then(() => undefined)
        .catch((err: unknown) => {
          this.authorized = undefined;
          throw new SyncError('AuthError', `Salesforce OAuth client-credentials login refused: ${this.redact(String((err as Error).message ?? err)).slice(0, 200)}`);
        });
    }
    return this.authorized;
  }

  private observe(): void {
    const usage = this.conn.limitInfo?.apiUsage;
    if (usage) this.options.governor.observe(usage.used, usage.limit);
  }

  /** One governed call. `operation` names it in errors, e.g. `query Account`. */
  async call<T>(operation: string, fn: (conn: Connection) => Promise<T>, timeoutMs = this.requestTimeoutMs): Promise<T> {
    await this.authorize();
    const release = await this.options.governor.acquire();
    let timer: NodeJS.Timeout | undefined;
    try {
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new SyncError('Transient', `Salesforce ${operation} timed out: no complete answer within ${timeoutMs / 1000} s`, { details: { code: 'TIMEOUT', timeoutMs } })),
          timeoutMs,
        );
      });
      return await Promise.race([fn(this.conn), deadline]);
    } catch (err) {
      const e = toSyncError(err, operation, (s) => this.redact(s));
      if (e.type === 'AuthError' && this.options.auth.kind === 'clientCredentials') this.authorized = undefined; // log in again next call
      throw e;
    } finally {
      if (timer) clearTimeout(timer);
      release();
      this.observe();
    }
  }
}
