/**
 * `npm run approvals`: the example approval service (approvals/service.ts) on loopback.
 * `npm run approvals -- add-user <name>` creates a user's bearer token (printed once; only its
 * SHA-256 is stored). Configuration from the environment (and .env), see .env.example.
 */
import { Client } from '@temporalio/client';
import { importPKCS8 } from 'jose';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { MIN_SECRET_BYTES } from '../workers/approval-issuers';
import { loadEnvFile } from '../workers/env-file';
import { connectClient, parseTemporalEnv } from '../workers/temporal-connection';
import { tracingClientInterceptors } from '../workers/tracing';
import { bearerAuthenticator, sha256Hex, startApprovalService, UsersFileSchema, type UsersFile } from './service';
import type { DecisionSigner } from './sign';

/** The service's own settings; the Temporal connection (TEMPORAL_*) is workers/temporal-connection.ts's. */
const EnvSchema = z.object({
  /** host:port to listen on; keep it on loopback and put a real edge in front. */
  APPROVALS_LISTEN: z.string().regex(/^[^:]+:\d+$/).default('127.0.0.1:8787'),
  /** The `iss` this service signs as: a key of the workers' config/approval-issuers.json. */
  APPROVALS_ISSUER: z.string().min(1).default('approvals-demo'),
  APPROVALS_AUDIENCE: z.string().min(1).default('crm-erp-sync'),
  /** HMAC signing: the name of the variable holding the shared secret (the same the workers read). */
  APPROVALS_SECRET_ENV: z.string().default('APPROVALS_DEMO_SECRET'),
  /** Or asymmetric signing: a PKCS#8 PEM private key file and its algorithm (e.g. ES256). */
  APPROVALS_SIGNING_KEY_FILE: z.string().min(1).optional(),
  APPROVALS_SIGNING_ALG: z.string().default('ES256'),
  APPROVALS_TOKEN_LIFETIME_SECONDS: z.coerce.number().int().min(10).max(600).default(300),
  APPROVALS_USERS_FILE: z.string().default('.data/approval-users.json'),
});

function readUsers(file: string): UsersFile {
  if (!existsSync(file)) return { users: {} };
  const r = UsersFileSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!r.success) throw new Error(`${file}: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return r.data;
}

async function signer(env: z.infer<typeof EnvSchema>): Promise<DecisionSigner> {
  const base = { issuer: env.APPROVALS_ISSUER, audience: env.APPROVALS_AUDIENCE, lifetimeSeconds: env.APPROVALS_TOKEN_LIFETIME_SECONDS };
  if (env.APPROVALS_SIGNING_KEY_FILE) {
    return { ...base, alg: env.APPROVALS_SIGNING_ALG, key: await importPKCS8(readFileSync(env.APPROVALS_SIGNING_KEY_FILE, 'utf8'), env.APPROVALS_SIGNING_ALG) };
  }
  const secret = process.env[env.APPROVALS_SECRET_ENV];
  if (!secret) throw new Error(`set ${env.APPROVALS_SECRET_ENV} (the issuer's HMAC secret, e.g. openssl rand -base64 32) or APPROVALS_SIGNING_KEY_FILE`);
  const key = new TextEncoder().encode(secret);
  if (key.length < MIN_SECRET_BYTES) throw new Error(`${env.APPROVALS_SECRET_ENV} is shorter than ${MIN_SECRET_BYTES} bytes`);
  return { ...base, alg: 'HS256', key };
}

async function main(): Promise<void> {
  loadEnvFile();
  const parsed = EnvSchema.safeParse(process.env);
  if (!parsed.success) throw new Error(`invalid environment: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const env = parsed.data;
  const [cmd, name] = process.argv.slice(2);
  if (cmd === 'add-user') {
    if (!name) throw new Error('usage: npm run approvals -- add-user <name>');
    const users = readUsers(env.APPROVALS_USERS_FILE);
    const bearer = randomBytes(24).toString('base64url');
    users.users[name] = { sha256: sha256Hex(bearer) };
    mkdirSync(path.dirname(env.APPROVALS_USERS_FILE), { recursive: true });
    writeFileSync(env.APPROVALS_USERS_FILE, JSON.stringify(users, null, 2) + '\n', { mode: 0o600 });
    console.log(`${name}'s bearer token (shown once; ${env.APPROVALS_USERS_FILE} keeps only its SHA-256):\n${bearer}`);
    return;
  }
  if (cmd) throw new Error(`unknown command "${cmd}": run without arguments, or add-user <name>`);
  const users = readUsers(env.APPROVALS_USERS_FILE);
  if (!Object.keys(users.users).length) console.warn(`no users in ${env.APPROVALS_USERS_FILE}: add one with npm run approvals -- add-user <name>`);
  const signing = await signer(env); // configuration errors first, before connecting
  const temporal = parseTemporalEnv(process.env);
  const [host, port] = env.APPROVALS_LISTEN.split(':');
  const connection = await connectClient(temporal);
  const interceptors = tracingClientInterceptors(process.env, 'approvals'); // OTEL_EXPORTER_OTLP_ENDPOINT: off by default
  const client = new Client({ connection, namespace: temporal.namespace, ...(interceptors ? { interceptors } : {}) });
  const service = await startApprovalService({ client, signer: signing, authenticate: bearerAuthenticator(users), host: host!, port: Number(port) });
  console.log(`approval service on ${service.url} as issuer "${env.APPROVALS_ISSUER}" (users: ${Object.keys(users.users).join(', ') || 'none'})`);
  const stop = () => {
    void service.close().then(() => connection.close()).then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
