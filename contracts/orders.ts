import { formatMoney } from '../mappings/dsl/money';
import { defineQuery, defineSignal } from '@temporalio/workflow';
import { z } from 'zod';
import { ApprovalPolicyFieldsSchema, DurationSchema, policyRefusal, type ApprovalPolicy, type ApprovalState } from './approval';

/** `order-to-cash:<dealId>`: one saga per won deal, so a deal seen twice starts one workflow. */
export const orderWorkflowId = (dealId: string): string => `order-to-cash:${dealId}`;

/** `order-to-cash:<crm>:<dealId>`: one saga per won deal of a named CRM (e.g. a Salesforce opportunity). */
export const crmOrderWorkflowId = (crm: string, dealId: string): string => `order-to-cash:${crm}:${dealId}`;

/** A CRM of config/order-crms.json (e.g. "salesforce"), where a saga reads its deal and writes back. */
export const OrderCrmNameSchema = z
  .string({ error: 'expected the name of a CRM in config/order-crms.json, e.g. "salesforce"' })
  .regex(/^[a-z][a-z0-9-]{0,39}$/, 'expected a CRM name of config/order-crms.json: lower-case letters, digits and "-", e.g. "salesforce"');

export const DealIdSchema = z
  .string({ error: 'expected the CRM deal id as a string, e.g. "42"' })
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'expected letters, digits, "-" or "_", e.g. "42"');

/** When an order needs a human: any limit crossed closes the gate. */
export interface ApprovalLimits {
  /** Net order amount above which approval is needed (minor units, deal currency); null = no limit. */
  maxAmountMinor: number | null;
  /** Deal or line discount (percent) above which approval is needed; null = no limit. */
  maxDiscountPercent: number | null;
  /** Orders for a customer created by this saga need approval. */
  newCustomer: boolean;
  policy: ApprovalPolicy;
}

/** The limits and policy an order gets for every field its input leaves out. */
export const DEFAULT_APPROVAL: ApprovalLimits = {
  maxAmountMinor: 1_000_000,
  maxDiscountPercent: 15,
  newCustomer: true,
  policy: { approvers: ['sales-manager'], timeout: '2 days', onTimeout: { action: 'escalate', approvers: ['sales-director'], timeout: '1 day' } },
};

/**
 * Approval limits as given in a workflow input: every field optional, omitted ones take
 * DEFAULT_APPROVAL's value (a partial `policy` too); `null` for a limit means "no limit".
 */
export const ApprovalLimitsSchema = z
  .object({
    maxAmountMinor: z.number().int().min(0).nullable().optional(),
    maxDiscountPercent: z.number().min(0).max(100).nullable().optional(),
    newCustomer: z.boolean().optional(),
    policy: ApprovalPolicyFieldsSchema.partial().optional(),
  })
  .strict()
  .superRefine((a, ctx) => {
    const refusal = a.policy ? policyRefusal(a.policy) : null;
    if (refusal) ctx.addIssue({ code: 'custom', path: ['policy', 'issuers'], message: refusal });
  })
  .transform((a): ApprovalLimits => {
    const p = a.policy ?? {};
    return {
      maxAmountMinor: a.maxAmountMinor === undefined ? DEFAULT_APPROVAL.maxAmountMinor : a.maxAmountMinor,
      maxDiscountPercent: a.maxDiscountPercent === undefined ? DEFAULT_APPROVAL.maxDiscountPercent : a.maxDiscountPercent,
      newCustomer: a.newCustomer ?? DEFAULT_APPROVAL.newCustomer,
      policy: {
        approvers: p.approvers ?? DEFAULT_APPROVAL.policy.approvers,
        timeout: p.timeout ?? DEFAULT_APPROVAL.policy.timeout,
        onTimeout: p.onTimeout ?? DEFAULT_APPROVAL.policy.onTimeout,
        ...(p.require ? { require: p.require } : {}),
        ...(p.issuers ? { issuers: p.issuers } : {}),
        ...(p.tokenLifetime ? { tokenLifetime: p.tokenLifetime } : {}),
      },
    };
  });

export const OrderToCashInputSchema = z
  .object({
    dealId: DealIdSchema,
    /**
     * The CRM that holds the deal, by its name in config/order-crms.json (e.g. "salesforce": the
     * deal is an Opportunity Id). Omitted: the demo CRM's deals table.
     */
    crm: OrderCrmNameSchema.optional(),
    /** Approval limits and policy; omitted (or omitted fields) take DEFAULT_APPROVAL's values. */
    approval: ApprovalLimitsSchema.optional(),
    /** Durable waits for invoice and payment (polled; an `erpEvent` signal polls at once). */
    waits: z
      .object({
        pollEvery: DurationSchema.default('4 hours'),
        invoiceWithin: DurationSchema.default('30 days'),
        paymentWithin: DurationSchema.default('60 days'),
        /** Continue-as-new while waiting once a run's history passes this many events. */
        maxHistoryEvents: z.number().int().min(50).max(10_000).default(1500),
      })
      .strict()
      .prefault({}),
    /** Internal: state carried by continue-as-new while waiting for the invoice or payment. */
    resume: z
      .object({
        phase: z.enum(['wait-invoice', 'wait-payment']),
        orderKey: z.string(),
        orderNumber: z.string().nullable(),
        orderState: z.string().nullable(),
        invoiceNumber: z.string().nullable(),
        /** The posted invoice, when waiting for its payment. */
        invoice: z.record(z.string(), z.unknown()).nullable(),
        /** Workflow time (ms) when the current wait gives up. */
        deadlineMs: z.number(),
        /** The latest step records, so `status` keeps its story across runs. */
        history: z.array(z.record(z.string(), z.unknown())),
      })
      .optional(),
  })
  .strict();
