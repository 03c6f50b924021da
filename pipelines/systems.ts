import { z } from 'zod';
import { openPostgresSql } from '../connectors/sql/postgres';
import { createHubSpotConnector, createPostgresGovernor, createSqliteGovernor } from '../connectors/hubspot';
import { createPostgresApiGovernor, createSalesforceConnector, createSqliteApiGovernor } from '../connectors/salesforce';
import { SqlSystemSchema } from '../connectors/sql/config';
import { createSqlConnector } from '../connectors/sql/connector';
import { SyncError } from '../contracts/errors';
import { createTrytonConnector } from '../connectors/tryton/connector';
import type { Connector } from '../connectors/types';

/** A kind of external system: how its config is validated and its connector built. */
export interface ConnectorKind<S extends z.ZodType = z.ZodType> {
  schema: S;
  /** Build a connector; secrets are read here from `env`, never from config values. */
  create(config: z.infer<S>, systemName: string, env: NodeJS.ProcessEnv): Connector;
}

function kind<S extends z.ZodType>(k: ConnectorKind<S>): ConnectorKind {
  return k as unknown as ConnectorKind;
}

/** Names an environment variable that holds a secret; the value never enters config or history. */
const secretEnv = z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'expected the NAME of an environment variable holding the secret');

/** Seconds one request may take before it is abandoned as `Transient` (then retried). */
const requestTimeoutSeconds = (defaultSeconds: number) =>
  z
    .number()
    .min(0.1, 'expected seconds one request may take, at least 0.1')
    .max(600, 'expected seconds one request may take, at most 600 (the write activity retries a timed-out batch)')
    .default(defaultSeconds);

function secret(env: NodeJS.ProcessEnv, name: string, system: string): string {
  const v = env[name];
  if (!v) throw new SyncError('AuthError', `system "${system}": environment variable ${name} (its secret) is not set`);
  return v;
}

export const TrytonSystemSchema = z
  .object({
    kind: z.literal('tryton'),
    url: z.url(),
    database: z.string().min(1),
    user: z.string().min(1),
    /** Environment variable with the user's password. */
    passwordEnv: secretEnv,
    customerCodePrefix: z.string().optional(),
    maxBatchSize: z.number().int().min(1).max(1000).optional(),
    /** Longest one JSON-RPC request may take (Tryton batches are heavy: a minute). */
    requestTimeoutSeconds: requestTimeoutSeconds(60),
  })
  .strict();

export const HubSpotSystemSchema = z
  .object({
    kind: z.literal('hubspot'),
    /** API origin; point it at the emulator for a local trial. @default https://api.hubapi.com */
    basePath: z.url().optional(),
    /** Environment variable with the private app's access token. */
    tokenEnv: secretEnv,
    /** The HubSpot account whose limits all workers share. */
    account: z.string().min(1),
    /** Requests per rolling 10 s for the app (100 or 190 by subscription). */
    rateLimitPer10s: z.number().int().min(1).default(100),
    /** SQLite file every worker on this host shares for the rate governor (when no PostgreSQL one is set). */
    governorDb: z.string().min(1),
    /**
     * Environment variable with a `postgres://` URL: when set, the governor lives in that database
     * and every worker on every host shares the account's budget. @default "SYNC_STATE_URL"
     * (workers on the PostgreSQL state store share their governor there too)
     */
    governorUrlEnv: secretEnv.default('SYNC_STATE_URL'),
    /** Longest one HTTP request may take. */
    requestTimeoutSeconds: requestTimeoutSeconds(30),
  })
  .strict();

