/**
 * The one place the project builds its Temporal connection: the worker, the CLI, the approvals
 * service and the schedules script all read the same variables (.env.example) through here.
 * Plain loopback by default; mTLS (client certificate and key, CA, server name) for self-hosted
 * clusters; an API key for Temporal Cloud. Every certificate, key and API key comes from a
 * variable or from a file (`*_FILE`, e.g. a mounted secret), never both.
 */
import { Connection, type ConnectionOptions } from '@temporalio/client';
import type { TLSConfig } from '@temporalio/common/lib/internal-non-workflow';
import { NativeConnection, type NativeConnectionOptions } from '@temporalio/worker';
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { z } from 'zod';
import { varOrFile } from './env-file';
import { explainConnectError } from './tls-diagnose';

/** Booleans from the environment: only these spellings, so `"false"` can never mean true. */
export const envBool = z.enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'expected true|false|1|0|yes|no' }).transform((v) => ['true', '1', 'yes'].includes(v));

/** A secret that prints as `[redacted]` in logs, JSON and `util.inspect`. */
export class Secret<T> {
  readonly #value: T;
  constructor(value: T) {
    this.#value = value;
  }
  reveal(): T {
    return this.#value;
  }
  toJSON(): string {
    return '[redacted]';
  }
  toString(): string {
    return '[redacted]';
  }
  [inspect.custom](): string {
    return '[redacted]';
  }
}

const TemporalEnvSchema = z.object({
  TEMPORAL_ADDRESS: z
    .string()
    .regex(/^(?:\[[^\]]+\]|[^:\s/]+):\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:7233 or <namespace>.<account>.tmprl.cloud:7233')
    .default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1, 'must not be empty').default('default'),
  /** Unset: TLS when any TLS setting or an API key is given. */
  TEMPORAL_TLS: envBool.optional(),
  TEMPORAL_TLS_SERVER_NAME: z.string().min(1).optional(),
});

/** Values that may come from `NAME` or `NAME_FILE`. */
const FROM_VAR_OR_FILE = ['TEMPORAL_TLS_CERT', 'TEMPORAL_TLS_KEY', 'TEMPORAL_TLS_CA', 'TEMPORAL_API_KEY'] as const;
type FileBacked = (typeof FROM_VAR_OR_FILE)[number];

/** Names other tools use for the same settings: refused with the name to use, not silently ignored. */
const FOREIGN_NAMES: Record<string, string> = {
  TEMPORAL_TLS_CLIENT_CERT_PATH: 'TEMPORAL_TLS_CERT_FILE',
  TEMPORAL_TLS_CLIENT_KEY_PATH: 'TEMPORAL_TLS_KEY_FILE',
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: 'TEMPORAL_TLS_CA_FILE',
  TEMPORAL_TLS_CLIENT_CERT_DATA: 'TEMPORAL_TLS_CERT',
  TEMPORAL_TLS_CLIENT_KEY_DATA: 'TEMPORAL_TLS_KEY',
  TEMPORAL_TLS_SERVER_CA_CERT_DATA: 'TEMPORAL_TLS_CA',
  TEMPORAL_CLIENT_CERT: 'TEMPORAL_TLS_CERT',
  TEMPORAL_CLIENT_KEY: 'TEMPORAL_TLS_KEY',
};

export interface TemporalConnectionConfig {
  address: string;
  namespace: string;
  /** false: plain text (a loopback dev server). */
  tls: false | { serverName?: string; ca?: Buffer; clientCert?: Buffer; clientKey?: Secret<Buffer> };
  apiKey?: Secret<string>;
  /** One line for logs: address, namespace and how it authenticates; never a secret. */
  describe(): string;
}

export class TemporalEnvError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid Temporal connection settings (see .env.example):\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
}

/** Node's error code and message without the path (it is named by the caller already). */
/**
 * Parse and check the connection settings. Reads the `*_FILE`s (relative to the working folder);
 * every problem is listed with the variable and the fix. Secret values never appear in errors.
 */
