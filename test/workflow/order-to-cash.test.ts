import { WorkflowFailedError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createApprovalTokenActivities } from '../../activities/approval-token';
import type { InvoiceState, OrderActivities } from '../../activities/orders';
import { signDecision } from '../../approvals/sign';
import { approvalDecisionSignal, approveUpdate, pendingApprovalQuery, rejectUpdate, type ApprovalPolicy } from '../../contracts/approval';
import { dealLostSignal, erpEventSignal, orderStatusQuery, type DealSnapshot, type OrderToCashInput, type OrderToCashResult } from '../../contracts/orders';
import { SA_STATUS } from '../../contracts/search-attributes';
import { ensureTestServer } from '../../scripts/toolchain';
import { makeTestIssuers, type TestIssuers } from '../helpers/approval-keys';
import { installTestRuntime, testWorkflowBundle } from '../helpers/env';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

jest.setTimeout(120_000);

let env: TestWorkflowEnvironment;
let bundle: { code: string };
let keys: TestIssuers;
beforeAll(async () => {
  installTestRuntime();
  env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: ensureTestServer() } } });
  // the approval gate sets SyncStatus while it waits (approval services list gates by it)
  await env.connection.operatorService.addSearchAttributes({ namespace: 'default', searchAttributes: { SyncStatus: 2 } });
  keys = await makeTestIssuers(mkdtempSync(path.join(os.tmpdir(), 'otc-keys-')));
  bundle = await testWorkflowBundle();
});
afterAll(async () => {
  await env?.teardown();
});

const DEAL: DealSnapshot = {
  dealId: '42', accountId: '7', name: 'Big deal', stage: 'won', currency: 'EUR', amountMinor: 250_000, discountPercent: 0,
  lines: [{ productId: '3', quantity: 2, unitPriceMinor: 125_000, discountPercent: 0 }],
};
const UNDO_NAMES = ['cancelDraftOrder', 'archiveProducts', 'deactivateCustomer', 'recordDealFailure'];
const invoice = (paid: boolean): InvoiceState => ({
  invoiceKey: '9', number: 'INV-1', state: paid ? 'paid' : 'posted', posted: true, paid, totalMinor: 250_000, amountDueMinor: paid ? 0 : 250_000, currency: 'EUR',
});

interface FakeOptions {
  failAt?: keyof OrderActivities;
  failUndo?: keyof OrderActivities;
  /** checkInvoice answers, in order (the last one repeats). */
  invoices?: (InvoiceState | null)[];
  /** The deal loadDeal answers (default DEAL). */
  deal?: DealSnapshot;
}

/** Test doubles of the saga's activities: record every call, fail where told. */
function fakes(opts: FakeOptions = {}) {
  const calls: string[] = [];
  const failures: { dealId: string; reason: string; orderStatus: string | null }[] = [];
  let polls = 0;
  const answers = opts.invoices ?? [null, invoice(false), invoice(true)];
  const act = <A extends unknown[], R>(name: keyof OrderActivities, fn: (...a: A) => R) => async (...a: A): Promise<Awaited<R>> => {
    calls.push(name);
    if (opts.failAt === name || opts.failUndo === name) throw ApplicationFailure.nonRetryable(`${name} exploded`, 'ValidationError');
    return await fn(...a);
  };
  const activities: OrderActivities = {
    loadDeal: act('loadDeal', () => opts.deal ?? DEAL),
    ensureCustomer: act('ensureCustomer', () => ({ customerKey: '7', targetKey: '70', created: true })),
    ensureProducts: act('ensureProducts', () => ({ createdTargetKeys: ['30'], existing: 0 })),
    createDraftOrder: act('createDraftOrder', () => ({ orderKey: '500', externalKey: 'DEAL-42' })),
    quoteOrder: act('quoteOrder', () => ({ state: 'quotation', number: 'SO-500' })),
    confirmOrder: act('confirmOrder', () => ({ state: 'processing', number: 'SO-500' })),
    writeBackOrder: act('writeBackOrder', () => undefined),
    checkInvoice: act('checkInvoice', () => answers[Math.min(polls++, answers.length - 1)] ?? null),
    writeBackInvoice: act('writeBackInvoice', () => undefined),
    writeBackPayment: act('writeBackPayment', () => undefined),
    cancelDraftOrder: act('cancelDraftOrder', () => undefined),
    archiveProducts: act('archiveProducts', () => undefined),
    deactivateCustomer: act('deactivateCustomer', () => undefined),
    recordDealFailure: act('recordDealFailure', (a: { dealId: string; reason: string; orderStatus: string | null }) => void failures.push(a)),
  };
  return { calls, failures, activities, undos: () => calls.filter((c) => UNDO_NAMES.includes(c)) };
}

