import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { stallBudgetMs, watchProgress } from '../../activities/progress-watch';
import { createHubSpotConnector, unlimitedGovernor } from '../../connectors/hubspot';
import { reportProgress, waitingFor } from '../../connectors/progress';
import { TrytonClient } from '../../connectors/tryton/client';
import { createTrytonConnector } from '../../connectors/tryton/connector';
import { isSyncError, type SyncError } from '../../contracts/errors';
import { CONNECTOR_KINDS } from '../../pipelines/systems';

/**
 * Request deadlines of the connectors against a loopback server that accepts every request and
 * never answers, and the progress watch writePage runs each batch under.
 */

const TOKEN = 'pat-na1-secret-token-0000';

interface Silent {
  url: string;
  /** Requests received, and how long after each the client closed its connection. */
  received: { path: string; closedAfterMs?: number }[];
  stop(): Promise<void>;
}

async function silentServer(): Promise<Silent> {
  const received: Silent['received'] = [];
  const sockets = new Set<Socket>();
  const server = http.createServer((req) => {
    const entry: Silent['received'][number] = { path: req.url ?? '/' };
    received.push(entry);
    const at = Date.now();
    req.resume();
    req.socket.once('close', () => {
      entry.closedAfterMs = Date.now() - at;
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

async function failure(p: Promise<unknown>): Promise<SyncError> {
  try {
    await p;
  } catch (err) {
    if (isSyncError(err)) return err;
    throw err;
  }
  throw new Error('expected a failure');
}

let silent: Silent;
beforeEach(async () => {
  silent = await silentServer();
});
afterEach(async () => {
  await silent.stop();
});

describe('request deadlines', () => {
  test('HubSpot: a request without an answer fails Transient after its timeout and the connection is closed', async () => {
    const hubspot = createHubSpotConnector({ accessToken: TOKEN, basePath: silent.url, governor: unlimitedGovernor, requestTimeoutMs: 300 });
    expect(hubspot.describe().requestTimeoutMs).toBe(300);
    const t0 = Date.now();
    const err = await failure(hubspot.upsert('companies', [{ externalKey: 'c-1', fields: { name: 'Acme' } }]));
    const took = Date.now() - t0;
    expect(err.type).toBe('Transient');
    expect(err.retryable).toBe(true);
    expect(err.message).toBe('HubSpot batch upsert companies timed out: no complete answer within 0.3 s');
    expect(err.message).not.toContain(TOKEN);
    expect(took).toBeGreaterThanOrEqual(290);
    expect(took).toBeLessThan(5000);
    expect(silent.received).toHaveLength(1);
    expect(silent.received[0]!.path).toBe('/crm/v3/objects/companies/batch/upsert');
    // the client gave up on the request: its socket is gone, not left hanging
    await until(() => silent.received[0]!.closedAfterMs !== undefined);
    await hubspot.close();
  });

  test('Tryton: a JSON-RPC request without an answer fails Transient after its timeout', async () => {
    const client = new TrytonClient({ url: silent.url, database: 'db', user: 'u', password: 'S3cret-Password', timeoutMs: 300 });
    const err = await failure(client.server('common.server.version'));
    expect(err.type).toBe('Transient');
    expect(err.message).toBe('Tryton common.server.version timed out: no complete answer within 0.3 s');
    expect(err.details).toMatchObject({ code: 'TIMEOUT', timeoutMs: 300 });
    await until(() => silent.received[0]?.closedAfterMs !== undefined);
    expect(createTrytonConnector({ url: silent.url, database: 'db', user: 'u', password: 'p', timeoutMs: 1234 }).describe().requestTimeoutMs).toBe(1234);
  });

  test('config: requestTimeoutSeconds per system, with defaults (HubSpot 30 s, Tryton 60 s)', () => {
    const hub = CONNECTOR_KINDS.hubspot!.schema.parse({ kind: 'hubspot', tokenEnv: 'T', account: 'a', governorDb: ':memory:' }) as { requestTimeoutSeconds: number };
    expect(hub.requestTimeoutSeconds).toBe(30);
    const tryton = CONNECTOR_KINDS.tryton!.schema.parse({ kind: 'tryton', url: 'http://x', database: 'd', user: 'u', passwordEnv: 'P', requestTimeoutSeconds: 5 }) as {
      requestTimeoutSeconds: number;
    };
    expect(tryton.requestTimeoutSeconds).toBe(5);
    expect(CONNECTOR_KINDS.tryton!.schema.safeParse({ kind: 'tryton', url: 'http://x', database: 'd', user: 'u', passwordEnv: 'P', requestTimeoutSeconds: 0 }).success).toBe(false);
    const built = CONNECTOR_KINDS.hubspot!.create(
      CONNECTOR_KINDS.hubspot!.schema.parse({ kind: 'hubspot', tokenEnv: 'T', account: 'a', governorDb: ':memory:', requestTimeoutSeconds: 2 }),
      'hubspot',
      { T: TOKEN },
    );
    expect(built.describe().requestTimeoutMs).toBe(2000);
  });
});

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('progress watch (writePage batches)', () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  test('the budget is the request timeout plus a margin', () => {
    expect(stallBudgetMs(30_000)).toBe(45_000);
    expect(stallBudgetMs(2000)).toBe(3000);
    expect(stallBudgetMs(undefined)).toBe(90_000);
  });

  test('a batch whose requests keep completing runs longer than the budget and heartbeats throughout', async () => {
    let beats = 0;
    // each step is 100 ms against a 1 s budget (a loaded CI machine may delay a timer by hundreds of
    // ms); 14 steps make the batch run well past the budget
    const result = await watchProgress({ stallMs: 1000, beatEveryMs: 50, beat: () => beats++, what: 'writing x' }, async () => {
      for (let i = 0; i < 14; i++) {
        await sleep(100);
        reportProgress();
      }
      return 'done';
    });
    expect(result).toBe('done');
    expect(beats).toBeGreaterThanOrEqual(4);
  });

  test('waiting that is not a request (a rate-governor slot) never counts as a stall', async () => {
    const result = await watchProgress({ stallMs: 150, beatEveryMs: 50, beat: () => undefined, what: 'writing x' }, async () => {
      await waitingFor(() => sleep(500));
      return 1;
    });
    expect(result).toBe(1);
  });

  test('a batch without progress stops heartbeating and fails Transient after the budget', async () => {
    let beats = 0;
    let beatsAtFailure = -1;
    const t0 = Date.now();
    const err = await failure(
      watchProgress({ stallMs: 300, beatEveryMs: 50, beat: () => beats++, what: 'writing hubspot.companies' }, () => new Promise<never>(() => undefined)),
    );
    beatsAtFailure = beats;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
    expect(err.type).toBe('Transient');
    expect(err.message).toMatch(/^writing hubspot\.companies: no progress for 0\.\d s \(a request hung past its timeout\); the batch is retried$/);
    await sleep(200);
    expect(beats).toBe(beatsAtFailure);
  });

  test('progress is scoped: another batch progressing on the same connector does not keep a hung one alive', async () => {
    const hung = watchProgress({ stallMs: 200, beatEveryMs: 50, beat: () => undefined, what: 'a' }, () => new Promise<never>(() => undefined));
    const busy = watchProgress({ stallMs: 2000, beatEveryMs: 50, beat: () => undefined, what: 'b' }, async () => {
      for (let i = 0; i < 10; i++) {
        await sleep(50);
        reportProgress();
      }
      return 'ok';
    });
    expect((await failure(hung)).type).toBe('Transient');
    expect(await busy).toBe('ok');
  });
});
