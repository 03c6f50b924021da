import { SignJWT, type CryptoKey } from 'jose';
import { randomUUID } from 'node:crypto';
import { DEFAULT_DECISION_AUDIENCE } from '../contracts/approval-token';

/** An issuer's signing side: its name (`iss`), key and algorithm. Keys come from configuration. */
export interface DecisionSigner {
  issuer: string;
  key: Uint8Array | CryptoKey;
  alg: string;
  /** @default "crm-erp-sync" */
  audience?: string;
  /** @default 300 (5 minutes; gates accept at most 10 unless their policy says otherwise) */
  lifetimeSeconds?: number;
}

/** One decision to sign: who decides what, on which workflow, gate and plan. */
export interface DecisionToSign {
  subject: string;
  workflowId: string;
  gate: string;
  planHash: string;
  decision: 'approve' | 'reject';
  /** Issue time, ms. @default Date.now() */
  nowMs?: number;
  /** @default a random UUID */
  tokenId?: string;
}

/** A decision token (compact JWS) for ApprovalGate: see contracts/approval-token.ts for the claims. */
export async function signDecision(signer: DecisionSigner, d: DecisionToSign): Promise<string> {
  const iat = Math.floor((d.nowMs ?? Date.now()) / 1000);
  return new SignJWT({ wid: d.workflowId, gate: d.gate, plan: d.planHash, decision: d.decision })
    .setProtectedHeader({ alg: signer.alg, typ: 'JWT' })
    .setIssuer(signer.issuer)
    .setAudience(signer.audience ?? DEFAULT_DECISION_AUDIENCE)
    .setSubject(d.subject)
    .setJti(d.tokenId ?? randomUUID())
    .setIssuedAt(iat)
    .setExpirationTime(iat + (signer.lifetimeSeconds ?? 300))
    .sign(signer.key);
}