export type OrderToCashInput = z.input<typeof OrderToCashInputSchema>;
export type ParsedOrderToCashInput = z.infer<typeof OrderToCashInputSchema>;


/** A won deal as the CRM holds it, read by the `loadDeal` activity. */
export interface DealSnapshot {
  dealId: string;
  accountId: string;
  name: string;
  stage: string;
  currency: string;
  amountMinor: number;
  discountPercent: number;
  lines: { productId: string; quantity: number; unitPriceMinor: number; discountPercent: number }[];
}

/** Pure: why this order needs approval (empty = no gate). */
export function approvalReasons(deal: DealSnapshot, newCustomer: boolean, limits: ApprovalLimits): string[] {
  const reasons: string[] = [];
  const money = (m: number) => formatMoney(m, deal.currency);
  if (limits.maxAmountMinor !== null && limits.maxAmountMinor !== undefined && deal.amountMinor > limits.maxAmountMinor) {
    reasons.push(`amount ${money(deal.amountMinor)} above limit ${money(limits.maxAmountMinor)}`);
  }
  const discount = Math.max(deal.discountPercent, ...deal.lines.map((l) => l.discountPercent));
  if (limits.maxDiscountPercent !== null && limits.maxDiscountPercent !== undefined && discount > limits.maxDiscountPercent) {
    reasons.push(`discount ${discount}% above limit ${limits.maxDiscountPercent}%`);
  }
  if (limits.newCustomer && newCustomer) reasons.push('new customer created for this order');
  return reasons;
}

export const ORDER_STEPS = [
  'load deal', 'ensure customer', 'ensure products', 'create draft order', 'approval', 'quote order', 'confirm order',
  'write back order', 'wait for invoice', 'write back invoice', 'wait for payment', 'write back payment',
] as const;
export type OrderStep = (typeof ORDER_STEPS)[number] | 'compensating' | 'done';

export interface StepRecord {
  step: string;
  status: 'started' | 'completed' | 'failed' | 'compensated' | 'compensation failed' | 'skipped';
  at: string;
  detail?: string;
}

export interface CompensationReport {
  undo: string;
  ok: boolean;
  error?: string;
}

export type OrderOutcome = 'paid' | 'rejected' | 'lost' | 'failed' | 'cancelled' | 'invoice-timeout' | 'payment-timeout';

export interface OrderStatus {
  dealId: string;
  step: OrderStep;
  waitingFor: string | null;
  orderKey: string | null;
  orderNumber: string | null;
  orderState: string | null;
  invoiceNumber: string | null;
  paymentStatus: string | null;
  history: StepRecord[];
  compensations: CompensationReport[];
  approval: ApprovalState;
  outcome: OrderOutcome | null;
}

export interface OrderToCashResult {
  dealId: string;
  outcome: OrderOutcome;
  orderKey: string | null;
  orderNumber: string | null;
  invoiceNumber: string | null;
  /** Set when the saga stopped early: the step and why. */
  failure: { step: string; type: string; message: string } | null;
  compensations: CompensationReport[];
  history: StepRecord[];
}

/** Pushed by ERPs that can notify: the saga polls at once instead of at the next interval. */
export interface ErpEvent {
  kind: 'invoice-posted' | 'invoice-paid' | 'order-changed' | (string & {});
  reference?: string;
}
export const erpEventSignal = defineSignal<[ErpEvent]>('erpEvent');
/** The deal was lost in the CRM: before confirmation the saga compensates; after, it is recorded. */
export const dealLostSignal = defineSignal<[{ by?: string; reason?: string }?]>('dealLost');
export const orderStatusQuery = defineQuery<OrderStatus>('status');

/** Input of `dealWatcher`: reads newly won deals since its checkpoint and starts their sagas. */
export const DealWatcherInputSchema = z
  .object({
    /** Checkpoint name in the state store. @default "deal-watcher" */
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/).default('deal-watcher'),
    /** Deals read per page. @default 100 */
    pageSize: z.number().int().min(1).max(1000).default(100),
    /** Approval limits passed to every saga started. */
    approval: ApprovalLimitsSchema.optional(),
  })
  .strict();
export type DealWatcherInput = z.input<typeof DealWatcherInputSchema>;

export interface DealWatcherResult {
  read: number;
  started: number;
  /** Deals whose saga already finished (never started twice). */
  alreadyClosed: number;
  pages: number;
}

/** Input of `opportunityWatcher`: reads newly won deals of a CRM (Salesforce opportunities) and starts their sagas. */
export const OpportunityWatcherInputSchema = z
  .object({
    /** The CRM in config/order-crms.json whose won deals are watched. @default "salesforce" */
    crm: OrderCrmNameSchema.default('salesforce'),
    /** Checkpoint name in the state store. @default "opportunity-watcher" */
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'expected lower-case letters, digits and "-", e.g. "opportunity-watcher"').default('opportunity-watcher'),
    /** Changed opportunities read per page (won ones among them start sagas). @default 200 */
    pageSize: z.number().int().min(1).max(2000).default(200),
    /** Approval limits passed to every saga started. */
    approval: ApprovalLimitsSchema.optional(),
  })
  .strict();
export type OpportunityWatcherInput = z.input<typeof OpportunityWatcherInputSchema>;

export interface OpportunityWatcherResult {
  /** Changed opportunities read. */
  read: number;
  /** Won ones among them. */
  won: number;
  started: number;
  /** Won opportunities whose saga already finished (never started twice). */
  alreadyClosed: number;
  pages: number;
}