export const SalesforceSystemSchema = z
  .object({
    kind: z.literal('salesforce'),
    /** The org's instance URL (My Domain), or the emulator's. */
    instanceUrl: z.url(),
    /** REST API version. @default "62.0" */
    apiVersion: z.string().regex(/^\d{2}\.0$/, 'expected an API version such as "62.0"').default('62.0'),
    /** Environment variable with an access token; or use the client-credentials pair below. */
    tokenEnv: secretEnv.optional(),
    /** Environment variables with the connected app's consumer key and secret (OAuth client credentials). */
    clientIdEnv: secretEnv.optional(),
    clientSecretEnv: secretEnv.optional(),
    /** Token endpoint origin for client credentials. @default instanceUrl */
    loginUrl: z.url().optional(),
    /** The org whose limits all workers share (its id or My Domain). */
    account: z.string().min(1),
    /** SQLite file every worker on this host shares for the API-usage governor (when no PostgreSQL one is set). */
    governorDb: z.string().min(1),
    /**
     * Environment variable with a `postgres://` URL: when set, the governor lives in that database
     * and every worker on every host shares the org's budget and in-flight cap. @default "SYNC_STATE_URL"
     */
    governorUrlEnv: secretEnv.default('SYNC_STATE_URL'),
    /** The org's daily API allowance until Sforce-Limit-Info reports it. */
    dailyLimit: z.number().int().min(1).default(100_000),
    /** Share of the daily allowance this integration may use, in percent. */
    dailyBudgetPercent: z.number().min(1).max(100).default(80),
    /** Requests in flight at once across every worker. */
    maxConcurrent: z.number().int().min(1).max(25).default(10),
    /** Upserts above this many records go through one Bulk API 2.0 job instead of Collections. */
    bulkThreshold: z.number().int().min(1).default(2000),
    /** Seconds a SystemModstamp second must be over before it is read. */
    settleSeconds: z.number().min(0).max(60).default(1),
    requestTimeoutSeconds: requestTimeoutSeconds(120),
  })
  .strict()
  .refine((c) => c.tokenEnv !== undefined || (c.clientIdEnv !== undefined && c.clientSecretEnv !== undefined), {
    message: 'set tokenEnv, or clientIdEnv and clientSecretEnv (OAuth client credentials)',
    path: ['tokenEnv'],
  });

/** Every connector kind the worker knows, by the `kind` field of config/systems.json. */
export const CONNECTOR_KINDS: Record<string, ConnectorKind> = {
  sql: kind({
    schema: SqlSystemSchema,
    create: (c, name, env) =>
      createSqlConnector(
        c,
        name,
        c.dialect === 'postgres' ? openPostgresSql(secret(env, c.urlEnv!, name), c.schema ? { schema: c.schema } : {}) : undefined,
      ),
  }),
  tryton: kind({
    schema: TrytonSystemSchema,
    create: (c, name, env) =>
      createTrytonConnector({
        url: c.url,
        database: c.database,
        user: c.user,
        password: secret(env, c.passwordEnv, name),
        ...(c.customerCodePrefix !== undefined ? { customerCodePrefix: c.customerCodePrefix } : {}),
        ...(c.maxBatchSize !== undefined ? { maxBatchSize: c.maxBatchSize } : {}),
        timeoutMs: Math.round(c.requestTimeoutSeconds * 1000),
      }),
  }),
  hubspot: kind({
    schema: HubSpotSystemSchema,
    create: (c, name, env) =>
      createHubSpotConnector({
        accessToken: secret(env, c.tokenEnv, name),
        ...(c.basePath !== undefined ? { basePath: c.basePath } : {}),
        governor: env[c.governorUrlEnv]
          ? createPostgresGovernor({ url: env[c.governorUrlEnv]!, account: c.account, per10s: c.rateLimitPer10s })
          : createSqliteGovernor({ path: c.governorDb, account: c.account, per10s: c.rateLimitPer10s }),
        rateLimitPer10s: c.rateLimitPer10s,
        requestTimeoutMs: Math.round(c.requestTimeoutSeconds * 1000),
      }),
  }),
  salesforce: kind({
    schema: SalesforceSystemSchema,
    create: (c, name, env) =>
      createSalesforceConnector({
        instanceUrl: c.instanceUrl,
        version: c.apiVersion,
        auth: c.tokenEnv
          ? { kind: 'token', accessToken: secret(env, c.tokenEnv, name) }
          : { kind: 'clientCredentials', clientId: secret(env, c.clientIdEnv!, name), clientSecret: secret(env, c.clientSecretEnv!, name), ...(c.loginUrl ? { loginUrl: c.loginUrl } : {}) },
        governor: env[c.governorUrlEnv]
          ? createPostgresApiGovernor({ url: env[c.governorUrlEnv]!, account: c.account, dailyLimit: c.dailyLimit, dailyBudgetPercent: c.dailyBudgetPercent, maxConcurrent: c.maxConcurrent })
          : createSqliteApiGovernor({ path: c.governorDb, account: c.account, dailyLimit: c.dailyLimit, dailyBudgetPercent: c.dailyBudgetPercent, maxConcurrent: c.maxConcurrent }),
        bulkThreshold: c.bulkThreshold,
        settleSeconds: c.settleSeconds,
        requestTimeoutMs: Math.round(c.requestTimeoutSeconds * 1000),
      }),
  }),
};
