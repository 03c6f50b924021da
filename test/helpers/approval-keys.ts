import { exportSPKI, generateKeyPair, type CryptoKey } from 'jose';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ApprovalKeyring } from '../../activities/approval-token';
import type { DecisionSigner } from '../../approvals/sign';
import { loadApprovalKeyring } from '../../workers/approval-issuers';

export const SECRET_ENV = 'TEST_APPROVALS_SECRET';

export interface TestIssuers {
  /** HS256 issuer "approvals-test" (secret in SECRET_ENV). */
  hmac: DecisionSigner;
  /** ES256 issuer "portal" (public key file). */
  portal: DecisionSigner;
  /** Signs as "approvals-test" with a key the worker does not know: a forged signature. */
  forger: DecisionSigner;
  /** An issuer no gate or worker trusts. */
  rogue: DecisionSigner;
  /** The secret, to check it never shows up in history or results. */
  secret: string;
  keyring: ApprovalKeyring;
}

/**
 * Issuers for tests, loaded the way a worker loads them: an approval-issuers.json in `dir`
 * naming an HMAC secret's variable, an ES256 public key file, and an issuer whose secret
 * variable is unset ("forgotten").
 */
export async function makeTestIssuers(dir: string): Promise<TestIssuers> {
  mkdirSync(dir, { recursive: true });
  const secret = 'test-secret-' + 'x'.repeat(40);
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  writeFileSync(path.join(dir, 'portal.pub.pem'), await exportSPKI(publicKey as CryptoKey));
  const file = path.join(dir, 'approval-issuers.json');
  writeFileSync(
    file,
    JSON.stringify({
      audience: 'crm-erp-sync',
      issuers: {
        'approvals-test': { secretEnv: SECRET_ENV },
        portal: { publicKeyFile: 'portal.pub.pem', alg: 'ES256' },
        forgotten: { secretEnv: 'TEST_APPROVALS_UNSET_SECRET' },
      },
    }),
  );
  const keyring = await loadApprovalKeyring(file, { [SECRET_ENV]: secret });
  if (!keyring) throw new Error('approval-issuers.json was not loaded');
  const enc = (s: string) => new TextEncoder().encode(s);
  return {
    hmac: { issuer: 'approvals-test', key: enc(secret), alg: 'HS256' },
    portal: { issuer: 'portal', key: privateKey as CryptoKey, alg: 'ES256' },
    forger: { issuer: 'approvals-test', key: enc('not-the-secret-' + 'y'.repeat(40)), alg: 'HS256' },
    rogue: { issuer: 'rogue', key: enc('rogue-secret-' + 'z'.repeat(40)), alg: 'HS256' },
    secret,
    keyring,
  };
}
