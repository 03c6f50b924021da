import http from 'node:http';
import { listenProxy } from './hanging-proxy';
import { seededRandom } from '../../connectors/sql/faults';

/**
 * A loopback HTTP proxy in front of one upstream origin (the HubSpot emulator, a real trytond)
 * that answers a configured share of the requests it counts with a fault instead of the
 * upstream's answer. Which request gets which fault is drawn from a seeded RNG, so the same seed
 * and the same request sequence give the same faults on every run.
 *
 * Faults, and when they happen relative to the upstream:
 *  - `status5xx`: a 500/502/503 with a JSON error body. Half `before` (the upstream never saw the
 *    request), half `after` (forwarded, the upstream answered, the answer replaced: a write that
 *    happened while the client saw an error).
 *  - `rate429`: 429 with `Retry-After: <retryAfterSeconds>` and a HubSpot-style body, never forwarded.
 *  - `timeout`: never answered (`before`: never forwarded; `after`: forwarded, answer withheld),
 *    so the client must give up at its own request timeout.
 *  - `reset`: the TCP connection is reset (`before` or `after` forwarding).
 *  - `slow`: forwarded after `slowMs`, answered as is (not an error; slow targets must not fail).
 * Every request not drawn for a fault is forwarded and answered as is.
 */
export type FaultKind = 'status5xx' | 'rate429' | 'timeout' | 'reset' | 'slow';

export interface FaultProxyOptions {
  /** Upstream origin, e.g. `http://127.0.0.1:4010`. */
  upstream: string;
  /** Share (0..1) of counted requests answered with each fault; the shares add up to at most 1. */
  shares: Partial<Record<FaultKind, number>>;
  /** RNG seed: same seed, same faults. */
  seed: number;
  /** Which requests are counted (and may be faulted). @default every request */
  counts?: (method: string, path: string) => boolean;
  /** `Retry-After` of a 429, in seconds. @default 1 */
  retryAfterSeconds?: number;
  /** Delay of a `slow` answer. @default 300 */
  slowMs?: number;
}

export interface InjectedFault {
  /** 1-based number of the counted request. */
  n: number;
  method: string;
  path: string;
  kind: FaultKind;
  when: 'before' | 'after';
  /** The status sent (5xx, 429), if any. */
  status?: number;
  /** For `after`: the upstream's status, withheld from the client. */
  upstreamStatus?: number;
  /** For `timeout`: how long after the request the client closed the connection. */
  closedAfterMs?: number;
}

export interface FaultProxy {
  url: string;
  readonly counted: number;
  readonly total: number;
  readonly faults: readonly InjectedFault[];
  /** Faults by kind (errors only: `slow` is counted too, but is not a failure). */
  count(kind?: FaultKind): number;
  /** Change the shares from now on (e.g. none while a test reads the target back). */
  setShares(shares: Partial<Record<FaultKind, number>>): void;
  stop(): Promise<void>;
}

const KINDS: FaultKind[] = ['status5xx', 'rate429', 'timeout', 'reset', 'slow'];

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const upstream = new URL(options.upstream);
  const agent = new http.Agent({ keepAlive: true });
  const random = seededRandom(options.seed);
  const faults: InjectedFault[] = [];
  let shares = { ...options.shares };
  let counted = 0;
  let total = 0;

  const draw = (): FaultKind | null => {
    const r = random();
    let acc = 0;
    for (const k of KINDS) {
      acc += shares[k] ?? 0;
      if (r < acc) return k;
    }
    return null;
  };

  const forward = (req: http.IncomingMessage, onResponse: (res: http.IncomingMessage) => void, onError: () => void): void => {
    const out = http.request(
      {
        protocol: upstream.protocol,
        hostname: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: upstream.host },
        agent,
      },
      onResponse,
    );
    out.on('error', onError);
    req.pipe(out);
  };
  const passThrough = (req: http.IncomingMessage, res: http.ServerResponse): void =>
    forward(
      req,
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
      () => {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      },
    );
  /** Forward and read the upstream's whole answer, then `then` (the answer is not passed on). */
  const forwardAndSwallow = (req: http.IncomingMessage, fault: InjectedFault, then: () => void): void =>
    forward(
      req,
      (up) => {
        fault.upstreamStatus = up.statusCode ?? 0;
        up.resume();
        up.once('end', then);
      },
      then,
    );
  const sendStatus = (res: http.ServerResponse, status: number, headers: Record<string, string>, body: unknown): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  };
  const reset = (req: http.IncomingMessage): void => {
    req.socket.resetAndDestroy();
  };

  const server = http.createServer((req, res) => {
    total++;
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const isCounted = options.counts ? options.counts(method, path) : true;
    if (!isCounted) return passThrough(req, res);
    counted++;
    const kind = draw();
    if (!kind) return passThrough(req, res);
    const when: 'before' | 'after' = kind === 'rate429' || kind === 'slow' ? 'before' : random() < 0.5 ? 'before' : 'after';
    const fault: InjectedFault = { n: counted, method, path, kind, when };
    faults.push(fault);
    const at = Date.now();
    switch (kind) {
      case 'slow':
        setTimeout(() => passThrough(req, res), options.slowMs ?? 300);
        return;
      case 'rate429': {
        fault.status = 429;
        req.resume();
        const retryAfter = String(options.retryAfterSeconds ?? 1);
        sendStatus(res, 429, { 'retry-after': retryAfter }, { status: 'error', message: 'You have reached your secondly limit.', errorType: 'RATE_LIMIT', policyName: 'SECONDLY' });
        return;
      }
      case 'status5xx': {
        const status = [500, 502, 503][Math.floor(random() * 3)]!;
        fault.status = status;
        const answer = () => sendStatus(res, status, {}, { status: 'error', message: `injected fault: HTTP ${status}`, category: 'INTERNAL_ERROR' });
        if (when === 'before') {
          req.resume();
          answer();
        } else forwardAndSwallow(req, fault, answer);
        return;
      }
      case 'reset':
        if (when === 'before') reset(req);
        else forwardAndSwallow(req, fault, () => reset(req));
        return;
      case 'timeout':
        req.socket.once('close', () => {
          fault.closedAfterMs = Date.now() - at;
        });
        if (when === 'before') req.resume();
        else forwardAndSwallow(req, fault, () => undefined);
        return; // never answered: only the client may give up
    }
  });
  const listening = await listenProxy(server, agent);
  return {
    url: listening.url,
    get counted() {
      return counted;
    },
    get total() {
      return total;
    },
    faults,
    count: (kind) => (kind ? faults.filter((f) => f.kind === kind).length : faults.filter((f) => f.kind !== 'slow').length),
    setShares(next) {
      shares = { ...next };
    },
    stop: listening.stop,
  };
}
