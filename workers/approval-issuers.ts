import { createLocalJWKSet, importSPKI, type JSONWebKeySet } from 'jose';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { ApprovalKeyring, IssuerKey } from '../activities/approval-token';
import { DEFAULT_DECISION_AUDIENCE } from '../contracts/approval-token';

const HMAC_ALGS = ['HS256', 'HS384', 'HS512'] as const;
const PUBLIC_KEY_ALGS = ['ES256', 'ES384', 'ES512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'EdDSA'] as const;
/** An HMAC secret shorter than this is refused at start (HS256 wants at least 256 bits). */
export const MIN_SECRET_BYTES = 32;

const IssuerSchema = z.union([
  /** A shared HMAC secret, read from this environment variable (its UTF-8 bytes are the key). */
  z.object({ secretEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name'), alg: z.enum(HMAC_ALGS).default('HS256') }).strict(),
  /** The issuer's public key (SPKI PEM file; relative paths are relative to this file). */
  z.object({ publicKeyFile: z.string().min(1), alg: z.enum(PUBLIC_KEY_ALGS) }).strict(),
  /** The issuer's key set (a JWKS JSON file); keys are chosen by the token's `kid`. */
  z.object({ jwksFile: z.string().min(1), algorithms: z.array(z.enum(PUBLIC_KEY_ALGS)).min(1).default(['ES256', 'RS256', 'EdDSA']) }).strict(),
]);

/**
 * config/approval-issuers.json: who may sign approval decisions. It names where each key is
 * (an environment variable or a file), never the key itself.
 */
export const ApprovalIssuersFileSchema = z
  .object({
    /** The `aud` decision tokens must carry. */
    audience: z.string().min(1).default(DEFAULT_DECISION_AUDIENCE),
    issuers: z.record(z.string().min(1), IssuerSchema),
  })
  .strict();

/**
 * Load the trusted issuers' keys: null when `file` does not exist. A malformed file, an HMAC
 * secret that is too short or an unreadable key file stops the worker here (naming the file or
 * variable, never a key); a secret variable that is unset leaves that issuer unavailable, so
 * its decisions are refused with that reason.
 */
export async function loadApprovalKeyring(file: string, env: NodeJS.ProcessEnv): Promise<ApprovalKeyring | null> {
  if (!existsSync(file)) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: not JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  const parsed = ApprovalIssuersFileSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`${file}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const dir = path.dirname(file);
  const issuers = new Map<string, IssuerKey>();
  for (const [name, cfg] of Object.entries(parsed.data.issuers)) {
    if ('secretEnv' in cfg) {
      const secret = env[cfg.secretEnv];
      if (!secret) {
        issuers.set(name, { kind: 'unavailable', reason: `${cfg.secretEnv} is not set` });
        continue;
      }
      const key = new TextEncoder().encode(secret);
      if (key.length < MIN_SECRET_BYTES) throw new Error(`${file}: issuer "${name}": ${cfg.secretEnv} is shorter than ${MIN_SECRET_BYTES} bytes (make one with: openssl rand -base64 32)`);
      issuers.set(name, { kind: 'secret', key, algorithms: [cfg.alg] });
    } else if ('publicKeyFile' in cfg) {
      const keyFile = path.resolve(dir, cfg.publicKeyFile);
      try {
        issuers.set(name, { kind: 'public-key', key: await importSPKI(readFileSync(keyFile, 'utf8'), cfg.alg), algorithms: [cfg.alg] });
      } catch (err) {
        throw new Error(`${file}: issuer "${name}": cannot read an ${cfg.alg} public key (SPKI PEM) from ${keyFile}: ${err instanceof Error ? err.message : String(err)}`);
      }
    } else {
      const jwksFile = path.resolve(dir, cfg.jwksFile);
      try {
        issuers.set(name, { kind: 'jwks', key: createLocalJWKSet(JSON.parse(readFileSync(jwksFile, 'utf8')) as JSONWebKeySet), algorithms: cfg.algorithms });
      } catch (err) {
        throw new Error(`${file}: issuer "${name}": cannot read a JWKS from ${jwksFile}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
  return { audience: parsed.data.audience, issuers };
}
