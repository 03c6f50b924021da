import { Client } from '@temporalio/client';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { TASK_QUEUES } from '../../contracts/queues';
import type { SyncResult } from '../../contracts/sync';
import { seedDemo } from '../../demo/seed';
import { startTemporalServer, type TemporalServer } from '../../scripts/temporal-server';
import { connectClient, parseTemporalEnv } from '../../workers/temporal-connection';
import { installTestRuntime } from '../helpers/env';
import { startPostgres, type TestPostgres } from '../helpers/postgres';
import { recordPid } from '../helpers/processes';
import { compareSqlTarget } from '../helpers/sql-target';
import { makeCa, makeLeaf, type CertPair } from '../helpers/tls-certs';
import { spawnWorker, stopAllWorkers } from '../helpers/worker-process';

/**
 * TEMPORAL_API_KEY against the production Temporal server: a self-hosted server has no API keys
 * of its own, but it checks bearer tokens (what the SDK sends an API key as) with its JWT
 * authorizer, so the key here is a JWT signed by a key the server fetches from a JWKS endpoint
 * this test serves on loopback. TLS on (an API key is never sent in clear text; the CA from
 * TEMPORAL_TLS_CA_FILE). A worker and a client with a key for the namespace complete a sync; no
 * key, a key signed by another issuer and a key for another namespace are refused.
 */

jest.setTimeout(600_000);

const SERVER_NAME = 'temporal.test';
const tmp = mkdtempSync(path.join(os.tmpdir(), 'crm-erp-sync-api-key-'));
chmodSync(tmp, 0o711);
let pg: TestPostgres | undefined;
let server: TemporalServer | undefined;
let jwks: Server | undefined;
let certs: { serverCa: CertPair; client: CertPair };
let sign: (permissions: string[], other?: boolean) => Promise<string>;

beforeAll(async () => {
  installTestRuntime();
  const keys = await generateKeyPair('RS256');
  const foreign = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(keys.publicKey)), kid: 'sync-test', alg: 'RS256', use: 'sig' };
  sign = (permissions, other = false) =>
    new SignJWT({ permissions })
      .setProtectedHeader({ alg: 'RS256', kid: 'sync-test' })
      .setSubject('crm-erp-sync')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(other ? foreign.privateKey : keys.privateKey);
  jwks = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => jwks!.listen(0, '127.0.0.1', resolve));
  const jwksUrl = `http://127.0.0.1:${(jwks.address() as { port: number }).port}/jwks.json`;

  const dir = path.join(tmp, 'certs');
  const serverCa = makeCa(dir, 'server-ca');
  const clientCa = makeCa(dir, 'client-ca');
  const serverCert = makeLeaf(dir, 'frontend', serverCa, { server: { dnsName: SERVER_NAME } });
  const systemWorker = makeLeaf(dir, 'system-worker', clientCa, {});
  certs = { serverCa, client: makeLeaf(dir, 'sync-worker', clientCa, {}) };
  pg = await startPostgres();
  server = await startTemporalServer({
    postgresUrl: pg.url,
    dir: path.join(tmp, 'temporal'),
    onSpawn: (pid, what) => recordPid(pid, what),
    tls: { serverCertFile: serverCert.cert, serverKeyFile: serverCert.key, clientCaFile: clientCa.cert, serverCaFile: serverCa.cert, clientCertFile: systemWorker.cert, clientKeyFile: systemWorker.key, serverName: SERVER_NAME },
    authorization: { jwksUrl, adminToken: await sign(['temporal-system:admin']) },
  });
});

afterAll(async () => {
  await stopAllWorkers();
  await server?.stop();
  await pg?.stop();
  await new Promise((r) => (jwks ? jwks.close(r) : r(undefined)));
  rmSync(tmp, { recursive: true, force: true });
});

function envWith(apiKeyFile?: string): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: server!.address,
    TEMPORAL_NAMESPACE: server!.namespace,
    TEMPORAL_TLS_CA_FILE: certs.serverCa.cert,
    TEMPORAL_TLS_CERT_FILE: certs.client.cert,
    TEMPORAL_TLS_KEY_FILE: certs.client.key,
    TEMPORAL_TLS_SERVER_NAME: SERVER_NAME,
    ...(apiKeyFile ? { TEMPORAL_API_KEY_FILE: apiKeyFile } : {}),
  };
}

async function keyFile(name: string, token: string): Promise<string> {
  const file = path.join(tmp, name);
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return file;
}

test('with TEMPORAL_API_KEY_FILE a worker and a client complete a sync; the key is never printed', async () => {
  const token = await sign([`${server!.namespace}:write`]);
  const file = await keyFile('api-key', token);
  const dir = path.join(tmp, 'demo');
  seedDemo(dir, { accounts: 0, contacts: 200, products: 0 });
  const worker = spawnWorker({ ...envWith(file), DEMO_DATA_DIR: dir, SYNC_STATE_DB: path.join(dir, 'state.db'), WORKER_FAMILIES: 'sql' });
  await worker.ready;
  expect(worker.output()).toContain('API key');
  expect(worker.output()).not.toContain(token);

  const cfg = parseTemporalEnv(envWith(file));
  const connection = await connectClient(cfg);
  try {
    const client = new Client({ connection, namespace: cfg.namespace });
    const result: SyncResult = await client.workflow.execute('syncPipeline', { taskQueue: TASK_QUEUES.sql, workflowId: 'api-key-sync', args: [{ pipeline: 'demo-contacts', pageSize: 100 }] });
    expect(result.status).toBe('completed');
    expect(result.totals.read).toBe(200);
    const cmp = await compareSqlTarget(dir, 'demo-contacts', 'contacts');
    expect(cmp.problems).toEqual([]);
  } finally {
    await connection.close();
  }
});

test('no key, a key from another issuer, or a key for another namespace: refused by the server', async () => {
  const attempt = async (apiKeyFile?: string) => {
    // A key the server cannot verify fails already at connect (its first call carries the key).
    const connection = await connectClient(parseTemporalEnv(envWith(apiKeyFile)), { connectTimeout: '5s' }).catch((err: Error) => err.message);
    if (typeof connection === 'string') return connection;
    try {
      const client = new Client({ connection, namespace: server!.namespace });
      return await client.workflow.count().then(
        () => 'allowed',
        // The SDK wraps the gRPC error: its cause has the status code and the server's message.
        (err: Error & { cause?: { code?: number; details?: string; message?: string } }) => `${err.message}: code ${err.cause?.code}: ${err.cause?.details ?? err.cause?.message}`,
      );
    } finally {
      await connection.close();
    }
  };
  expect(await attempt(await keyFile('ok', await sign([`${server!.namespace}:read`])))).toBe('allowed');
  // gRPC 7 PERMISSION_DENIED
  expect(await attempt()).toMatch(/code 7: Request unauthorized/);
  expect(await attempt(await keyFile('foreign', await sign([`${server!.namespace}:write`], true)))).toMatch(/the API key in TEMPORAL_API_KEY\(_FILE\) was refused .*\(TEMPORAL_API_KEY; see \.env\.example\)/);
  expect(await attempt(await keyFile('other-ns', await sign(['other-namespace:write'])))).toMatch(/code 7: Request unauthorized/);
});
