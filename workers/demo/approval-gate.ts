/**
 * The approval part of `npm start`: raise one demo product's CRM price above the `demo-products`
 * pipeline's limit (config/pipelines/demo-products.json `approval`), start the sync, wait until
 * its page stops at the gate, and hand back the exact CLI command that approves it. The sync's
 * outcome (approved and written, or rejected) arrives later, whenever a person decides.
 */
import Database from 'better-sqlite3';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { pendingApprovalQuery, type DecisionRecord, type PendingApproval } from '../../contracts/approval';
import { TASK_QUEUES } from '../../contracts/queues';
import type { SyncResult } from '../../contracts/sync';
import { demoPaths } from '../../demo/seed';
import { formatMoney, fromMinorUnits, toMinorUnits } from '../../mappings/dsl/money';
import { failureLine } from './outcome';

export const GATED_PIPELINE = 'demo-products';
/** How much the demo raises the price: above the pipeline's 20 % limit. */
const RAISE = 1.5;

const shellQuote = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/**
 * The copy-pasteable command that approves `pending` on workflow `workflowId`, through the
 * project's pinned Temporal CLI (`npm run temporal:cli --`). `--address`/`--namespace` are added
 * only when they are not the CLI's defaults.
 */
export function approveCommand(workflowId: string, pending: Pick<PendingApproval, 'planHash' | 'approvers'>, target: { address: string; namespace: string }, comment = 'approved from the demo'): string {
  const input = JSON.stringify({ approver: pending.approvers[0] ?? 'approver', planHash: pending.planHash, comment });
  const where = [
    ...(target.address !== '127.0.0.1:7233' && target.address !== 'localhost:7233' ? ['--address', target.address] : []),
    ...(target.namespace !== 'default' ? ['--namespace', target.namespace] : []),
  ];
  return ['npm run temporal:cli --', 'workflow update execute', ...where, '-w', shellQuote(workflowId), '--name approve', '--input', shellQuote(input)].join(' ');
}

/** The lines that present a waiting gate: what waits, why, and the command that approves it. */
export function gateLines(workflowId: string, pending: PendingApproval, target: { address: string; namespace: string }): string[] {
  return [
    `Approval needed: ${pending.gate} (workflow ${workflowId}) waits for ${pending.approvers.join(' or ')}:`,
    ...pending.reasons.map((r) => `  ${r}`),
    `  approve it (copy and paste):`,
    `  ${approveCommand(workflowId, pending, target)}`,
    `  (or reject: the same with --name reject; the sync goes on when a decision arrives)`,
  ];
}

/** Poll the `pendingApproval` query until the workflow waits at a gate (null if it ends first). */
export async function waitForGate(handle: WorkflowHandle, everyMs = 250): Promise<PendingApproval | null> {
  let ended = false;
  const end = handle.result().then(
    () => (ended = true),
    () => (ended = true),
  );
  void end;
  for (;;) {
    const state = await handle.query(pendingApprovalQuery).catch(() => null);
    if (state?.pending) return state.pending;
    if (ended) return null;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** What the demo prints once the gated sync ends. */
export function outcomeLine(r: SyncResult): string {
  const decided = (r.approvals as Partial<DecisionRecord>[]).filter((d) => d.accepted !== false && d.decision !== 'escalate').at(-1);
  const who = decided ? `${decided.decision === 'approve' ? 'approved' : 'rejected'} by ${decided.approver ?? 'nobody'} via ${decided.via ?? '?'} at ${decided.at ?? '?'}` : 'decided';
  if (r.status === 'rejected') return `Approval: ${r.pipeline} ${who}; nothing of that page was written (the next run asks again)`;
  return `Approval: ${r.pipeline} ${who}; the sync went on: ${r.totals.updated} updated, ${r.totals.unchanged} unchanged, status ${r.status}`;
}

export interface GateDemo {
  workflowId: string;
  /** What to print now: the price change, the gate and the approving command. */
  lines: string[];
  /** The line to print when the sync ends (approved and written, rejected, or failed). */
  outcome: Promise<string>;
}

/**
 * Raise the price of one product the ERP already has by 50 %, start `demo-products` and wait for
 * its gate. Returns null when there is no such product (nothing synced yet).
 */
export async function runGateDemo(client: Client, dataDir: string, stamp: string, target: { address: string; namespace: string }): Promise<GateDemo | null> {
  const paths = demoPaths(dataDir);
  const erp = new Database(paths.erp, { readonly: true });
  const keys = (erp.prepare("SELECT external_key k FROM products WHERE active = 1 AND external_key GLOB '[0-9]*' ORDER BY id LIMIT 50").all() as { k: string }[]).map((r) => Number(r.k));
  erp.close();
  const crm = new Database(paths.crm);
  let picked: { id: number; name: string; beforeMinor: number; afterMinor: number; currency: string } | null = null;
  try {
    const find = crm.prepare("SELECT id, name, price, currency FROM products WHERE id = ? AND price GLOB '[0-9]*.[0-9][0-9]' AND CAST(price AS REAL) > 0");
    for (const id of keys) {
      const row = find.get(id) as { id: number; name: string; price: string; currency: string } | undefined;
      if (!row) continue;
      const beforeMinor = toMinorUnits(row.price, row.currency);
      const afterMinor = Math.round(beforeMinor * RAISE);
      crm.prepare('UPDATE products SET price = ?, updated_at = ? WHERE id = ?').run(fromMinorUnits(afterMinor, row.currency), new Date().toISOString(), row.id);
      picked = { id: row.id, name: row.name, beforeMinor, afterMinor, currency: row.currency };
      break;
    }
  } finally {
    crm.close();
  }
  if (!picked) return null;

  const workflowId = `demo:${GATED_PIPELINE}:${stamp}:price-change`;
  const handle = await client.workflow.start('syncPipeline', { taskQueue: TASK_QUEUES.sql, workflowId, args: [{ pipeline: GATED_PIPELINE }] });
  const outcome = handle.result().then(
    (r) => outcomeLine(r as SyncResult),
    (err: unknown) => failureLine(GATED_PIPELINE, workflowId, err),
  );
  const lines = [`Price change in the CRM: product #${picked.id} "${picked.name}" ${formatMoney(picked.beforeMinor, picked.currency)} → ${formatMoney(picked.afterMinor, picked.currency)} (+${Math.round((RAISE - 1) * 100)}%, above the ${GATED_PIPELINE} limit of 20%)`];
  const pending = await waitForGate(handle);
  if (pending) lines.push(...gateLines(workflowId, pending, target));
  else lines.push(`  ${GATED_PIPELINE} ended without stopping at its gate`);
  return { workflowId, lines, outcome };
}
