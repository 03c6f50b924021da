import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A loopback HTTP proxy in front of one upstream origin that, deterministically, accepts every
 * `hangEvery`-th counted request and never answers it: like a half-open connection or a stuck
 * load balancer. Hangs alternate between two kinds:
 *  - `unsent`: the request is read and never forwarded (the upstream never sees it);
 *  - `unanswered`: the request is forwarded and the upstream answers, but the answer is withheld
 *    (the write happened; the client cannot know).
 * Every other request is forwarded and answered as is. The proxy records, per hang, whether and
 * when the client gave up on it (closed the connection), so a test can tell a client with a
 * request timeout from one that waits forever. Started and stopped by the test (port from the OS).
 */
export interface HangingProxyOptions {
  /** Upstream origin, e.g. `http://127.0.0.1:4010`. */
  upstream: string;
  /** Every n-th counted request hangs (n ≥ 2); 0 = none. */
  hangEvery: number;
  /** Which requests are counted (and may hang). @default every request */
  counts?: (method: string, path: string) => boolean;
}

export interface Hang {
  /** 1-based number of the counted request. */
  n: number;
  method: string;
  path: string;
  kind: 'unsent' | 'unanswered';
  /** When the proxy accepted the request (Date.now()). */
  at: number;
  /** For `unanswered`: the upstream's status, once it answered (withheld from the client). */
  upstreamStatus?: number;
  /** How long after `at` the client closed the connection; undefined while it still waits. */
  closedAfterMs?: number;
}

export interface HangingProxy {
  url: string;
  /** Counted requests so far. */
  readonly counted: number;
  /** All requests so far (counted or not). */
  readonly total: number;
  readonly hangs: readonly Hang[];
  /** Counted requests by `METHOD path`, for diagnostics. */
  readonly log: readonly string[];
  stop(): Promise<void>;
}

export async function startHangingProxy(options: HangingProxyOptions): Promise<HangingProxy> {
  const upstream = new URL(options.upstream);
  const agent = new http.Agent({ keepAlive: true });
  const hangs: Hang[] = [];
  const log: string[] = [];
  let counted = 0;
  let total = 0;

  const forward = (req: http.IncomingMessage, onResponse: (res: http.IncomingMessage) => void, onError: (err: Error) => void): void => {
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

  const server = http.createServer((req, res) => {
    total++;
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const isCounted = options.counts ? options.counts(method, path) : true;
    if (isCounted) {
      counted++;
      log.push(`${method} ${path}`);
    }
    if (isCounted && options.hangEvery > 0 && counted % options.hangEvery === 0) {
      const hang: Hang = { n: counted, method, path, kind: hangs.length % 2 === 0 ? 'unsent' : 'unanswered', at: Date.now() };
      hangs.push(hang);
      req.socket.once('close', () => {
        hang.closedAfterMs = Date.now() - hang.at;
      });
      if (hang.kind === 'unsent') {
        req.resume();
      } else {
        forward(
          req,
          (up) => {
            hang.upstreamStatus = up.statusCode ?? 0;
            up.resume();
          },
          () => undefined,
        );
      }
      return; // never answered
    }
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
    hangs,
    log,
    stop: listening.stop,
  };
}

/**
 * Serve a test proxy on a free loopback port. It never times its own clients out (a proxy that
 * hangs leaves giving up to the client); `stop` destroys open sockets and the upstream agent.
 */
export async function listenProxy(server: http.Server, agent: http.Agent): Promise<{ url: string; stop: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  server.requestTimeout = 0;
  server.headersTimeout = 0;
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        agent.destroy();
        server.close(() => resolve());
      }),
  };
}
