import { SyncError } from '../../contracts/errors';
import { reportProgress } from '../progress';
import { decodeValue, encodeValue } from './codec';
import { translateHttpStatus, translateNetworkError, translateRpcError } from './errors';

export interface TrytonClientOptions {
  /** Base URL of trytond, e.g. `http://127.0.0.1:8000`. */
  url: string;
  database: string;
  user: string;
  password: string;
  /** @default 'en' */
  language?: string;
  /**
   * Longest one JSON-RPC request may take, from sending it to the last byte of the answer; then
   * it is aborted and fails as `Transient`. @default 60000
   */
  timeoutMs?: number;
  /** Injected for tests. @default globalThis.fetch */
  fetch?: typeof fetch;
}

export type Context = Record<string, unknown>;

/**
 * JSON-RPC transport for one Tryton database and user. It logs in lazily with a session, sends
 * the user's preferences as the context of every model call (the server does not add them; the
 * GUI client does the same), logs in again once when the session is refused (sessions expire
 * and `fresh_session` methods drop idle ones), and serializes calls: trytond is GIL-bound, so
 * parallel calls add no throughput, and on SQLite concurrent writers collide on sequences.
 */
export class TrytonClient {
  private readonly opts: Required<Omit<TrytonClientOptions, 'fetch' | 'password'>> & { fetch: typeof fetch };
  // Secrets live in ES private fields: never enumerated, so a logged or serialized client (the
  // connector exposes it) shows neither the password nor the session.
  readonly #password: string;
  #auth: string | null = null;
  private prefs: Context | null = null;
  private nextId = 0;
  /** Set when the server is Tryton 6.0 (database RPC on `/<db>/`). */
  private legacyPath = false;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(options: TrytonClientOptions) {
    const { password, ...rest } = options;
    this.#password = password;
    this.opts = {
      language: 'en',
      timeoutMs: 60_000,
      ...rest,
      url: options.url.replace(/\/+$/, ''),
      fetch: options.fetch ?? globalThis.fetch,
    };
  }

  /** The user's preferences used as the base context (company, employee, language…). */
  async context(): Promise<Context> {
    await this.ensureSession();
    return { ...(this.prefs ?? {}) };
  }

  /** Calls `model.<model>.<method>` with `args` and the user context (merged with `extra`). */
  async model<T>(model: string, method: string, args: unknown[], extra: Context = {}): Promise<T> {
    return this.withSession(`model.${model}.${method}`, (ctx) => [...args, { ...ctx, ...extra }]);
  }

  /** Calls `wizard.<name>.<method>` with `args` and the user context (merged with `extra`). */
  async wizard<T>(name: string, method: string, args: unknown[], extra: Context = {}): Promise<T> {
    return this.withSession(`wizard.${name}.${method}`, (ctx) => [...args, { ...ctx, ...extra }]);
  }

  /** Server-level call (no database, no session), e.g. `common.server.version`: on `/rpc/` (7.0+), else `/` (6.0). */
  async server<T>(method: string, params: unknown[] = []): Promise<T> {
    return this.serial(async () => {
      try {
        return await this.rpc<T>(`${this.opts.url}/rpc/`, method, params, null);
      } catch (err) {
        if (!isMissingRoute(err)) throw err;
        return this.rpc<T>(`${this.opts.url}/`, method, params, null);
      }
    });
  }

