import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import Database from 'better-sqlite3';
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createActivities } from '../../activities';
import { signDecision, type DecisionSigner, type DecisionToSign } from '../../approvals/sign';
import { approvalDecisionSignal, approveUpdate, pendingApprovalQuery, rejectUpdate, type ApprovalState, type PendingApproval } from '../../contracts/approval';
import type { SyncResult } from '../../contracts/sync';
import { demoPaths, seedDemo } from '../../demo/seed';
import { ConnectorPool, loadRegistry } from '../../pipelines/load';
import { ensureTestServer } from '../../scripts/toolchain';
import { openSqliteStateStore } from '../../state/sqlite-store';
import { makeTestIssuers, type TestIssuers } from '../helpers/approval-keys';
import { installTestRuntime, ROOT, testWorkflowBundle } from '../helpers/env';

jest.setTimeout(120_000);

let env: TestWorkflowEnvironment;
let worker: Worker;
let running: Promise<void>;
let dir: string;
let keys: TestIssuers;
let n = 0;
let bundle: { code: string };

const POLICY = {
  approvers: ['pricing-lead'], timeout: '2 days', onTimeout: { action: 'reject' },
  require: 'signed', issuers: ['approvals-test', 'portal', 'forgotten'],
};

beforeAll(async () => {
  installTestRuntime();
  env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: ensureTestServer() } } });
  await env.connection.operatorService.addSearchAttributes({
    namespace: 'default',
    searchAttributes: { SyncPipeline: 2, SyncEntity: 2, SyncStatus: 2, SyncRecordsRead: 3 },
  });
  dir = mkdtempSync(path.join(os.tmpdir(), 'wf-signed-approval-'));
  keys = await makeTestIssuers(path.join(dir, 'keys'));
  seedDemo(dir, { accounts: 0, contacts: 0, products: 50 });
  const configDir = path.join(dir, 'config');
  cpSync(path.join(ROOT, 'config'), configDir, { recursive: true });
  writeFileSync(
    path.join(configDir, 'pipelines', 'signed-products.json'),
    JSON.stringify({
      name: 'signed-products', family: 'sql',
      source: { system: 'demo-crm', entity: 'products' }, target: { system: 'demo-erp', entity: 'products' },
      mapping: 'crm-product-to-product',
      approval: { watchFields: ['listPrice.amountMinor'], maxChangePercent: 20, policy: POLICY },
    }),
  );
  const vars = { DEMO_DATA_DIR: dir };
  const registry = loadRegistry({ configDir, env: vars });
  worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: 'ts-signed',
    workflowBundle: (bundle = await testWorkflowBundle()),
    activities: createActivities({
      registry, connectors: new ConnectorPool(registry, vars), store: openSqliteStateStore(path.join(dir, 'state.db')), approvalKeys: keys.keyring,
    }),
  });
  running = worker.run();
  // A first run creates the products (creates pass the gate); later price changes wait for approval.
  expect(((await (await start()).result()) as SyncResult).status).toBe('completed');
});

afterAll(async () => {
  worker?.shutdown();
  await running;
  await env?.teardown();
});

const start = () =>
  env.client.workflow.start('syncPipeline', { taskQueue: 'ts-signed', workflowId: `signed-${++n}`, args: [{ pipeline: 'signed-products' }] });

function repriceProducts(factor: number): void {
  const db = new Database(demoPaths(dir).crm);
  db.prepare("UPDATE products SET price = printf('%.2f', CAST(price AS REAL) * ?), updated_at = ? WHERE id <= 5 AND price GLOB '[0-9]*'")
    .run(factor, new Date(Date.now() + n * 1000).toISOString());
  db.close();
}

async function pending(h: WorkflowHandle): Promise<PendingApproval> {
  for (let i = 0; i < 200; i++) {
    const s = await h.query(pendingApprovalQuery);
    if (s.pending) return s.pending;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('no approval became pending');
}

/** The refusal's reason; a decision that was not refused shows as such in the failing expectation. */
const refusalOf = (e: unknown): string => {
  if (e === null) return '(not refused: it became a decision)';
  if (!(e instanceof WorkflowUpdateFailedError)) throw new Error(`expected the update to be refused, got ${String(e)}`);
  return String(e.cause?.message);
};

async function updateEvents(h: WorkflowHandle): Promise<{ accepted: number; completed: number; json: string }> {
  const events = (await h.fetchHistory()).events ?? [];
  return {
    accepted: events.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes).length,
    completed: events.filter((e) => e.workflowExecutionUpdateCompletedEventAttributes).length,
    json: JSON.stringify(events),
  };
}

