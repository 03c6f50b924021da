import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { verifyDecisionToken } from '../../activities/approval-token';
import { signDecision } from '../../approvals/sign';
import { ApprovalPolicySchema } from '../../contracts/approval';
import { decodeDecisionToken, type DecisionExpectation } from '../../contracts/approval-token';
import { OrderToCashInputSchema } from '../../contracts/orders';
import { loadApprovalKeyring } from '../../workers/approval-issuers';

const SECRET = 's'.repeat(40);
const dir = mkdtempSync(path.join(os.tmpdir(), 'approval-token-'));
const file = (name: string, content: unknown) => {
  const f = path.join(dir, name);
  writeFileSync(f, typeof content === 'string' ? content : JSON.stringify(content));
  return f;
};
const ISSUERS = file('issuers.json', { issuers: { demo: { secretEnv: 'DEMO_SECRET' } } });
const signer = { issuer: 'demo', key: new TextEncoder().encode(SECRET), alg: 'HS256' };
const NOW = Date.parse('2026-06-01T12:00:00Z');
const expect_: DecisionExpectation = {
  workflowId: 'w', gate: 'g', planHash: 'p', decision: 'approve', approvers: ['alice'], issuers: ['demo'], nowMs: NOW, openedAtMs: NOW - 60_000, maxLifetimeSeconds: 600,
};
const token = (over: Partial<Parameters<typeof signDecision>[1]> = {}, s: Partial<typeof signer> & { audience?: string } = {}) =>
  signDecision({ ...signer, ...s }, { subject: 'alice', workflowId: 'w', gate: 'g', planHash: 'p', decision: 'approve', nowMs: NOW, tokenId: 't1', ...over });

test('issuer keys come from configuration: a missing secret leaves the issuer unavailable, a short one stops the worker, no file trusts none', async () => {
  const ring = await loadApprovalKeyring(ISSUERS, {});
  expect(ring?.issuers.get('demo')).toEqual({ kind: 'unavailable', reason: 'DEMO_SECRET is not set' });
  expect(ring?.audience).toBe('crm-erp-sync');
  await expect(loadApprovalKeyring(ISSUERS, { DEMO_SECRET: 'short' })).rejects.toThrow(/DEMO_SECRET is shorter than 32 bytes/);
  await expect(loadApprovalKeyring(ISSUERS, { DEMO_SECRET: 'short' })).rejects.not.toThrow(/short"/); // never the value
  await expect(loadApprovalKeyring(file('bad.json', { issuers: { x: { secret: 'inline!' } } }), {})).rejects.toThrow(/bad\.json: issuers\.x/);
  await expect(loadApprovalKeyring(file('pem.json', { issuers: { x: { publicKeyFile: 'nope.pem', alg: 'ES256' } } }), {})).rejects.toThrow(/cannot read an ES256 public key/);
  expect(await loadApprovalKeyring(path.join(dir, 'absent.json'), {})).toBeNull();
});

test('the verifying activity: a valid token passes; wrong audience, wrong key, unknown issuer and no keyring are refused with reasons', async () => {
  const ring = await loadApprovalKeyring(ISSUERS, { DEMO_SECRET: SECRET });
  const verify = async (t: string) => verifyDecisionToken(ring, { token: t, expect: expect_ });
  expect(await verify(await token())).toEqual({ ok: true, issuer: 'demo', subject: 'alice', tokenId: 't1' });
  expect(await verify(await token({}, { audience: 'another-service' }))).toEqual({ ok: false, reason: 'token claim "aud" is not valid for this worker (check_failed)' });
  expect(await verify(await token({}, { key: new TextEncoder().encode('k'.repeat(40)) }))).toEqual({ ok: false, reason: 'signature does not verify with the key of issuer "demo"' });
  // (a gate that lists its issuers refuses "other" in its validator already; this is a gate that lists none)
  expect(await verifyDecisionToken(ring, { token: await token({}, { issuer: 'other' }), expect: { ...expect_, issuers: null } })).toEqual({ ok: false, reason: 'unknown issuer "other": this worker has no key for it' });
  expect(await verifyDecisionToken(null, { token: await token(), expect: expect_ })).toMatchObject({ ok: false, reason: expect.stringMatching(/trusts no approval issuers/) });
  // a refusal never echoes the token
  const t = await token({}, { key: new TextEncoder().encode('k'.repeat(40)) });
  expect(JSON.stringify(await verify(t))).not.toContain(t.split('.')[2]);
});

test('decoding without a key: malformed tokens and missing claims are named', async () => {
  expect(decodeDecisionToken('a.b')).toEqual({ error: 'token is not a signed compact JWT (header.payload.signature)' });
  expect(decodeDecisionToken(42)).toEqual({ error: 'token must be a compact JWT string' });
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  expect(decodeDecisionToken(`${b64({ alg: 'none' })}.${b64({})}.x`)).toMatchObject({ error: expect.stringMatching(/algorithm "none" is not accepted/) });
  expect(decodeDecisionToken(`${b64({ alg: 'HS256' })}.${b64({ iss: 'demo', sub: 'ü-approver' })}.x`)).toEqual({
    error: 'token lacks the claim(s) jti, wid, gate, plan, iat, exp, aud, decision of a decision token',
  });
  const ok = decodeDecisionToken(await token({ subject: 'ü-approver' }));
  expect(ok).toMatchObject({ alg: 'HS256', claims: { sub: 'ü-approver', wid: 'w', gate: 'g', plan: 'p', decision: 'approve', jti: 't1', aud: 'crm-erp-sync' } });
});

test('a "signed" policy must name its issuers, in pipeline and order policies alike', () => {
  const base = { approvers: ['a'], timeout: '1 day', onTimeout: { action: 'reject' } };
  expect(ApprovalPolicySchema.safeParse({ ...base, require: 'signed' }).error?.issues[0]).toMatchObject({ path: ['issuers'], message: expect.stringMatching(/needs "issuers"/) });
  expect(ApprovalPolicySchema.safeParse({ ...base, require: 'signed', issuers: ['demo'] }).success).toBe(true);
  expect(ApprovalPolicySchema.safeParse(base).success).toBe(true); // "name" by default, as before
  expect(OrderToCashInputSchema.safeParse({ dealId: '1', approval: { policy: { require: 'signed' } } }).error?.issues[0]?.path).toEqual(['approval', 'policy', 'issuers']);
  expect(OrderToCashInputSchema.parse({ dealId: '1', approval: { policy: { require: 'signed', issuers: ['demo'] } } }).approval?.policy).toMatchObject({ approvers: ['sales-manager'], require: 'signed', issuers: ['demo'] });
});