const POLICY: ApprovalPolicy = { approvers: ['manager'], timeout: '3 days', onTimeout: { action: 'reject' } };
const NO_GATE: OrderToCashInput['approval'] = { maxAmountMinor: 10_000_000, newCustomer: false, policy: POLICY };
const GATE = (policy: ApprovalPolicy = POLICY): OrderToCashInput['approval'] => ({ maxAmountMinor: 100_000, policy });

let n = 0;
async function withWorker<T>(activities: OrderActivities | (OrderActivities & ReturnType<typeof createApprovalTokenActivities>), fn: (taskQueue: string) => Promise<T>): Promise<T> {
  const taskQueue = `otc-${++n}`;
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: bundle, activities });
  return worker.runUntil(
    fn(taskQueue).catch(async (e: unknown) => {
      // A failed test must not leave its workflow open: once its worker is gone, its timers would
      // stall the time-skipping server for the tests after it.
      await Promise.all((open.get(taskQueue) ?? []).map((h) => h.terminate('test failed').catch(() => undefined)));
      throw e;
    }),
  );
}

const open = new Map<string, WorkflowHandle[]>();
async function start(taskQueue: string, input: OrderToCashInput) {
  const h = await env.client.workflow.start('orderToCash', { taskQueue, workflowId: `order-to-cash:${input.dealId}-${n}`, args: [input] });
  open.set(taskQueue, [...(open.get(taskQueue) ?? []), h]);
  return h;
}

