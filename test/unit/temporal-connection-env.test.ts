import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { parseWorkerEnv } from '../../workers/config';
import { connectionOptions, parseTemporalEnv, type TemporalConnectionConfig } from '../../workers/temporal-connection';

const dir = mkdtempSync(path.join(os.tmpdir(), 'temporal-env-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const KEY = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
// The parser checks the PEM label only; the TLS handshake is the SDK's.
const CERT = '-----BEGIN CERTIFICATE-----\nMIIBfakeclientcert\n-----END CERTIFICATE-----\n';
const CA = '-----BEGIN CERTIFICATE-----\nMIIBfakecacert\n-----END CERTIFICATE-----\n';
const API_KEY = 'eyJhbGciOi.secret-api-key.sig';

function file(name: string, content: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, content);
  return p;
}

function problemsOf(env: NodeJS.ProcessEnv): string {
  try {
    parseTemporalEnv(env);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected the settings to be refused');
}

/** Nothing secret in logs, JSON or errors. */
function expectNoSecrets(text: string): void {
  expect(text).not.toContain(API_KEY);
  expect(text).not.toContain(KEY.split('\n')[1]!);
}

test('defaults: the loopback dev server, plain text, namespace default', () => {
  const cfg = parseTemporalEnv({});
  expect(cfg).toMatchObject({ address: '127.0.0.1:7233', namespace: 'default', tls: false });
  expect(cfg.apiKey).toBeUndefined();
  expect(cfg.describe()).toBe('127.0.0.1:7233 (namespace default, plain text)');
  expect(connectionOptions(cfg)).toEqual({ address: '127.0.0.1:7233', tls: false });
});

test('mTLS from files: client certificate and key, CA, server name; TLS follows from them', () => {
  const cfg = parseTemporalEnv({
    TEMPORAL_ADDRESS: 'temporal.internal:7233',
    TEMPORAL_NAMESPACE: 'sync-prod',
    TEMPORAL_TLS_CERT_FILE: file('client.pem', CERT),
    TEMPORAL_TLS_KEY_FILE: file('client.key', KEY),
    TEMPORAL_TLS_CA_FILE: file('ca.pem', CA),
    TEMPORAL_TLS_SERVER_NAME: 'frontend.temporal.internal',
  });
  expect(cfg.describe()).toBe('temporal.internal:7233 (namespace sync-prod, mTLS, server name frontend.temporal.internal)');
  const opts = connectionOptions(cfg);
  expect(opts.tls).toEqual({
    serverNameOverride: 'frontend.temporal.internal',
    serverRootCACertificate: Buffer.from(CA),
    clientCertPair: { crt: Buffer.from(CERT), key: Buffer.from(KEY) },
  });
  expect(opts.apiKey).toBeUndefined();
  expectNoSecrets(JSON.stringify(cfg));
  expectNoSecrets(inspect(cfg, { depth: 5 }));
});

test('PEMs from variables, with \\n written for newlines', () => {
  const cfg = parseTemporalEnv({ TEMPORAL_TLS_CERT: CERT.replace(/\n/g, '\\n'), TEMPORAL_TLS_KEY: KEY.replace(/\n/g, '\\n') });
  const tls = connectionOptions(cfg).tls as { clientCertPair: { crt: Buffer; key: Buffer } };
  expect(tls.clientCertPair.crt.toString()).toBe(CERT);
  expect(tls.clientCertPair.key.toString()).toBe(KEY);
});

test('API key (Temporal Cloud) from a file or a variable: trimmed, TLS on, namespace header, never printed', () => {
  const base = { TEMPORAL_ADDRESS: 'eu-west-1.aws.api.temporal.io:7233', TEMPORAL_NAMESPACE: 'sync.a1b2c' };
  for (const env of [{ ...base, TEMPORAL_API_KEY_FILE: file('api-key', `${API_KEY}\n`) }, { ...base, TEMPORAL_API_KEY: API_KEY }]) {
    const cfg = parseTemporalEnv(env);
    expect(cfg.describe()).toBe('eu-west-1.aws.api.temporal.io:7233 (namespace sync.a1b2c, TLS, API key)');
    expect(connectionOptions(cfg)).toEqual({
      address: 'eu-west-1.aws.api.temporal.io:7233',
      tls: {},
      apiKey: API_KEY,
      metadata: { 'temporal-namespace': 'sync.a1b2c' },
    });
    expectNoSecrets(JSON.stringify(cfg));
    expectNoSecrets(inspect(cfg, { depth: 5 }));
    expectNoSecrets(String(cfg.apiKey));
  }
});

test('TEMPORAL_TLS=true alone: TLS with the system CAs', () => {
  expect(connectionOptions(parseTemporalEnv({ TEMPORAL_TLS: 'true' })).tls).toEqual({});
  expect(parseTemporalEnv({ TEMPORAL_TLS: 'no' }).tls).toBe(false);
});

test('every problem is listed at once, naming the variable and the fix, never the secret', () => {
  const message = problemsOf({
    TEMPORAL_ADDRESS: 'https://temporal:7233',
    TEMPORAL_TLS: 'maybe',
    TEMPORAL_API_KEY: API_KEY,
    TEMPORAL_API_KEY_FILE: file('api-key-2', API_KEY),
    TEMPORAL_TLS_CERT_FILE: path.join(dir, 'missing.pem'),
    TEMPORAL_TLS_KEY: 'not a key ' + API_KEY,
    TEMPORAL_TLS_CLIENT_CERT_PATH: '/x.pem',
  });
  expect(message).toMatch(/^invalid Temporal connection settings \(see \.env\.example\):/);
  expect(message).toContain('TEMPORAL_ADDRESS: expected host:port');
  expect(message).toContain('TEMPORAL_TLS: expected true|false|1|0|yes|no');
  expect(message).toContain('TEMPORAL_API_KEY and TEMPORAL_API_KEY_FILE: set one of them, not both');
  expect(message).toContain(`TEMPORAL_TLS_CERT_FILE=${path.join(dir, 'missing.pem')}: cannot read the file (ENOENT)`);
  expect(message).toContain('TEMPORAL_TLS_KEY: not a PEM private key');
  expect(message).toContain('TEMPORAL_TLS_KEY(_FILE) is set without TEMPORAL_TLS_CERT(_FILE)');
  expect(message).toContain('TEMPORAL_TLS_CLIENT_CERT_PATH: not read by this project; use TEMPORAL_TLS_CERT_FILE');
  expectNoSecrets(message);
});

test('contradictions and half settings are refused', () => {
  const cert = file('c.pem', CERT);
  const key = file('k.pem', KEY);
  expect(problemsOf({ TEMPORAL_TLS: 'false', TEMPORAL_TLS_CERT_FILE: cert, TEMPORAL_TLS_KEY_FILE: key })).toContain(
    'TEMPORAL_TLS=false contradicts TEMPORAL_TLS_CERT_FILE=' + cert,
  );
  expect(problemsOf({ TEMPORAL_TLS: 'false', TEMPORAL_API_KEY: API_KEY })).toContain('would send the key in clear text');
  expect(problemsOf({ TEMPORAL_TLS_CERT_FILE: cert })).toContain('TEMPORAL_TLS_CERT(_FILE) is set without TEMPORAL_TLS_KEY(_FILE)');
  expect(problemsOf({ TEMPORAL_TLS_CA_FILE: key })).toContain(`TEMPORAL_TLS_CA_FILE=${key}: not a PEM certificate`);
  expect(problemsOf({ TEMPORAL_API_KEY_FILE: file('empty', '\n') })).toContain('the API key is empty');
  expect(problemsOf({ TEMPORAL_ADDRESS: 'sync.a1b2c.tmprl.cloud:7233' })).toContain('is Temporal Cloud: set TEMPORAL_API_KEY(_FILE), or TEMPORAL_TLS_CERT_FILE and TEMPORAL_TLS_KEY_FILE');
  expect(problemsOf({ TEMPORAL_NAMESPACE: '' })).toContain('TEMPORAL_NAMESPACE: must not be empty');
});

test('the worker environment reports its own and the connection problems together', () => {
  let message = '';
  try {
    parseWorkerEnv({ WORKER_FAMILIES: 'erp', TEMPORAL_TLS_KEY_FILE: path.join(dir, 'nope.key'), WORKER_HEALTH_PORT: '70000' });
  } catch (err) {
    message = (err as Error).message;
  }
  expect(message).toMatch(/^invalid worker environment/);
  expect(message).toContain('WORKER_FAMILIES');
  expect(message).toContain('WORKER_HEALTH_PORT');
  expect(message).toContain('TEMPORAL_TLS_KEY_FILE=');
  const ok: TemporalConnectionConfig = parseWorkerEnv({ TEMPORAL_NAMESPACE: 'x', WORKER_HEALTH_PORT: '9091' }).temporal;
  expect(ok.namespace).toBe('x');
});
