import { formatMoney } from '../mappings/dsl/money';
import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  ContinueAsNew,
  continueAsNew,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { InvoiceState, OrderActivities } from '../activities/orders';
import { durationMs, planHash, type ApprovalOutcome } from '../contracts/approval';
import {
  approvalReasons,
  dealLostSignal,
  DEFAULT_APPROVAL,
  erpEventSignal,
  OrderToCashInputSchema,
  orderStatusQuery,
  type OrderOutcome,
  type OrderStatus,
  type OrderStep,
  type OrderToCashInput,
  type OrderToCashResult,
  type StepRecord,
} from '../contracts/orders';
import { SA_STATUS } from '../contracts/search-attributes';
import { ApprovalGate, nowIso as now } from './approval';
import { parseWorkflowInput } from './input';
import { externalRetry } from './options';

/** ERP and CRM calls: retried with backoff for ~15 minutes, never for the closed vocabulary. */
const STEP: ActivityOptions = { startToCloseTimeout: '2 minutes', retry: externalRetry };
/** Undos: the activity retries transient errors; the saga then tries UNDO_ROUNDS times in all. */
const UNDO: ActivityOptions = {
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 3 },
};
/** Even a "non-retryable" undo failure is tried again (a locked record may free up), then reported. */
const UNDO_ROUNDS = 3;
const UNDO_PAUSE = '1 minute';

const steps = proxyActivities<OrderActivities>(STEP);
const undos = proxyActivities<OrderActivities>(UNDO);
const EXAMPLE_INPUT = '{"dealId":"42"}';
const REJECTED = 'ApprovalRejected';
/** Patch id: the approval gate sets SyncStatus while it waits. */
const LIST_APPROVALS = 'approval-search-status';

interface Undo {
  undo: string;
  step: string;
  run: () => Promise<void>;
}

/**
 * One won deal, from CRM to cash: customer → products → draft order → approval (when limits
 * are crossed) → quote → confirm (the point of no return) → write the order back to the deal →
 * wait (durably, for days) for the invoice, then the payment → write them back. Before the
 * order is confirmed, a permanent failure, a rejection, a `dealLost` signal or a cancel runs the
 * undos of the completed steps in reverse, non-cancellable, and writes the reason to the deal.
 */
