import { Client, type Connection } from '@temporalio/client';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TASK_QUEUES } from '../../contracts/queues';
import type { SyncResult } from '../../contracts/sync';
import { seedDemo } from '../../demo/seed';
import { startTemporalServer, type TemporalServer } from '../../scripts/temporal-server';
import { connectClient, connectNative, parseTemporalEnv } from '../../workers/temporal-connection';
import { installTestRuntime } from '../helpers/env';
import { startPostgres, type TestPostgres } from '../helpers/postgres';
import { recordPid } from '../helpers/processes';
import { compareSqlTarget } from '../helpers/sql-target';
import { makeCa, makeLeaf, type CertPair } from '../helpers/tls-certs';
import { spawnWorker, stopAllWorkers } from '../helpers/worker-process';

/**
 * The production Temporal server (Go build, PostgreSQL) with mTLS on the frontend
 * (global.tls.frontend.server: requireClientAuth, clientCaFiles; the server's system worker comes
 * in through global.tls.systemWorker). Certificates are made here with openssl: a CA for the
 * server, one for the clients and an unrelated one. A worker process and a client connect with
 * the project's TEMPORAL_TLS_*_FILE settings and complete a sync; a wrong CA, a missing or foreign
 * client certificate, a wrong server name and plain text fail with an error naming the setting.
 */

jest.setTimeout(600_000);

const CONTACTS = 400;
const SERVER_NAME = 'temporal.test';
const tmp = mkdtempSync(path.join(os.tmpdir(), 'crm-erp-sync-mtls-'));
chmodSync(tmp, 0o711);
let pg: TestPostgres | undefined;
let server: TemporalServer | undefined;
let connection: Connection | undefined;
let certs: { serverCa: CertPair; clientCa: CertPair; otherCa: CertPair; client: CertPair; foreignClient: CertPair };

beforeAll(async () => {
  installTestRuntime();
  const dir = path.join(tmp, 'certs');
  const serverCa = makeCa(dir, 'server-ca');
  const clientCa = makeCa(dir, 'client-ca');
  const otherCa = makeCa(dir, 'other-ca');
  const serverCert = makeLeaf(dir, 'frontend', serverCa, { server: { dnsName: SERVER_NAME } });
  const systemWorker = makeLeaf(dir, 'system-worker', clientCa, {});
  certs = { serverCa, clientCa, otherCa, client: makeLeaf(dir, 'sync-worker', clientCa, {}), foreignClient: makeLeaf(dir, 'foreign', otherCa, {}) };
  pg = await startPostgres();
  server = await startTemporalServer({
    postgresUrl: pg.url,
    dir: path.join(tmp, 'temporal'),
    onSpawn: (pid, what) => recordPid(pid, what),
    tls: {
      serverCertFile: serverCert.cert,
      serverKeyFile: serverCert.key,
      clientCaFile: clientCa.cert,
      serverCaFile: serverCa.cert,
      clientCertFile: systemWorker.cert,
      clientKeyFile: systemWorker.key,
      serverName: SERVER_NAME,
    },
  });
});