/** Wait (10 s at most, else fail) until the order's `step` is `step`. */
async function untilStep(h: Awaited<ReturnType<typeof start>>, step: string) {
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
    if ((await h.query(orderStatusQuery)).step === step) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the order never reached step "${step}"; it is at "${(await h.query(orderStatusQuery)).step}"`);
}

async function untilPending(h: Awaited<ReturnType<typeof start>>) {
  for (let i = 0; i < 200; i++) {
    const s = await h.query(pendingApprovalQuery);
    if (s.pending) return s.pending;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('no approval became pending');
}

test('happy path: customer, products, draft, quote, confirm, write-back, invoice then payment', async () => {
  const f = fakes();
  const result = await withWorker(f.activities, async (tq) => {
    const h = await start(tq, { dealId: '42', approval: NO_GATE, waits: { pollEvery: '6 hours' } });
    return (await h.result()) as OrderToCashResult;
  });
  expect(result).toMatchObject({ outcome: 'paid', orderKey: '500', orderNumber: 'SO-500', invoiceNumber: 'INV-1', failure: null, compensations: [] });
  expect(f.calls).toEqual([
    'loadDeal', 'ensureCustomer', 'ensureProducts', 'createDraftOrder', 'quoteOrder', 'confirmOrder', 'writeBackOrder',
    'checkInvoice', 'checkInvoice', 'writeBackInvoice', 'checkInvoice', 'writeBackPayment',
  ]);
  expect(result.history.filter((s) => s.status === 'completed').map((s) => s.step)).toEqual([
    'load deal', 'ensure customer', 'ensure products', 'create draft order', 'quote order', 'confirm order', 'write back order',
    'wait for invoice', 'write back invoice', 'wait for payment', 'write back payment',
  ]);
});

test('weeks of hourly polling continue-as-new with small histories and finish the same saga', async () => {
  // invoice posted after 5 days, paid after 12.5 days of hourly polls: 301 polls in all
  const answers: (InvoiceState | null)[] = [...Array(120).fill(null), ...Array(180).fill(invoice(false)), invoice(true)];
  const f = fakes({ invoices: answers });
  const { result, runs } = await withWorker(f.activities, async (tq) => {
    const h = await start(tq, { dealId: '44', approval: NO_GATE, waits: { pollEvery: '1 hour', invoiceWithin: '30 days', paymentWithin: '60 days', maxHistoryEvents: 300 } });
    const r = (await h.result()) as OrderToCashResult;
    const lengths: number[] = [];
    let runId: string | undefined = h.firstExecutionRunId;
    while (runId) {
      const hist: { events?: { workflowExecutionContinuedAsNewEventAttributes?: { newExecutionRunId?: string | null } | null }[] | null } =
        await env.client.workflow.getHandle(h.workflowId, runId).fetchHistory();
      const events = hist.events ?? [];
      lengths.push(events.length);
      runId = events[events.length - 1]?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
    }
    return { result: r, runs: lengths };
  });
  expect(result.outcome).toBe('paid');
  expect(result.invoiceNumber).toBe('INV-1');
  expect(runs.length).toBeGreaterThan(3);
  expect(Math.max(...runs)).toBeLessThan(400);
  // the saga itself ran once: one order, one invoice write-back, one payment write-back
  expect(f.calls.filter((c) => c === 'createDraftOrder')).toHaveLength(1);
  expect(f.calls.filter((c) => c === 'writeBackInvoice')).toHaveLength(1);
  expect(f.calls.filter((c) => c === 'writeBackPayment')).toHaveLength(1);
  expect(f.calls.filter((c) => c === 'checkInvoice')).toHaveLength(answers.length);
});

test('an erpEvent signal polls at once instead of waiting for the next interval', async () => {
  const f = fakes({ invoices: [null, invoice(true)] });
  await withWorker(f.activities, async (tq) => {
    const h = await start(tq, { dealId: '43', approval: NO_GATE, waits: { pollEvery: '10 days', invoiceWithin: '30 days' } });
    await untilStep(h, 'wait for invoice');
    const waiting = await h.query(orderStatusQuery);
    expect(waiting.waitingFor).toMatch(/invoice to be posted/);
    await h.signal(erpEventSignal, { kind: 'invoice-posted' });
    const r = (await h.result()) as OrderToCashResult;
    expect(r.outcome).toBe('paid');
    const at = (status: string) => Date.parse(r.history.find((s) => s.step === 'wait for invoice' && s.status === status)!.at);
    expect(at('completed') - at('started')).toBeLessThan(24 * 3600_000); // did not sit out the 10-day interval
  });
});

test('an approval that arrives after two days lets the order through, recorded with who and when', async () => {
  const f = fakes();
  await withWorker(f.activities, async (tq) => {
    const h = await start(tq, { dealId: '44', approval: GATE(), waits: { pollEvery: '1 hour' } });
    const pending = await untilPending(h);
    expect(pending).toMatchObject({ gate: 'order', approvers: ['manager'], stage: 1, reasons: [expect.stringMatching(/^amount 2,500.00 EUR above limit 1,000.00/), 'new customer created for this order'] });
    expect((await h.query(orderStatusQuery)).waitingFor).toMatch(/approval of order DEAL-42/);
    await env.sleep('2 days');
    const outcome = await h.executeUpdate(approveUpdate, { args: [{ approver: 'manager', planHash: pending.planHash, comment: 'ok for Q2' }] });
    expect(outcome).toMatchObject({ approved: true, decidedBy: 'manager', via: 'update', escalated: false });
    expect(Date.parse(outcome.at) - Date.parse(pending.requestedAt)).toBeGreaterThanOrEqual(2 * 24 * 3600_000);
    expect((await h.result()).outcome).toBe('paid');
    const { decisions } = await h.query(pendingApprovalQuery);
    expect(decisions).toEqual([expect.objectContaining({ decision: 'approve', approver: 'manager', comment: 'ok for Q2', accepted: true })]);
  });
  expect(f.calls).toContain('confirmOrder');
});

test('approval timeout with policy reject: rejected, the draft and the new customer are undone', async () => {
  const f = fakes();
  const result = await withWorker(f.activities, async (tq) => {
    const h = await start(tq, { dealId: '45', approval: GATE({ approvers: ['manager'], timeout: '1 day', onTimeout: { action: 'reject' } }) });
    const r = (await h.result()) as OrderToCashResult;
    expect((await h.query(pendingApprovalQuery)).decisions).toEqual([expect.objectContaining({ decision: 'timeout', via: 'timer', accepted: true })]);
    return r;
  });
  expect(result.outcome).toBe('rejected');
  expect(f.calls).not.toContain('quoteOrder');
  expect(f.undos()).toEqual(['cancelDraftOrder', 'archiveProducts', 'deactivateCustomer', 'recordDealFailure']);
});

test('approval timeout with policy escalate: the next group decides, the first may no longer', async () => {
  const f = fakes();
  await withWorker(f.activities, async (tq) => {
    const policy: ApprovalPolicy = { approvers: ['manager'], timeout: '1 day', onTimeout: { action: 'escalate', approvers: ['director'], timeout: '2 days' } };
    const h = await start(tq, { dealId: '46', approval: GATE(policy) });
    const first = await untilPending(h);
    await env.sleep('25 hours');
    const escalated = (await h.query(pendingApprovalQuery)).pending;
    expect(escalated).toMatchObject({ stage: 2, approvers: ['director'], planHash: first.planHash });
    const refused = await h.executeUpdate(approveUpdate, { args: [{ approver: 'manager', planHash: first.planHash }] }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
    expect((refused as WorkflowUpdateFailedError).cause?.message).toMatch(/"manager" may not decide gate "order" after escalation; allowed: director/);
    const ok = await h.executeUpdate(approveUpdate, { args: [{ approver: 'director', planHash: first.planHash }] });
    expect(ok).toMatchObject({ approved: true, escalated: true, decidedBy: 'director' });
    expect((await h.result()).outcome).toBe('paid');
    expect((await h.query(pendingApprovalQuery)).decisions.map((d) => d.decision)).toEqual(['escalate', 'approve']);
  });
});

test('the validator refuses an unauthorised approver and a stale plan hash; refused signals are logged', async () => {
  const f = fakes();
  await withWorker(f.activities, async (tq) => {
    const h = await start(tq, { dealId: '47', approval: GATE() });
    const pending = await untilPending(h);
    const who = await h.executeUpdate(approveUpdate, { args: [{ approver: 'mallory', planHash: pending.planHash }] }).catch((e: unknown) => e);
    expect((who as WorkflowUpdateFailedError).cause?.message).toBe('"mallory" may not decide gate "order"; allowed: manager');
    const stale = await h.executeUpdate(rejectUpdate, { args: [{ approver: 'manager', planHash: 'deadbeefdeadbeef' }] }).catch((e: unknown) => e);
    expect((stale as WorkflowUpdateFailedError).cause?.message).toMatch(/^plan deadbeefdeadbeef is not pending: gate "order" waits on plan [0-9a-f]{16}/);
    await h.signal(approvalDecisionSignal, { decision: 'approve', approver: 'mallory', planHash: pending.planHash });
    expect((await h.query(pendingApprovalQuery)).pending).not.toBeNull(); // still waiting
    await h.signal(approvalDecisionSignal, { decision: 'reject', approver: 'manager', planHash: pending.planHash, comment: 'too cheap' });
    const r = (await h.result()) as OrderToCashResult;
    expect(r.outcome).toBe('rejected');
    expect(r.failure?.message).toMatch(/approval rejected by manager: too cheap/);
    const { decisions } = await h.query(pendingApprovalQuery);
    expect(decisions.map((d) => [d.via, d.approver, d.accepted])).toEqual([['signal', 'mallory', false], ['signal', 'manager', true]]);
    expect(decisions[0]!.refusal).toMatch(/may not decide/);
  });
});

test('a signed order gate: a name alone, a forged signal and the first group after escalation are refused; the director\'s signed signal decides', async () => {
  const f = fakes();
  const activities = { ...f.activities, ...createApprovalTokenActivities({ approvalKeys: keys.keyring }) };
  await withWorker(activities, async (tq) => {
    const policy: ApprovalPolicy = {
      approvers: ['manager'], timeout: '1 day', onTimeout: { action: 'escalate', approvers: ['director'], timeout: '2 days' }, require: 'signed', issuers: ['approvals-test'],
    };
    const h = await start(tq, { dealId: '50', approval: GATE(policy) });
    const first = await untilPending(h);
    // approval services find the gate by SyncStatus
    expect((await h.describe()).typedSearchAttributes.get(SA_STATUS)).toBe('awaiting-approval');
    const named = await h.executeUpdate(approveUpdate, { args: [{ approver: 'manager', planHash: first.planHash }] }).catch((e: unknown) => e);
    expect((named as WorkflowUpdateFailedError).cause?.message).toMatch(/^gate "order" requires a signed decision/);

    await env.sleep('25 hours');
    const p = (await h.query(pendingApprovalQuery)).pending!;
    expect(p).toMatchObject({ stage: 2, approvers: ['director'] });
    const token = (signer: typeof keys.hmac, subject: string, nowMs: number, tokenId: string) =>
      signDecision(signer, { subject, workflowId: h.workflowId, gate: 'order', planHash: p.planHash, decision: 'approve', nowMs, tokenId });
    const now = await env.currentTimeMs();
    const manager = await h.executeUpdate(approveUpdate, { args: [{ token: await token(keys.hmac, 'manager', now, 'm-1') }] }).catch((e: unknown) => e);
    expect((manager as WorkflowUpdateFailedError).cause?.message).toBe('"manager" may not decide gate "order" after escalation; allowed: director');

    await h.signal(approvalDecisionSignal, { decision: 'approve', token: await token(keys.forger, 'director', now, 'forged-1') });
    while (!(await h.query(pendingApprovalQuery)).decisions.some((d) => d.tokenId === 'forged-1')) await new Promise((r) => setTimeout(r, 50));
    expect((await h.query(pendingApprovalQuery)).pending).not.toBeNull(); // refused, still waiting
    await h.signal(approvalDecisionSignal, { decision: 'approve', token: await token(keys.hmac, 'director', now, 'director-1'), comment: 'fine' });
    expect((await h.result()).outcome).toBe('paid');
    const { decisions } = await h.query(pendingApprovalQuery);
    expect(decisions).toEqual([
      expect.objectContaining({ decision: 'escalate', via: 'timer' }),
      expect.objectContaining({ via: 'signal', accepted: false, approver: 'director', issuer: 'approvals-test', tokenId: 'forged-1', refusal: expect.stringMatching(/signature does not verify/) }),
      expect.objectContaining({ via: 'signal', accepted: true, decision: 'approve', approver: 'director', issuer: 'approvals-test', tokenId: 'director-1', comment: 'fine' }),
    ]);
    expect((await h.describe()).typedSearchAttributes.get(SA_STATUS)).toBeUndefined(); // cleared once decided
  });
  expect(f.calls).toContain('confirmOrder');
});

test('a signed order gate refuses, by its validator, a token for another order and an expired one', async () => {
  const f = fakes();
  await withWorker({ ...f.activities, ...createApprovalTokenActivities({ approvalKeys: keys.keyring }) }, async (tq) => {
    const h = await start(tq, { dealId: '51', approval: GATE({ ...POLICY, require: 'signed', issuers: ['approvals-test'] }) });
    const p = await untilPending(h);
    const now = await env.currentTimeMs();
    const d = { subject: 'manager', workflowId: h.workflowId, gate: 'order', planHash: p.planHash, decision: 'approve' as const, nowMs: now };
    const refusal = async (over: Partial<typeof d>) =>
      ((await h.executeUpdate(approveUpdate, { args: [{ token: await signDecision(keys.hmac, { ...d, ...over }) }] }).catch((e: unknown) => e)) as WorkflowUpdateFailedError).cause?.message;
    expect(await refusal({ workflowId: 'order-to-cash:42' })).toMatch(/^token is for workflow "order-to-cash:42", not "order-to-cash:51-\d+"/);
    expect(await refusal({ nowMs: now - 30 * 60_000 })).toMatch(/^token expired at /);
    const events = (await h.fetchHistory()).events ?? [];
    expect(events.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes)).toHaveLength(0);
    expect(await h.executeUpdate(approveUpdate, { args: [{ token: await signDecision(keys.hmac, d) }] })).toMatchObject({ approved: true, decidedBy: 'manager', issuer: 'approvals-test' });
    expect((await h.result()).outcome).toBe('paid');
  });
});

describe('a failure at each step runs exactly the undos of the steps before it, in reverse', () => {
  const cases: [keyof OrderActivities, string[]][] = [
    ['loadDeal', ['recordDealFailure']],
    ['ensureCustomer', ['recordDealFailure']],
    ['ensureProducts', ['deactivateCustomer', 'recordDealFailure']],
    ['createDraftOrder', ['archiveProducts', 'deactivateCustomer', 'recordDealFailure']],
    ['quoteOrder', ['cancelDraftOrder', 'archiveProducts', 'deactivateCustomer', 'recordDealFailure']],
    ['confirmOrder', ['cancelDraftOrder', 'archiveProducts', 'deactivateCustomer', 'recordDealFailure']],
    // after confirmation (the point of no return) only the reason is written to the deal
    ['writeBackOrder', ['recordDealFailure']],
    ['checkInvoice', ['recordDealFailure']],
    ['writeBackInvoice', ['recordDealFailure']],
    ['writeBackPayment', ['recordDealFailure']],
  ];
  test.each(cases)('failure in %s', async (failAt, expected) => {
    const f = fakes({ failAt });
    const err = await withWorker(f.activities, async (tq) => {
      const h = await start(tq, { dealId: `f-${failAt}`, approval: NO_GATE, waits: { pollEvery: '1 hour' } });
      return h.result().catch((e: unknown) => e);
    });
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause.type).toBe('ValidationError');
    expect(cause.message).toContain(`${failAt} exploded`);
    expect(f.undos()).toEqual(expected);
    const result = cause.details?.[0] as OrderToCashResult;
    expect(result.outcome).toBe('failed');
    expect(result.compensations.every((c) => c.ok)).toBe(true);
  });
});

test('a compensation that keeps failing is tried three times, then reported, and the other undos still run', async () => {
  const f = fakes({ failAt: 'quoteOrder', failUndo: 'cancelDraftOrder' });
  const err = await withWorker(f.activities, async (tq) => {
    const h = await start(tq, { dealId: '48', approval: NO_GATE });
    const e = await h.result().catch((x: unknown) => x);
    const s = await h.query(orderStatusQuery);
    expect(s.compensations.find((c) => !c.ok)).toMatchObject({ undo: 'cancel draft order DEAL-42', error: expect.stringMatching(/cancelDraftOrder exploded/) });
    return e;
  });
  expect(f.undos()).toEqual(['cancelDraftOrder', 'cancelDraftOrder', 'cancelDraftOrder', 'archiveProducts', 'deactivateCustomer', 'recordDealFailure']);
  expect((err as WorkflowFailedError).cause?.message).toMatch(/compensations: 3 ok, 1 failed/);
});

test('a deal lost before confirmation compensates; lost after confirmation is only recorded', async () => {
  const f = fakes();
  const r = await withWorker(f.activities, async (tq) => {
    const h = await start(tq, { dealId: '49', approval: GATE() });
    await untilPending(h);
    await h.signal(dealLostSignal, { by: 'crm', reason: 'customer chose a competitor' });
    return (await h.result()) as OrderToCashResult;
  });
  expect(r).toMatchObject({ outcome: 'lost', failure: { message: 'deal lost (crm): customer chose a competitor' } });
  expect(f.undos()).toEqual(['cancelDraftOrder', 'archiveProducts', 'deactivateCustomer', 'recordDealFailure']);
  expect(f.calls).not.toContain('quoteOrder');

  const g = fakes({ invoices: [null, null, invoice(true)] });
  const after = await withWorker(g.activities, async (tq) => {
    const h = await start(tq, { dealId: '50', approval: NO_GATE, waits: { pollEvery: '1 day' } });
    await untilStep(h, 'wait for invoice');
    await h.signal(dealLostSignal, { reason: 'too late' });
    return (await h.result()) as OrderToCashResult;
  });
  expect(after.outcome).toBe('paid');
  expect(g.undos()).toEqual([]);
  expect(after.history.some((s) => s.step === 'deal lost' && s.status === 'skipped')).toBe(true);
});

test('a wrong input fails at once, naming the field', async () => {
  const f = fakes();
  const err = await withWorker(f.activities, async (tq) => {
    const h = await env.client.workflow.start('orderToCash', { taskQueue: tq, workflowId: 'order-to-cash:bad', args: [{ dealId: '4 2' }] });
    return h.result().catch((e: unknown) => e);
  });
  expect((err as WorkflowFailedError).cause?.message).toMatch(/^invalid workflow input: dealId: expected letters, digits/);
  expect(f.calls).toEqual([]);
});

describe('invoice and payment waits: timeouts and cancellation', () => {
  const DAY = 24 * 3600_000;
  /** When the step `step` was noted with `status` (workflow time). */
  const at = (r: OrderToCashResult, step: string, status: string) => Date.parse(r.history.find((s) => s.step === step && s.status === status)!.at);

  test('no posted invoice within invoiceWithin: invoice-timeout after that long, the reason on the deal, the confirmed order kept', async () => {
    const f = fakes({ invoices: [null] });
    const r = await withWorker(f.activities, async (tq) => {
      const h = await start(tq, { dealId: '60', approval: NO_GATE, waits: { pollEvery: '6 hours', invoiceWithin: '2 days', paymentWithin: '10 days' } });
      return (await h.result()) as OrderToCashResult;
    });
    expect(r).toMatchObject({ outcome: 'invoice-timeout', invoiceNumber: null, failure: { step: 'wait for invoice', type: 'invoice-timeout', message: 'no posted invoice within 2 days' } });
    const waited = at(r, 'wait for invoice', 'completed') - at(r, 'wait for invoice', 'started');
    expect(waited).toBeGreaterThanOrEqual(2 * DAY);
    expect(waited).toBeLessThan(2 * DAY + 6 * 3600_000);
    // polled every 6 hours for 2 days: at 0, 6, ..., 48 h
    expect(f.calls.filter((c) => c === 'checkInvoice')).toHaveLength(9);
    expect(f.calls).not.toContain('writeBackInvoice');
    expect(f.undos()).toEqual(['recordDealFailure']); // after confirmation nothing is undone
    expect(f.failures).toEqual([{ dealId: '60', reason: 'no posted invoice within 2 days', orderStatus: null }]);
  });

  test('a posted invoice not paid within paymentWithin: payment-timeout after that long, the invoice written back, no payment', async () => {
    const f = fakes({ invoices: [invoice(false)] });
    const r = await withWorker(f.activities, async (tq) => {
      const h = await start(tq, { dealId: '61', approval: NO_GATE, waits: { pollEvery: '12 hours', invoiceWithin: '10 days', paymentWithin: '3 days' } });
      return (await h.result()) as OrderToCashResult;
    });
    expect(r).toMatchObject({ outcome: 'payment-timeout', invoiceNumber: 'INV-1', failure: { step: 'wait for payment', type: 'payment-timeout', message: 'invoice INV-1 not paid within 3 days' } });
    const waited = at(r, 'wait for payment', 'completed') - at(r, 'wait for payment', 'started');
    expect(waited).toBeGreaterThanOrEqual(3 * DAY);
    expect(waited).toBeLessThan(3 * DAY + 12 * 3600_000);
    expect(f.calls).toContain('writeBackInvoice');
    expect(f.calls).not.toContain('writeBackPayment');
    expect(f.undos()).toEqual(['recordDealFailure']);
    expect(f.failures).toEqual([{ dealId: '61', reason: 'invoice INV-1 not paid within 3 days', orderStatus: null }]);
  });

  test('the wait deadline survives continue-as-new: a run that continues does not restart the clock', async () => {
    // hourly polls, 3 days allowed (73 polls); the invoice would be posted at poll 101, which a
    // run that restarted its deadline on continue-as-new would reach
    const f = fakes({ invoices: [...Array<null>(100).fill(null), invoice(true)] });
    const { r, runs } = await withWorker(f.activities, async (tq) => {
      const h = await start(tq, { dealId: '62', approval: NO_GATE, waits: { pollEvery: '1 hour', invoiceWithin: '3 days', maxHistoryEvents: 200 } });
      const res = (await h.result()) as OrderToCashResult;
      return { r: res, runs: (await h.describe()).runId !== h.firstExecutionRunId };
    });
    expect(runs).toBe(true); // it did continue as new
    expect(r.outcome).toBe('invoice-timeout');
    // measured from the first run's start of the wait (each continued run polls once more on start)
    const waited = at(r, 'wait for invoice', 'completed') - at(r, 'wait for invoice', 'started');
    expect(waited).toBeGreaterThanOrEqual(3 * DAY);
    expect(waited).toBeLessThan(3 * DAY + 3600_000);
  });

  test('Temporal cancellation while the approval waits: the completed steps are undone in reverse, the workflow ends cancelled', async () => {
    const f = fakes();
    const { err, s } = await withWorker(f.activities, async (tq) => {
      const h = await start(tq, { dealId: '63', approval: GATE() });
      await untilPending(h);
      await h.cancel();
      const e = await h.result().catch((x: unknown) => x);
      return { err: e, s: await h.query(orderStatusQuery) };
    });
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    expect(f.calls).not.toContain('quoteOrder');
    expect(f.undos()).toEqual(['cancelDraftOrder', 'archiveProducts', 'deactivateCustomer', 'recordDealFailure']);
    expect(f.failures).toEqual([{ dealId: '63', reason: 'order-to-cash was cancelled', orderStatus: 'cancelled' }]);
    expect(s).toMatchObject({ outcome: 'cancelled', orderState: 'cancelled' });
    expect(s.compensations.every((c) => c.ok)).toBe(true);
  });

  test('Temporal cancellation while waiting for the invoice: the confirmed order stays, only the reason is written', async () => {
    const f = fakes({ invoices: [null] });
    const { err, s } = await withWorker(f.activities, async (tq) => {
      const h = await start(tq, { dealId: '64', approval: NO_GATE, waits: { pollEvery: '1 day' } });
      await untilStep(h, 'wait for invoice');
      await h.cancel();
      const e = await h.result().catch((x: unknown) => x);
      return { err: e, s: await h.query(orderStatusQuery) };
    });
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    expect(f.calls).toContain('confirmOrder');
    expect(f.undos()).toEqual(['recordDealFailure']);
    expect(f.failures).toEqual([{ dealId: '64', reason: 'order-to-cash was cancelled', orderStatus: null }]);
    expect(s).toMatchObject({ outcome: 'cancelled', orderState: 'processing' });
  });
});

describe('the maxDiscountPercent gate', () => {
  const discounted = (deal: number, line: number): DealSnapshot => ({ ...DEAL, discountPercent: deal, lines: [{ ...DEAL.lines[0]!, discountPercent: line }] });

  test.each([
    ['a line discount', 0, 20, 'discount 20% above limit 15%'],
    ['a deal discount', 16, 0, 'discount 16% above limit 15%'],
  ])('%s above the limit waits for approval, naming only that reason; a rejection undoes the order', async (_what, deal, line, reason) => {
    const f = fakes({ deal: discounted(deal, line) });
    const r = await withWorker(f.activities, async (tq) => {
      const h = await start(tq, { dealId: `d-${deal}-${line}`, approval: { ...NO_GATE, maxDiscountPercent: 15 } });
      const pending = await untilPending(h);
      expect(pending.reasons).toEqual([reason]);
      await h.executeUpdate(rejectUpdate, { args: [{ approver: 'manager', planHash: pending.planHash, comment: 'too generous' }] });
      return (await h.result()) as OrderToCashResult;
    });
    expect(r.outcome).toBe('rejected');
    expect(f.calls).not.toContain('quoteOrder');
    expect(f.undos()).toEqual(['cancelDraftOrder', 'archiveProducts', 'deactivateCustomer', 'recordDealFailure']);
  });

  test.each([
    ['a discount at the limit', 15, 15],
    ['no limit (null), 90% off', null, 90],
  ])('%s passes without approval', async (_what, limit, discount) => {
    const f = fakes({ deal: discounted(0, discount) });
    const r = await withWorker(f.activities, async (tq) => {
      const h = await start(tq, { dealId: `n-${discount}`, approval: { ...NO_GATE, maxDiscountPercent: limit }, waits: { pollEvery: '1 hour' } });
      const res = (await h.result()) as OrderToCashResult;
      expect((await h.query(pendingApprovalQuery)).decisions).toEqual([]);
      return res;
    });
    expect(r.outcome).toBe('paid');
    expect(r.history.some((s) => s.step === 'approval')).toBe(false);
  });
});