export function parseTemporalEnv(env: NodeJS.ProcessEnv, readFile: (p: string) => Buffer = (p) => readFileSync(p)): TemporalConnectionConfig {
  const problems: string[] = [];
  for (const [foreign, ours] of Object.entries(FOREIGN_NAMES)) {
    if (env[foreign] !== undefined) problems.push(`${foreign}: not read by this project; use ${ours}`);
  }
  const r = TemporalEnvSchema.safeParse(env);
  if (!r.success) for (const i of r.error.issues) problems.push(`${i.path.join('.')}: ${i.message}`);

  const values: Partial<Record<FileBacked, { bytes: Buffer; from: string }>> = {};
  for (const name of FROM_VAR_OR_FILE) {
    const r = varOrFile(env, name, readFile);
    if (r.problem) problems.push(r.problem);
    else if (r.bytes && r.file) values[name] = { bytes: r.bytes, from: r.from! };
    // A PEM in one variable often has its newlines written as \n.
    else if (r.bytes) values[name] = { bytes: Buffer.from(r.bytes.toString('utf8').replace(/\\n/g, '\n')), from: name };
  }

  const pem = (name: FileBacked, label: RegExp, what: string): Buffer | undefined => {
    const v = values[name];
    if (!v) return undefined;
    if (!label.test(v.bytes.toString('latin1'))) {
      problems.push(`${v.from}: not a PEM ${what} (expected a "-----BEGIN ${what === 'private key' ? '… PRIVATE KEY' : 'CERTIFICATE'}-----" block)`);
      return undefined;
    }
    return v.bytes;
  };
  const cert = pem('TEMPORAL_TLS_CERT', /-----BEGIN CERTIFICATE-----/, 'certificate');
  const key = pem('TEMPORAL_TLS_KEY', /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/, 'private key');
  const ca = pem('TEMPORAL_TLS_CA', /-----BEGIN CERTIFICATE-----/, 'certificate');
  let apiKey: string | undefined;
  if (values.TEMPORAL_API_KEY) {
    apiKey = values.TEMPORAL_API_KEY.bytes.toString('utf8').trim(); // a secret file usually ends with a newline
    if (!apiKey) problems.push(`${values.TEMPORAL_API_KEY.from}: the API key is empty`);
    else if (/\s/.test(apiKey)) problems.push(`${values.TEMPORAL_API_KEY.from}: the API key contains white space (one key, on one line)`);
  }

  if (values.TEMPORAL_TLS_CERT && !values.TEMPORAL_TLS_KEY) problems.push('TEMPORAL_TLS_CERT(_FILE) is set without TEMPORAL_TLS_KEY(_FILE): mTLS needs the client certificate and its key');
  if (values.TEMPORAL_TLS_KEY && !values.TEMPORAL_TLS_CERT) problems.push('TEMPORAL_TLS_KEY(_FILE) is set without TEMPORAL_TLS_CERT(_FILE): mTLS needs the client certificate and its key');

  const data = r.success ? r.data : undefined;
  const tlsSettings = [values.TEMPORAL_TLS_CERT?.from, values.TEMPORAL_TLS_KEY?.from, values.TEMPORAL_TLS_CA?.from, data?.TEMPORAL_TLS_SERVER_NAME && 'TEMPORAL_TLS_SERVER_NAME'].filter(Boolean);
  const tlsOn = data?.TEMPORAL_TLS ?? (tlsSettings.length > 0 || apiKey !== undefined);
  if (data?.TEMPORAL_TLS === false) {
    if (tlsSettings.length) problems.push(`TEMPORAL_TLS=false contradicts ${tlsSettings.join(', ')}: unset TEMPORAL_TLS (TLS follows from them) or remove them`);
    if (apiKey !== undefined) problems.push('TEMPORAL_TLS=false with an API key would send the key in clear text: unset TEMPORAL_TLS or set it to true');
  }
  if (data && /\.tmprl\.cloud:\d+$|\.api\.temporal\.io:\d+$/.test(data.TEMPORAL_ADDRESS) && !cert && apiKey === undefined && !problems.length) {
    problems.push(`TEMPORAL_ADDRESS=${data.TEMPORAL_ADDRESS} is Temporal Cloud: set TEMPORAL_API_KEY(_FILE), or TEMPORAL_TLS_CERT_FILE and TEMPORAL_TLS_KEY_FILE for mTLS`);
  }
  if (problems.length || !data) throw new TemporalEnvError(problems);

  const tls: TemporalConnectionConfig['tls'] = tlsOn
    ? {
        ...(data.TEMPORAL_TLS_SERVER_NAME ? { serverName: data.TEMPORAL_TLS_SERVER_NAME } : {}),
        ...(ca ? { ca } : {}),
        ...(cert && key ? { clientCert: cert, clientKey: new Secret(key) } : {}),
      }
    : false;
  const secretApiKey = apiKey === undefined ? undefined : new Secret(apiKey);
  return {
    address: data.TEMPORAL_ADDRESS,
    namespace: data.TEMPORAL_NAMESPACE,
    tls,
    ...(secretApiKey ? { apiKey: secretApiKey } : {}),
    describe() {
      const auth = [tls === false ? 'plain text' : tls.clientCert ? 'mTLS' : 'TLS', ...(secretApiKey ? ['API key'] : [])];
      if (tls !== false && tls.serverName) auth.push(`server name ${tls.serverName}`);
      return `${data.TEMPORAL_ADDRESS} (namespace ${data.TEMPORAL_NAMESPACE}, ${auth.join(', ')})`;
    },
  };
}

function tlsOption(cfg: TemporalConnectionConfig): TLSConfig | false {
  if (cfg.tls === false) return false;
  return {
    ...(cfg.tls.serverName ? { serverNameOverride: cfg.tls.serverName } : {}),
    ...(cfg.tls.ca ? { serverRootCACertificate: cfg.tls.ca } : {}),
    ...(cfg.tls.clientCert && cfg.tls.clientKey ? { clientCertPair: { crt: cfg.tls.clientCert, key: cfg.tls.clientKey.reveal() } } : {}),
  };
}

/** Cloud routes API-key calls by namespace; a self-hosted server ignores the header. */
function apiKeyOptions(cfg: TemporalConnectionConfig): { apiKey?: string; metadata?: Record<string, string> } {
  return cfg.apiKey ? { apiKey: cfg.apiKey.reveal(), metadata: { 'temporal-namespace': cfg.namespace } } : {};
}

/** The options both kinds of connection take (the SDK's shapes are the same for these). */
export function connectionOptions(cfg: TemporalConnectionConfig): NativeConnectionOptions & ConnectionOptions {
  return { address: cfg.address, tls: tlsOption(cfg), ...apiKeyOptions(cfg) };
}

/**
 * A client connection (CLI, approvals service, schedules). A failure names the setting to fix
 * when a TLS handshake of our own finds it (workers/tls-diagnose.ts).
 */
export async function connectClient(cfg: TemporalConnectionConfig, extra: Pick<ConnectionOptions, 'connectTimeout'> = {}): Promise<Connection> {
  try {
    return await Connection.connect({ ...connectionOptions(cfg), ...extra });
  } catch (err) {
    throw await explainConnectError(cfg, err);
  }
}

/** The worker's connection; a failure names the setting to fix, as for connectClient. */
export async function connectNative(cfg: TemporalConnectionConfig): Promise<NativeConnection> {
  try {
    return await NativeConnection.connect(connectionOptions(cfg));
  } catch (err) {
    throw await explainConnectError(cfg, err);
  }
}