afterAll(async () => {
  await stopAllWorkers();
  await connection?.close().catch(() => undefined);
  await server?.stop();
  await pg?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

/** The project's settings for this cluster, as an operator would write them in .env. */
function tlsEnv(over: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string | undefined> = {
    TEMPORAL_ADDRESS: server!.address,
    TEMPORAL_NAMESPACE: server!.namespace,
    TEMPORAL_TLS_CA_FILE: certs.serverCa.cert,
    TEMPORAL_TLS_CERT_FILE: certs.client.cert,
    TEMPORAL_TLS_KEY_FILE: certs.client.key,
    TEMPORAL_TLS_SERVER_NAME: SERVER_NAME,
    ...over,
  };
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

test('a worker and a client connect through mTLS with TEMPORAL_TLS_*_FILE and complete a sync', async () => {
  const dir = path.join(tmp, 'demo');
  seedDemo(dir, { accounts: 0, contacts: CONTACTS, products: 0 });
  const worker = spawnWorker({ ...tlsEnv(), DEMO_DATA_DIR: dir, SYNC_STATE_DB: path.join(dir, 'state.db'), WORKER_FAMILIES: 'sql' });
  await worker.ready;
  expect(worker.output()).not.toMatch(/PRIVATE KEY/);

  const cfg = parseTemporalEnv(tlsEnv());
  expect(cfg.describe()).toContain('mTLS');
  connection = await connectClient(cfg);
  const client = new Client({ connection, namespace: cfg.namespace });
  const result: SyncResult = await client.workflow.execute('syncPipeline', {
    taskQueue: TASK_QUEUES.sql,
    workflowId: 'mtls-sync',
    args: [{ pipeline: 'demo-contacts', pageSize: 100 }],
  });
  expect(result.status).toBe('completed');
  expect(result.totals.read).toBe(CONTACTS);
  const cmp = await compareSqlTarget(dir, 'demo-contacts', 'contacts');
  expect(cmp.problems).toEqual([]);
  expect(cmp.valid + cmp.refused).toBe(CONTACTS);
  expect(cmp.targetRows).toBe(cmp.valid);
});

describe('wrong settings fail with an error naming the setting', () => {
  const cases: [string, Record<string, string | undefined>, RegExp][] = [
    ['a CA that did not sign the server certificate', { TEMPORAL_TLS_CA_FILE: 'other' }, /not signed by the CA in TEMPORAL_TLS_CA\(_FILE\).*TEMPORAL_TLS_CA_FILE/],
    ['no client certificate', { TEMPORAL_TLS_CERT_FILE: undefined, TEMPORAL_TLS_KEY_FILE: undefined }, /requires a client certificate: set TEMPORAL_TLS_CERT_FILE and TEMPORAL_TLS_KEY_FILE/],
    ['a client certificate from a CA the server does not trust', { TEMPORAL_TLS_CERT_FILE: 'foreign', TEMPORAL_TLS_KEY_FILE: 'foreign-key' }, /refused the client certificate in TEMPORAL_TLS_CERT\(_FILE\)/],
    ['a server name the certificate does not list', { TEMPORAL_TLS_SERVER_NAME: 'other.test' }, /not valid for other\.test: set TEMPORAL_TLS_SERVER_NAME/],
    ['plain text against the TLS frontend', { TEMPORAL_TLS_CA_FILE: undefined, TEMPORAL_TLS_CERT_FILE: undefined, TEMPORAL_TLS_KEY_FILE: undefined, TEMPORAL_TLS_SERVER_NAME: undefined }, /speaks TLS but TLS is off.*\(TEMPORAL_TLS;/],
  ];
  const resolve = (over: Record<string, string | undefined>) =>
    Object.fromEntries(
      Object.entries(over).map(([k, v]) => [k, v === 'other' ? certs.otherCa.cert : v === 'foreign' ? certs.foreignClient.cert : v === 'foreign-key' ? certs.foreignClient.key : v]),
    );

  test.each(cases)('%s: the client and the worker connection', async (_what, over, expected) => {
    const cfg = parseTemporalEnv(tlsEnv(resolve(over)));
    await expect(connectClient(cfg, { connectTimeout: '3s' })).rejects.toThrow(expected);
    await expect(connectNative(cfg)).rejects.toThrow(expected);
  });

  test('a worker process with the wrong CA exits naming TEMPORAL_TLS_CA_FILE, without printing the key', async () => {
    const dir = path.join(tmp, 'demo-bad');
    seedDemo(dir, { accounts: 0, contacts: 10, products: 0 });
    const worker = spawnWorker({ ...tlsEnv({ TEMPORAL_TLS_CA_FILE: certs.otherCa.cert }), DEMO_DATA_DIR: dir, SYNC_STATE_DB: path.join(dir, 'state.db'), WORKER_FAMILIES: 'sql' });
    await expect(worker.ready).rejects.toThrow(/worker exited \(1\) before ready:[\s\S]*TEMPORAL_TLS_CA_FILE/);
    expect(worker.output()).not.toMatch(/PRIVATE KEY/);
  });
});
