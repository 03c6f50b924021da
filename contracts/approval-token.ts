/**
 * Signed approval decisions: the claims a decision token (a compact JWS, "JWT") carries, and the
 * checks that need no key. Pure and dependency-free: the update validator runs them inside the
 * workflow sandbox (which has no crypto and must never hold keys); the signature itself is
 * verified with `jose` by the `verifyApprovalToken` activity (activities/approval-token.ts).
 *
 * Claims:
 *   iss       the issuer (an approval service, chat bot, portal…), configured with its key on the worker
 *   aud       the audience the worker expects (approval-issuers.json "audience", default "crm-erp-sync")
 *   sub       the approver: must be on the gate's (stage's) approver list
 *   jti       a unique token id: recorded in the decision log instead of the token, used once
 *   iat, exp  issued-at / expiry (seconds); exp − iat at most the gate's tokenLifetime
 *   wid       the workflow id      ┐
 *   gate      the gate name        │ bind the token to one decision: it cannot be replayed on
 *   plan      the plan hash        │ another workflow, gate, plan or the opposite decision
 *   decision  "approve" | "reject" ┘
 */

export const DECISION_TOKEN_ALGORITHMS = ['HS256', 'HS384', 'HS512', 'ES256', 'ES384', 'ES512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'EdDSA'] as const;

/** The audience a worker expects unless approval-issuers.json says otherwise. */
export const DEFAULT_DECISION_AUDIENCE = 'crm-erp-sync';
/** Default longest lifetime (exp − iat) of a decision token. */
export const DEFAULT_TOKEN_LIFETIME = '10 minutes';
/** Clock skew tolerated between an issuer and the Temporal server, seconds. */
export const TOKEN_CLOCK_SKEW_SECONDS = 60;

export interface DecisionClaims {
  iss: string;
  sub: string;
  aud: string | string[];
  jti: string;
  iat: number;
  exp: number;
  wid: string;
  gate: string;
  plan: string;
  decision: 'approve' | 'reject';
}

export interface DecodedDecisionToken {
  alg: string;
  claims: DecisionClaims;
}

/** What a decision must match: the pending gate, read in the workflow. */
export interface DecisionExpectation {
  workflowId: string;
  gate: string;
  planHash: string;
  decision: 'approve' | 'reject';
  /** Who may decide at the current stage. */
  approvers: string[];
  /** Issuers the gate accepts; null: any the worker has a key for (checked with the signature). */
  issuers: string[] | null;
  /** Workflow time, ms. */
  nowMs: number;
  /** When the gate (its current stage) opened, ms: a token issued before it is for an earlier gate. */
  openedAtMs: number;
  maxLifetimeSeconds: number;
  /** 1 for the first approver group, 2 after escalation. */
  stage?: number;
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const B64URL_INDEX: Record<string, number> = Object.fromEntries([...B64URL].map((c, i) => [c, i]));

/** base64url → bytes; null when not base64url. */
function base64UrlBytes(text: string): Uint8Array | null {
  if (text.length % 4 === 1) return null;
  const out: number[] = [];
  let bits = 0;
  let acc = 0;
  for (const c of text) {
    const v = B64URL_INDEX[c];
    if (v === undefined) return null;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >> bits) & 0xff);
    }
  }
  return Uint8Array.from(out);
}

function jsonSegment(segment: string): Record<string, unknown> | null {
  const bytes = base64UrlBytes(segment);
  if (!bytes) return null;
  try {
    const v: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

const isStr = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * Read a decision token's header and claims WITHOUT verifying its signature (that takes a key:
 * the activity does it). Returns the reason when the token is not a well-formed decision token.
 */
export function decodeDecisionToken(token: unknown): DecodedDecisionToken | { error: string } {
  if (typeof token !== 'string' || !token) return { error: 'token must be a compact JWT string' };
  if (token.length > 8192) return { error: 'token is too long' };
  const parts = token.split('.');
  if (parts.length !== 3 || !parts[2]) return { error: 'token is not a signed compact JWT (header.payload.signature)' };
  const header = jsonSegment(parts[0]!);
  const claims = jsonSegment(parts[1]!);
  if (!header || !claims) return { error: 'token header or payload is not base64url JSON' };
  const alg = header.alg;
  if (!isStr(alg) || !(DECISION_TOKEN_ALGORITHMS as readonly string[]).includes(alg)) {
    return { error: `token algorithm ${JSON.stringify(alg ?? null)} is not accepted (expected one of ${DECISION_TOKEN_ALGORITHMS.join(', ')})` };
  }
  if (header.crit !== undefined) return { error: 'token header "crit" is not supported' };
  const missing = ['iss', 'sub', 'jti', 'wid', 'gate', 'plan'].filter((k) => !isStr(claims[k]));
  missing.push(...['iat', 'exp'].filter((k) => !isNum(claims[k])));
  const aud = claims.aud;
  if (!(isStr(aud) || (Array.isArray(aud) && aud.length > 0 && aud.every(isStr)))) missing.push('aud');
  if (claims.decision !== 'approve' && claims.decision !== 'reject') missing.push('decision');
  if (missing.length) return { error: `token lacks the claim(s) ${missing.join(', ')} of a decision token` };
  return { alg, claims: claims as unknown as DecisionClaims };
}

const iso = (seconds: number): string => new Date(seconds * 1000).toISOString();

/**
 * Every check of a decision token that needs no key, against the pending gate; the reason of the
 * first that fails, or null. Run by the update validator (and again by the handler and the
 * signal, which have no validator) and by the verifying activity after the signature.
 */
export function claimsRefusal(c: DecisionClaims, e: DecisionExpectation): string | null {
  if (e.issuers && !e.issuers.includes(c.iss)) return `unknown issuer "${c.iss}": gate "${e.gate}" accepts decision tokens from ${e.issuers.join(', ')}`;
  if (c.wid !== e.workflowId) return `token is for workflow "${c.wid}", not "${e.workflowId}"`;
  if (c.gate !== e.gate) return `token is for gate "${c.gate}", not "${e.gate}"`;
  if (c.plan !== e.planHash) return `token is for plan ${c.plan}: gate "${e.gate}" waits on plan ${e.planHash}; query pendingApproval and decide on the current plan`;
  if (c.decision !== e.decision) return `token decides "${c.decision}", not "${e.decision}"`;
  const now = e.nowMs / 1000;
  if (c.exp <= now) return `token expired at ${iso(c.exp)}`;
  if (c.exp - c.iat > e.maxLifetimeSeconds) return `token lives ${Math.round(c.exp - c.iat)} s; gate "${e.gate}" accepts at most ${e.maxLifetimeSeconds} s`;
  if (c.iat > now + TOKEN_CLOCK_SKEW_SECONDS) return `token is issued in the future (${iso(c.iat)})`;
  if (c.iat < e.openedAtMs / 1000 - TOKEN_CLOCK_SKEW_SECONDS) return `token was issued at ${iso(c.iat)}, before gate "${e.gate}" opened: it is for an earlier request`;
  if (!e.approvers.includes(c.sub)) return `"${c.sub}" may not decide gate "${e.gate}"${(e.stage ?? 1) > 1 ? ' after escalation' : ''}; allowed: ${e.approvers.join(', ')}`;
  return null;
}
