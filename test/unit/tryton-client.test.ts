import { TrytonClient } from '../../connectors/tryton/client';
import { TrytonDecimal } from '../../connectors/tryton/codec';

type Call = { url: string; auth: string | null; body: { id: number; method: string; params: unknown[] } };

/** A fake trytond: records calls and answers from a script keyed by method. */
function fakeFetch(answer: (call: Call, n: number) => { status?: number; json?: unknown }) {
  const calls: Call[] = [];
  const impl = (async (url: string, init: RequestInit) => {
    const headers = init.headers as Record<string, string>;
    const call = { url, auth: headers.Authorization ?? null, body: JSON.parse(String(init.body)) as Call['body'] };
    calls.push(call);
    const a = answer(call, calls.length);
    return new Response(a.json === undefined ? '<html>no</html>' : JSON.stringify({ id: call.body.id, ...(a.json as object) }), { status: a.status ?? 200 });
  }) as unknown as typeof fetch;
  return { calls, impl };
}

const opts = { url: 'http://127.0.0.1:9/', database: 'db', user: 'sync', password: 'S3cret-Password' };

describe('TrytonClient', () => {
  test('logs in once, sends the preferences as context and encodes values', async () => {
    const f = fakeFetch(({ body }) => {
      if (body.method === 'common.db.login') return { json: { result: [7, 'sess'] } };
      if (body.method === 'model.res.user.get_preferences') return { json: { result: { company: 1, groups: [1], 'company.rec_name': 'X', language: 'en' } } };
      return { json: { result: { __class__: 'Decimal', decimal: '1.50' } } };
    });
    const c = new TrytonClient({ ...opts, fetch: f.impl });
    expect(await c.model('x.y', 'm', [[1], new TrytonDecimal('2')], { active_test: false })).toEqual(new TrytonDecimal('1.50'));
    await c.model('x.y', 'm', []);
    expect(f.calls.map((k) => k.body.method)).toEqual(['common.db.login', 'model.res.user.get_preferences', 'model.x.y.m', 'model.x.y.m']);
    expect(f.calls[0]?.url).toBe('http://127.0.0.1:9/db/rpc/');
    expect(f.calls[2]?.url).toBe('http://127.0.0.1:9/db/rpc/');
    expect(f.calls[2]?.auth).toBe(`Session ${Buffer.from('sync:7:sess').toString('base64')}`);
    expect(f.calls[2]?.body.params).toEqual([[1], { __class__: 'Decimal', decimal: '2' }, { company: 1, language: 'en', active_test: false }]);
  });

  test('falls back to 6.0\'s /<db>/ route when /<db>/rpc/ is not a route there (405), and stays on it', async () => {
    const f = fakeFetch(({ url, body }) => {
      if (url.endsWith('/rpc/')) return { status: 405 };
      if (body.method === 'common.db.login') return { json: { result: [7, 'sess'] } };
      if (body.method === 'model.res.user.get_preferences') return { json: { result: { company: 1, language: 'en' } } };
      return { json: { result: 1 } };
    });
    const c = new TrytonClient({ ...opts, fetch: f.impl });
    expect(await c.model('x.y', 'm', [])).toBe(1);
    expect(f.calls.map((k) => `${k.body.method} ${k.url}`)).toEqual([
      'common.db.login http://127.0.0.1:9/db/rpc/',
      'common.db.login http://127.0.0.1:9/db/',
      'model.res.user.get_preferences http://127.0.0.1:9/db/',
      'model.x.y.m http://127.0.0.1:9/db/',
    ]);
  });

  test('logs in again once when the session is refused (401)', async () => {
    let logins = 0;
    const f = fakeFetch(({ body }, n) => {
      if (body.method === 'common.db.login') return { json: { result: [7, `s${++logins}`] } };
      if (body.method === 'model.res.user.get_preferences') return { json: { result: {} } };
      return n === 4 ? { status: 401 } : { json: { result: 'ok' } };
    });
    const c = new TrytonClient({ ...opts, fetch: f.impl });
    await c.model('a.b', 'c', []);
    expect(await c.model('a.b', 'c', [])).toBe('ok');
    expect(logins).toBe(2);
  });

  test('a refused login is an AuthError that names the user, not the password', async () => {
    const f = fakeFetch(() => ({ status: 401 }));
    const c = new TrytonClient({ ...opts, fetch: f.impl });
    const err = (await c.model('a.b', 'c', []).catch((e: unknown) => e)) as Error & { type: string };
    expect(err.type).toBe('AuthError');
    expect(err.message).toContain('"sync"');
    expect(JSON.stringify({ m: err.message, d: (err as { details?: unknown }).details })).not.toMatch(/S3cret|Session|sess/);
  });

  test('translates JSON-RPC errors and serializes calls', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const f = fakeFetch(({ body }) => {
      if (body.method === 'common.db.login') return { json: { result: [1, 's'] } };
      if (body.method === 'model.res.user.get_preferences') return { json: { result: {} } };
      return { json: { error: ['UserError', ['A value is required for field "Code" in "Currency".', '', null]] } };
    });
    const slow = (async (u: string, i: RequestInit) => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight -= 1;
      return f.impl(u, i);
    }) as unknown as typeof fetch;
    const c = new TrytonClient({ ...opts, fetch: slow });
    const results = await Promise.allSettled([c.model('a', 'b', []), c.model('a', 'b', []), c.model('a', 'b', [])]);
    expect(results.map((r) => (r.status === 'rejected' ? (r.reason as { type: string; field?: string }).field : 'ok'))).toEqual(['Code', 'Code', 'Code']);
    expect(maxInFlight).toBe(1);
  });

  test('network failure is Transient', async () => {
    const c = new TrytonClient({ ...opts, fetch: (async () => { throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } }); }) as unknown as typeof fetch });
    await expect(c.model('a', 'b', [])).rejects.toMatchObject({ type: 'Transient', message: 'Tryton unreachable during common.db.login (ECONNREFUSED)' });
  });
});