export async function orderToCash(rawInput: OrderToCashInput): Promise<OrderToCashResult> {
  const input = parseWorkflowInput(OrderToCashInputSchema, rawInput, EXAMPLE_INPUT);
  const { dealId } = input;
  // The deal's CRM rides along to every activity that reads or writes it (absent: the demo CRM).
  const crm = input.crm !== undefined ? { crm: input.crm } : {};
  const limits = input.approval ?? DEFAULT_APPROVAL;
  const gate = new ApprovalGate();

  const status: Omit<OrderStatus, 'approval'> = {
    dealId, step: 'load deal', waitingFor: null, orderKey: null, orderNumber: null, orderState: null, invoiceNumber: null,
    paymentStatus: null, history: [], compensations: [], outcome: null,
  };
  const note = (step: string, s: StepRecord['status'], detail?: string): void => {
    status.history.push({ step, status: s, at: now(), ...(detail ? { detail } : {}) });
  };
  const run = async <T>(step: OrderStep, fn: () => Promise<T>): Promise<T> => {
    status.step = step;
    note(step, 'started');
    const r = await fn();
    note(step, 'completed');
    return r;
  };

  let erpEvents = 0;
  let confirmed = false;
  let lost: { by?: string; reason?: string } | null = null;
  const beforeConfirm = new CancellationScope();
  setHandler(orderStatusQuery, () => ({ ...status, history: [...status.history], compensations: [...status.compensations], approval: gate.state() }));
  setHandler(erpEventSignal, (e) => {
    erpEvents += 1;
    log.info('ERP event', { kind: e?.kind ?? null });
  });
  setHandler(dealLostSignal, (args) => {
    lost = args ?? {};
    if (!confirmed) beforeConfirm.cancel();
    else note('deal lost', 'skipped', `deal lost after the order was confirmed (${args?.reason ?? 'no reason'}); the order stays, handle it in the ERP`);
  });

  const pending: Undo[] = [];
  const resume = input.resume;

  try {
    if (resume) {
      // A continued run: the order is confirmed and we are waiting for the invoice or payment.
      confirmed = true;
      Object.assign(status, { orderKey: resume.orderKey, orderNumber: resume.orderNumber, orderState: resume.orderState, invoiceNumber: resume.invoiceNumber });
      status.history.push(...(resume.history as unknown as StepRecord[]));
    } else {
      await beforeConfirm.run(async () => {
        const d = await run('load deal', () => steps.loadDeal({ dealId, ...crm }));
        const customer = await run('ensure customer', () => steps.ensureCustomer({ accountId: d.accountId, ...crm }));
        if (customer.created) {
          pending.push({ undo: `deactivate customer ${d.accountId}`, step: 'ensure customer', run: () => undos.deactivateCustomer({ targetKey: customer.targetKey }) });
        }
        const products = await run('ensure products', () => steps.ensureProducts({ productIds: d.lines.map((l) => l.productId), ...crm }));
        if (products.createdTargetKeys.length) {
          pending.push({ undo: `archive products ${products.createdTargetKeys.join(', ')}`, step: 'ensure products', run: () => undos.archiveProducts({ targetKeys: products.createdTargetKeys }) });
        }
        const order = await run('create draft order', () => steps.createDraftOrder({ deal: d, orderDate: now().slice(0, 10) }));
        status.orderKey = order.orderKey;
        status.orderState = 'draft';
        pending.push({ undo: `cancel draft order ${order.externalKey}`, step: 'create draft order', run: () => undos.cancelDraftOrder({ orderKey: order.orderKey }) });

        const reasons = approvalReasons(d, customer.created, limits);
        if (reasons.length) {
          const plan = { dealId, orderKey: order.orderKey, customer: d.accountId, currency: d.currency, amountMinor: d.amountMinor, lines: d.lines };
          const decision: ApprovalOutcome = await run('approval', async () => {
            status.waitingFor = `approval of order ${order.externalKey}: ${reasons.join('; ')}`;
            // Approval services find waiting gates by SyncStatus = "awaiting-approval", like
            // syncs' (approvals/service.ts); cleared once decided. Patched: older runs never set it.
            const listed = patched(LIST_APPROVALS);
            if (listed) upsertSearchAttributes([{ key: SA_STATUS, value: 'awaiting-approval' }]);
            try {
              return await gate.request({
                gate: 'order', planHash: planHash(plan), reasons, policy: limits.policy,
                summary: `${d.lines.length} line(s), ${formatMoney(d.amountMinor, d.currency)} for customer ${d.accountId} (deal ${dealId})`,
              });
            } finally {
              status.waitingFor = null;
              if (listed) upsertSearchAttributes([{ key: SA_STATUS, value: null }]);
            }
          });
          if (!decision.approved) {
            throw ApplicationFailure.nonRetryable(`approval rejected${decision.decidedBy ? ` by ${decision.decidedBy}` : ' (timeout)'}: ${decision.comment ?? 'no comment'}`, REJECTED);
          }
        }
        const quoted = await run('quote order', () => steps.quoteOrder({ orderKey: order.orderKey }));
        status.orderNumber = quoted.number;
        status.orderState = quoted.state;
        // Confirmation is not interrupted half-way: once Tryton processes the sale it stays.
        const conf = await run('confirm order', () => CancellationScope.nonCancellable(() => steps.confirmOrder({ orderKey: order.orderKey })));
        confirmed = true;
        status.orderNumber = conf.number ?? status.orderNumber;
        status.orderState = conf.state;
      });
      pending.length = 0; // point of no return: a confirmed order is a commitment, not undone

      await run('write back order', () => steps.writeBackOrder({ dealId, orderNumber: status.orderNumber, orderStatus: status.orderState ?? 'processing', ...crm }));
    }
    const orderKey = status.orderKey!;
    const pollMs = durationMs(input.waits.pollEvery);
    const waitFor = async (
      step: OrderStep,
      why: string,
      done: (i: InvoiceState | null) => boolean,
      within: string,
      phase: 'wait-invoice' | 'wait-payment',
      invoiceSoFar: InvoiceState | null,
    ): Promise<InvoiceState | null> =>
      run(step, async () => {
        const deadline = resume?.phase === phase ? resume.deadlineMs : Date.now() + durationMs(within);
        try {
          for (;;) {
            const inv = await steps.checkInvoice({ orderKey });
            if (done(inv)) return inv;
            const left = deadline - Date.now();
            if (left <= 0) return null;
            if (workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > input.waits.maxHistoryEvents) {
              // Waiting for weeks polls many times: carry on in a fresh run to keep history small.
              await condition(allHandlersFinished);
              await continueAsNew<typeof orderToCash>({
                ...rawInput,
                resume: {
                  phase, orderKey, orderNumber: status.orderNumber, orderState: status.orderState, invoiceNumber: status.invoiceNumber,
                  invoice: invoiceSoFar as unknown as Record<string, unknown> | null, deadlineMs: deadline,
                  history: status.history.slice(-40) as unknown as Record<string, unknown>[],
                },
              });
            }
            status.waitingFor = `${why} (checked ${now()}; next check within ${input.waits.pollEvery}, or on an erpEvent signal)`;
            const seen = erpEvents;
            await condition(() => erpEvents !== seen, Math.min(left, pollMs));
          }
        } finally {
          status.waitingFor = null;
        }
      });

    let invoice: InvoiceState | null;
    if (resume?.phase === 'wait-payment' && resume.invoice) {
      invoice = resume.invoice as unknown as InvoiceState;
    } else {
      invoice = await waitFor('wait for invoice', 'the invoice to be posted in the ERP', (i) => i?.posted === true, input.waits.invoiceWithin, 'wait-invoice', null);
      if (!invoice) return await stopWaiting('invoice-timeout', `no posted invoice within ${input.waits.invoiceWithin}`);
      status.invoiceNumber = invoice.number;
      const posted = invoice;
      await run('write back invoice', () => steps.writeBackInvoice({ dealId, invoice: posted, ...crm }));
    }
    const paid = invoice.paid
      ? invoice
      : await waitFor('wait for payment', `payment of invoice ${invoice.number ?? invoice.invoiceKey}`, (i) => i?.paid === true, input.waits.paymentWithin, 'wait-payment', invoice);
    if (!paid) return await stopWaiting('payment-timeout', `invoice ${invoice.number ?? ''} not paid within ${input.waits.paymentWithin}`);
    await run('write back payment', () => steps.writeBackPayment({ dealId, paymentStatus: 'paid', ...crm }));
    status.paymentStatus = 'paid';
    status.step = 'done';
    return result('paid', null);
  } catch (err) {
    if (err instanceof ContinueAsNew) throw err;
    const failedStep = status.step;
    note(failedStep, 'failed', messageOf(err));
    const lostBy = lost as { by?: string; reason?: string } | null; // set by the signal handler
    const outcome: OrderOutcome = isCancellation(err) ? (lostBy ? 'lost' : 'cancelled') : typeOf(err) === REJECTED ? 'rejected' : 'failed';
    const reason =
      outcome === 'lost' ? `deal lost${lostBy?.by ? ` (${lostBy.by})` : ''}: ${lostBy?.reason ?? 'no reason given'}`
      : outcome === 'cancelled' ? 'order-to-cash was cancelled'
      : `${failedStep}: ${messageOf(err)}`;
    await compensate(reason);
    const failure = { step: failedStep, type: outcome === 'failed' ? typeOf(err) : outcome, message: reason };
    const res = result(outcome, failure);
    if (outcome === 'cancelled') throw err;
    if (outcome === 'failed') {
      const undone = status.compensations.filter((c) => c.ok).length;
      throw ApplicationFailure.create({
        type: failure.type, nonRetryable: true, details: [res],
        message: `${reason} (compensations: ${undone} ok, ${status.compensations.length - undone} failed)`,
      });
    }
    return res;
  }

  async function stopWaiting(outcome: OrderOutcome, reason: string): Promise<OrderToCashResult> {
    await CancellationScope.nonCancellable(() => undos.recordDealFailure({ dealId, reason, orderStatus: null, ...crm }));
    return result(outcome, { step: status.step, type: outcome, message: reason });
  }

  /** Undo in reverse order; each undo is retried by its activity policy, a failure is reported. */
  async function compensate(reason: string): Promise<void> {
    await CancellationScope.nonCancellable(async () => {
      status.step = 'compensating';
      const all: Undo[] = [
        ...[...pending].reverse(),
        { undo: 'write failure reason to the deal', step: 'deal', run: () => undos.recordDealFailure({ dealId, reason, orderStatus: status.orderKey && !confirmed ? 'cancelled' : null, ...crm }) },
      ];
      for (const u of all) {
        try {
          for (let round = 1; ; round++) {
            try {
              await u.run();
              break;
            } catch (e) {
              if (round >= UNDO_ROUNDS) throw e;
              note(u.step, 'compensation failed', `${u.undo} (round ${round} of ${UNDO_ROUNDS}, retrying): ${messageOf(e)}`);
              await sleep(UNDO_PAUSE);
            }
          }
          status.compensations.push({ undo: u.undo, ok: true });
          note(u.step, 'compensated', u.undo);
        } catch (e) {
          status.compensations.push({ undo: u.undo, ok: false, error: messageOf(e) });
          note(u.step, 'compensation failed', `${u.undo}: ${messageOf(e)}`);
          log.error('compensation failed', { dealId, undo: u.undo, error: messageOf(e) });
        }
      }
      if (status.orderKey && !confirmed) status.orderState = status.compensations.some((c) => c.undo.startsWith('cancel draft') && c.ok) ? 'cancelled' : status.orderState;
    });
  }

  function result(outcome: OrderOutcome, failure: OrderToCashResult['failure']): OrderToCashResult {
    status.outcome = outcome;
    return {
      dealId, outcome, orderKey: status.orderKey, orderNumber: status.orderNumber, invoiceNumber: status.invoiceNumber, failure,
      compensations: [...status.compensations], history: [...status.history],
    };
  }
}

function rootCause(err: unknown): unknown {
  return err instanceof ActivityFailure && err.cause ? err.cause : err;
}
function typeOf(err: unknown): string {
  const c = rootCause(err);
  return c instanceof ApplicationFailure && c.type ? c.type : 'Transient';
}
function messageOf(err: unknown): string {
  const c = rootCause(err);
  return c instanceof Error ? c.message : String(c);
}
