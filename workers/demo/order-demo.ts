/**
 * The order part of `npm start -- --erp tryton`: one won CRM deal through `orderToCash` against
 * the real Tryton the project's script started, printing each step as the saga reports it. The
 * accountant's part (posting the invoice, registering the payment), which the connector's
 * least-privilege user cannot do, is done as the Tryton admin, as `npm run tryton:invoice` does,
 * followed by the `erpEvent` signal so the saga looks at once instead of at its next poll.
 */
import Database from 'better-sqlite3';
import type { Client } from '@temporalio/client';
import { erpEventSignal, orderStatusQuery, orderWorkflowId, type OrderStatus, type OrderToCashResult } from '../../contracts/orders';
import { TASK_QUEUES } from '../../contracts/queues';
import { seedDeals } from '../../demo/deals';
import { demoPaths } from '../../demo/seed';
import type { TrytonInstance } from '../../scripts/tryton';
import { adminClient, dealInvoices, payInvoice, postInvoices } from '../../scripts/tryton/admin-helpers';
import { failureLine } from './outcome';

/** The environment config/systems.json's `tryton` system reads. */
export function trytonEnv(t: Pick<TrytonInstance, 'url' | 'database' | 'user' | 'password'>): NodeJS.ProcessEnv {
  return { TRYTON_URL: t.url, TRYTON_DATABASE: t.database, TRYTON_USER: t.user, TRYTON_SYNC_PASSWORD: t.password };
}

/** The first won deal of the demo CRM, seeding deals (ids 1..30) when it has none. */
function wonDeal(crmPath: string): number | null {
  const db = new Database(crmPath);
  let count: number;
  try {
    count = (db.prepare('SELECT count(*) c FROM deals').get() as { c: number }).c;
  } finally {
    db.close();
  }
  if (count === 0) seedDeals(crmPath, 30);
  const ro = new Database(crmPath, { readonly: true });
  try {
    return (ro.prepare("SELECT id FROM deals WHERE stage = 'won' ORDER BY id LIMIT 1").get() as { id: number } | undefined)?.id ?? null;
  } finally {
    ro.close();
  }
}

/**
 * Run one won deal to cash; `print` gets one line per step as it happens. Resolves with the
 * saga's result, or null when it failed (the failure printed as one line).
 */
export async function runOrderDemo(client: Client, dataDir: string, tryton: TrytonInstance, print: (line: string) => void): Promise<OrderToCashResult | null> {
  const dealId = wonDeal(demoPaths(dataDir).crm);
  if (dealId === null) {
    print('Order to cash: the demo CRM has no won deal');
    return null;
  }
  const workflowId = orderWorkflowId(String(dealId));
  print(`Order to cash: won deal ${dealId} → Tryton ${tryton.url} (database ${tryton.database}), workflow ${workflowId}`);
  const handle = await client.workflow.start('orderToCash', {
    taskQueue: TASK_QUEUES.orders,
    workflowId,
    // The demo's approval gate is the price change above; this order goes through without one.
    args: [{ dealId: String(dealId), approval: { newCustomer: false, maxAmountMinor: null, maxDiscountPercent: null } }],
  });
  let done = false;
  const result = handle.result().then(
    (r) => r as OrderToCashResult,
    (err: unknown) => {
      print(failureLine(`order-to-cash deal ${dealId}`, workflowId, err));
      return null;
    },
  );
  void result.finally(() => (done = true));

  const admin = adminClient(tryton);
  let shown = 0;
  let posted = false;
  let paid = false;
  const show = (s: OrderStatus) => {
    for (const h of s.history.slice(shown)) {
      if (h.status === 'started') continue;
      print(`  ${h.step.padEnd(20)} ${h.status}${h.detail ? `: ${h.detail}` : ''}`);
    }
    shown = s.history.length;
  };
  try {
    while (!done) {
      const s = await handle.query(orderStatusQuery).catch(() => null);
      if (s) {
        show(s);
        if (s.step === 'wait for invoice' && !posted) {
          const { invoices } = await dealInvoices(admin, String(dealId));
          const inv = invoices[0];
          if (inv) {
            if (inv.state === 'draft' || inv.state === 'validated') await postInvoices(admin, [inv.id]);
            posted = true;
            print(`  (as the Tryton accountant: invoice of sale ${s.orderNumber ?? ''} posted)`);
            await handle.signal(erpEventSignal, { kind: 'invoice-posted' });
          }
        }
        if (s.step === 'wait for payment' && !paid) {
          const { invoices } = await dealInvoices(admin, String(dealId));
          const inv = invoices[0];
          if (inv && inv.state === 'posted') {
            await payInvoice(admin, inv.id);
            paid = true;
            print(`  (as the Tryton accountant: invoice ${inv.number ?? inv.id} paid, ${inv.total})`);
            await handle.signal(erpEventSignal, { kind: 'invoice-paid' });
          }
        }
      }
      await new Promise((r) => setTimeout(r, 300));
    }
  } finally {
    await admin.logout().catch(() => undefined);
  }
  const r = await result;
  const last = await handle.query(orderStatusQuery).catch(() => null);
  if (last) show(last);
  if (r) print(`Order to cash: deal ${dealId} ${r.outcome}: order ${r.orderNumber ?? '-'}, invoice ${r.invoiceNumber ?? '-'}${r.failure ? ` (${r.failure.step}: ${r.failure.message})` : ''}`);
  return r;
}
