import { errors, jwtVerify, type CryptoKey, type JWTVerifyGetKey } from 'jose';
import { claimsRefusal, decodeDecisionToken, TOKEN_CLOCK_SKEW_SECONDS, type DecisionClaims, type DecisionExpectation } from '../contracts/approval-token';

/** One trusted issuer's verification key, as workers/approval-issuers.ts loads it from configuration. */
export type IssuerKey =
  | { kind: 'secret'; key: Uint8Array; algorithms: string[] }
  | { kind: 'public-key'; key: CryptoKey; algorithms: string[] }
  | { kind: 'jwks'; key: JWTVerifyGetKey; algorithms: string[] }
  /** Configured, but its key is missing on this worker (e.g. the secret's variable is unset): why. */
  | { kind: 'unavailable'; reason: string };

/** The issuers a worker trusts for signed approval decisions, and the audience it expects. */
export interface ApprovalKeyring {
  audience: string;
  issuers: Map<string, IssuerKey>;
}

export interface ApprovalTokenDeps {
  /** Absent: this worker trusts no issuer, and every signed decision is refused. */
  approvalKeys?: ApprovalKeyring | null;
}

export interface VerifyApprovalTokenInput {
  token: string;
  /** The pending gate, as the workflow sees it (workflow time). */
  expect: DecisionExpectation;
}

/** A refusal is a result, not a failure: the gate logs it and stays pending. Never holds the token. */
export type VerifyApprovalTokenResult = { ok: true; issuer: string; subject: string; tokenId: string } | { ok: false; reason: string };

/** Why jose refused a token, in words that name the claim but never hold the token or the key. */
function joseReason(err: unknown, iss: string): string {
  if (err instanceof errors.JWSSignatureVerificationFailed) return `signature does not verify with the key of issuer "${iss}"`;
  if (err instanceof errors.JWTExpired) return 'token expired';
  if (err instanceof errors.JWTClaimValidationFailed) return `token claim "${err.claim}" is not valid for this worker (${err.reason})`;
  if (err instanceof errors.JOSEAlgNotAllowed) return `token algorithm is not accepted for issuer "${iss}"`;
  if (err instanceof errors.JWKSNoMatchingKey) return `no key of issuer "${iss}" matches the token`;
  if (err instanceof errors.JWKSMultipleMatchingKeys) return `several keys of issuer "${iss}" match the token: give it a "kid"`;
  if (err instanceof errors.JOSEError) return `token does not verify (${err.code})`;
  return 'token does not verify';
}

/**
 * Verify a decision token with the issuer's key (configuration, never workflow input): the
 * signature, issuer, audience and expiry with jose, at workflow time (the time the validator
 * judged it by), then the key-less checks again on the verified claims.
 */
export async function verifyDecisionToken(keyring: ApprovalKeyring | null | undefined, input: VerifyApprovalTokenInput): Promise<VerifyApprovalTokenResult> {
  const decoded = decodeDecisionToken(input.token);
  if ('error' in decoded) return { ok: false, reason: decoded.error };
  const iss = decoded.claims.iss;
  if (!keyring) return { ok: false, reason: `unknown issuer "${iss}": this worker trusts no approval issuers (config/approval-issuers.json)` };
  const issuer = keyring.issuers.get(iss);
  if (!issuer) return { ok: false, reason: `unknown issuer "${iss}": this worker has no key for it` };
  if (issuer.kind === 'unavailable') return { ok: false, reason: `issuer "${iss}" cannot be verified on this worker: ${issuer.reason}` };
  const options = {
    issuer: iss,
    audience: keyring.audience,
    algorithms: issuer.algorithms,
    currentDate: new Date(input.expect.nowMs),
    clockTolerance: TOKEN_CLOCK_SKEW_SECONDS,
    requiredClaims: ['iss', 'sub', 'aud', 'jti', 'iat', 'exp'],
  };
  let claims: DecisionClaims;
  try {
    const { payload } =
      issuer.kind === 'jwks' ? await jwtVerify(input.token, issuer.key, options) : await jwtVerify(input.token, issuer.key, options);
    claims = payload as unknown as DecisionClaims;
  } catch (err) {
    return { ok: false, reason: joseReason(err, iss) };
  }
  const refusal = claimsRefusal(claims, input.expect);
  if (refusal) return { ok: false, reason: refusal };
  return { ok: true, issuer: claims.iss, subject: claims.sub, tokenId: claims.jti };
}

export function createApprovalTokenActivities(deps: ApprovalTokenDeps) {
  return {
    /** Verify a signed approval decision on the worker, where the issuers' keys are. */
    async verifyApprovalToken(input: VerifyApprovalTokenInput): Promise<VerifyApprovalTokenResult> {
      return verifyDecisionToken(deps.approvalKeys, input);
    },
  };
}