  async logout(): Promise<void> {
    if (!this.#auth) return;
    const auth = this.#auth;
    this.#auth = null;
    this.prefs = null;
    await this.serial(() => this.rpc(this.dbUrl(), 'common.db.logout', [], auth)).catch(() => undefined);
  }

  /**
   * The database's JSON-RPC endpoint: `/<db>/rpc/` since Tryton 7.0 (8.0 LTS is the supported
   * series); `/<db>/` on 6.0, used when the login finds no `/rpc/` route there.
   */
  private dbUrl(): string {
    return `${this.opts.url}/${encodeURIComponent(this.opts.database)}/${this.legacyPath ? '' : 'rpc/'}`;
  }

  /** The per-request deadline, in ms. */
  get timeoutMs(): number {
    return this.opts.timeoutMs;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    // Getting the turn restarts the clock of a caller watching for progress. Waiting for it is
    // not exempt from that clock: a request ahead of ours that never ends (its deadline missed)
    // would otherwise hold every later call, and its retries, forever without looking stuck.
    const run = this.queue.then(() => {
      reportProgress();
      return fn();
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async withSession<T>(method: string, params: (ctx: Context) => unknown[]): Promise<T> {
    return this.serial(async () => {
      await this.ensureSessionUnlocked();
      try {
        return await this.rpc<T>(this.dbUrl(), method, params(this.prefs ?? {}), this.#auth);
      } catch (err) {
        // 401 means the call never ran (auth is checked first), so one retry is safe.
        if (!(err instanceof SyncError) || err.details?.status !== 401) throw err;
        this.#auth = null;
        await this.ensureSessionUnlocked();
        return this.rpc<T>(this.dbUrl(), method, params(this.prefs ?? {}), this.#auth);
      }
    });
  }

  private async ensureSession(): Promise<void> {
    if (this.#auth && this.prefs) return;
    await this.serial(() => this.ensureSessionUnlocked());
  }

  private async ensureSessionUnlocked(): Promise<void> {
    if (this.#auth && this.prefs) return;
    const { user, language } = this.opts;
    const password = this.#password;
    let result: unknown;
    try {
      result = await this.login(user, password, language);
    } catch (err) {
      if (err instanceof SyncError && err.details?.status === 401) {
        throw new SyncError('AuthError', `Tryton login refused for user "${user}" on database "${this.opts.database}"`, {
          details: { method: 'common.db.login', status: 401 },
        });
      }
      throw err;
    }
    if (!Array.isArray(result) || typeof result[0] !== 'number' || typeof result[1] !== 'string') {
      throw new SyncError('AuthError', `Tryton login for user "${user}" returned no session`);
    }
    this.#auth = `Session ${Buffer.from(`${user}:${result[0]}:${result[1]}`).toString('base64')}`;
    const prefs = await this.rpc<Context>(this.dbUrl(), 'model.res.user.get_preferences', [true, {}], this.#auth);
    // Keep only what a context needs; `groups` and labels (`*.rec_name`) are noise.
    this.prefs = Object.fromEntries(
      Object.entries(prefs).filter(([k]) => !k.includes('.') && k !== 'groups' && k !== 'actions' && k !== 'pyson_menu'),
    );
  }

  private async login(user: string, password: string, language: string): Promise<unknown> {
    const params = [user, { password }, language];
    try {
      return await this.rpc(this.dbUrl(), 'common.db.login', params, null);
    } catch (err) {
      // 6.0 has no `/<db>/rpc/` route (405); 8.0 answers 404 only for an unknown database.
      if (this.legacyPath || !isMissingRoute(err)) throw err;
      this.legacyPath = true;
      try {
        return await this.rpc(this.dbUrl(), 'common.db.login', params, null);
      } catch (legacyErr) {
        this.legacyPath = false;
        throw isMissingRoute(legacyErr) ? err : legacyErr;
      }
    }
  }

  private async rpc<T>(url: string, method: string, params: unknown[], auth: string | null): Promise<T> {
    try {
      return await this.rpcOnce<T>(url, method, params, auth);
    } finally {
      reportProgress();
    }
  }

  private async rpcOnce<T>(url: string, method: string, params: unknown[], auth: string | null): Promise<T> {
    const id = ++this.nextId;
    // One deadline for the whole exchange: headers and body (the signal also aborts the body).
    const signal = AbortSignal.timeout(this.opts.timeoutMs);
    let res: Response;
    try {
      res = await this.opts.fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...(auth ? { Authorization: auth } : {}) },
        body: JSON.stringify({ id, method, params: encodeValue(params) }),
        signal,
      });
    } catch (err) {
      throw translateNetworkError(method, err, this.opts.timeoutMs);
    }
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => undefined);
      throw translateHttpStatus(method, res.status, res.headers.get('retry-after'));
    }
    let body: { id?: unknown; result?: unknown; error?: unknown };
    try {
      body = (await res.json()) as typeof body;
    } catch {
      if (signal.aborted) throw translateNetworkError(method, { name: 'TimeoutError' }, this.opts.timeoutMs);
      throw new SyncError('Transient', `Tryton sent an unreadable response to ${method}`, { details: { method } });
    }
    if (body.error !== undefined && body.error !== null) throw translateRpcError(method, body.error);
    return decodeValue(body.result) as T;
  }
}

/** An HTTP 404/405: the path is not a route of this Tryton series (or the database is unknown). */
function isMissingRoute(err: unknown): boolean {
  const status = err instanceof SyncError ? err.details?.status : undefined;
  return status === 404 || status === 405;
}