test('signed gate on a bulk sync: forged, stale and misdirected decisions are refused with a reason and none becomes a decision; a valid token decides', async () => {
  repriceProducts(1.5);
  const h = await start();
  const p = await pending(h);
  expect(p).toMatchObject({ require: 'signed', issuers: ['approvals-test', 'portal', 'forgotten'], tokenLifetimeSeconds: 600 });
  const now = await env.currentTimeMs();
  const valid: DecisionToSign = { subject: 'pricing-lead', workflowId: h.workflowId, gate: p.gate, planHash: p.planHash, decision: 'approve', nowMs: now };
  const sign = (signer: DecisionSigner, over: Partial<DecisionToSign> = {}, lifetimeSeconds?: number) =>
    signDecision(lifetimeSeconds ? { ...signer, lifetimeSeconds } : signer, { ...valid, ...over });
  const approve = async (args: Record<string, unknown>) => refusalOf(await h.executeUpdate(approveUpdate, { args: [args] }).then(() => null, (e: unknown) => e));

  // Refused by the validator: nothing of these reaches history.
  const validatorCases: [string, () => Promise<Record<string, unknown>>, RegExp][] = [
    ['no token where one is required', async () => ({ approver: 'pricing-lead', planHash: p.planHash }), /gate "signed-products page 1" requires a signed decision: pass \{"token"/],
    ['not a signed JWT (alg none)', async () => ({ token: (await sign(keys.hmac)).split('.').slice(0, 2).join('.') + '.' }), /not a signed compact JWT/],
    ['an unknown issuer', async () => ({ token: await sign(keys.rogue) }), /unknown issuer "rogue": gate "signed-products page 1" accepts decision tokens from approvals-test, portal, forgotten/],
    ['an expired token', async () => ({ token: await sign(keys.hmac, { nowMs: now - 20 * 60_000 }) }), /token expired at /],
    ['a token living longer than the gate allows', async () => ({ token: await sign(keys.hmac, {}, 3600) }), /token lives 3600 s; gate "signed-products page 1" accepts at most 600 s/],
    ['a token issued before the gate opened', async () => ({ token: await sign(keys.hmac, { nowMs: Date.parse(p.requestedAt) - 5 * 60_000 }, 600) }), /issued at .* before gate "signed-products page 1" opened/],
    ['a token for another workflow', async () => ({ token: await sign(keys.hmac, { workflowId: 'sync:priced-products' }) }), /token is for workflow "sync:priced-products", not "signed-\d+"/],
    ['a token for another gate', async () => ({ token: await sign(keys.hmac, { gate: 'signed-products page 2' }) }), /token is for gate "signed-products page 2", not "signed-products page 1"/],
    ['a token for another plan', async () => ({ token: await sign(keys.hmac, { planHash: 'feedface' }) }), /token is for plan feedface: gate "signed-products page 1" waits on plan /],
    ['a token for the other decision', async () => ({ token: await sign(keys.hmac, { decision: 'reject' }) }), /token decides "reject", not "approve"/],
    ['a subject not allowed on the gate', async () => ({ token: await sign(keys.hmac, { subject: 'intern' }) }), /"intern" may not decide gate "signed-products page 1"; allowed: pricing-lead/],
    ['a name that is not the token subject', async () => ({ approver: 'ceo', token: await sign(keys.hmac) }), /approver "ceo" is not the token's subject "pricing-lead"/],
  ];
  for (const [what, args, reason] of validatorCases) {
    expect({ what, refusal: await approve(await args()) }).toEqual({ what, refusal: expect.stringMatching(reason) });
  }
  let hist = await updateEvents(h);
  expect(hist.accepted).toBe(0);
  expect((await h.query(pendingApprovalQuery)).decisions).toEqual([]);

  // Well-formed and bound to this gate, but the signature is forged, or the issuer's key is missing
  // on the worker: the validator cannot tell without the key, the verifying activity refuses.
  const forged = await sign(keys.forger);
  expect(await approve({ token: forged })).toMatch(/signature does not verify with the key of issuer "approvals-test"/);
  expect(await approve({ token: await sign({ ...keys.hmac, issuer: 'forgotten' }) })).toMatch(/issuer "forgotten" cannot be verified on this worker: TEST_APPROVALS_UNSET_SECRET is not set/);
  // A bad signature through the signal: logged as refused too.
  await h.signal(approvalDecisionSignal, { decision: 'approve', token: await sign(keys.forger, { tokenId: 'forged-signal' }) });
  let state: ApprovalState;
  for (;;) {
    state = await h.query(pendingApprovalQuery);
    if (state.decisions.length >= 3) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(state.pending).toMatchObject({ planHash: p.planHash }); // still waiting
  expect(state.decisions).toEqual([
    expect.objectContaining({ decision: 'approve', via: 'update', accepted: false, approver: 'pricing-lead', issuer: 'approvals-test', refusal: expect.stringMatching(/signature does not verify/) }),
    expect.objectContaining({ accepted: false, issuer: 'forgotten', refusal: expect.stringMatching(/cannot be verified on this worker/) }),
    expect.objectContaining({ via: 'signal', accepted: false, issuer: 'approvals-test', tokenId: 'forged-signal', refusal: expect.stringMatching(/signature does not verify/) }),
  ]);
  hist = await updateEvents(h);
  expect(hist.accepted).toBe(2); // the two the handler refused: accepted for verification, completed as failures
  expect(hist.completed).toBe(2);
  expect(hist.json).not.toMatch(/"approved":true/);

  // A valid ES256 token from the portal decides; the log shows subject, issuer and token id, never the token.
  const good = await sign(keys.portal, { tokenId: 'portal-1' });
  const outcome = await h.executeUpdate(approveUpdate, { args: [{ token: good, comment: 'Q3 price list' }] });
  expect(outcome).toMatchObject({ approved: true, decidedBy: 'pricing-lead', issuer: 'portal', planHash: p.planHash, via: 'update' });
  // Used once: the same token again is refused (the gate is decided).
  expect(await approve({ token: good })).toMatch(/no approval is pending|already decided/);
  const r = (await h.result()) as SyncResult;
  expect(r.status).toBe('completed');
  expect(r.totals.updated).toBe(5);
  expect(r.approvals.filter((a) => a.accepted)).toEqual([
    expect.objectContaining({ decision: 'approve', approver: 'pricing-lead', issuer: 'portal', tokenId: 'portal-1', comment: 'Q3 price list', accepted: true }),
  ]);
  const resultJson = JSON.stringify(r);
  expect(resultJson).not.toContain(good);
  expect(resultJson).not.toContain(forged);
  // The HMAC secret is nowhere in history.
  expect((await updateEvents(h)).json).not.toContain(keys.secret);
  // Refused and accepted signed decisions replay deterministically (validators do not run on replay; the handler re-checks).
  await expect(Worker.runReplayHistory({ workflowBundle: bundle }, await h.fetchHistory(), h.workflowId)).resolves.toBeUndefined();
});

test('a signed rejection by update: rejected, nothing written, the log names the issuer', async () => {
  repriceProducts(1.5);
  const h = await start();
  const p = await pending(h);
  const token = await signDecision(keys.hmac, {
    subject: 'pricing-lead', workflowId: h.workflowId, gate: p.gate, planHash: p.planHash, decision: 'reject', nowMs: await env.currentTimeMs(), tokenId: 'no-thanks',
  });
  // An approve update cannot use a reject token…
  await expect(h.executeUpdate(approveUpdate, { args: [{ token }] })).rejects.toThrow(WorkflowUpdateFailedError);
  // …the reject update can.
  expect(await h.executeUpdate(rejectUpdate, { args: [{ token, comment: 'too steep' }] })).toMatchObject({ approved: false, decidedBy: 'pricing-lead', issuer: 'approvals-test' });
  const r = (await h.result()) as SyncResult;
  expect(r.status).toBe('rejected');
  expect(r.approvals).toEqual([expect.objectContaining({ decision: 'reject', approver: 'pricing-lead', issuer: 'approvals-test', tokenId: 'no-thanks', accepted: true })]);
});
