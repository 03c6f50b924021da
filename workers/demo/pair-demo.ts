import Database from 'better-sqlite3';
import type { Client } from '@temporalio/client';
import type { PairSideTotals, SyncPairResult } from '../../contracts/pair-sync';
import { TASK_QUEUES } from '../../contracts/queues';
import { demoPaths } from '../../demo/seed';
import { formatMoney } from '../../mappings/dsl/money';

const PAIR = 'demo-customers';

const wrote = (t: PairSideTotals | undefined) =>
  t ? `${t.created} created, ${t.updated} updated, ${t.archived} archived, ${t.echoes} echoes ignored, ${t.rejected} edits refused` : 'nothing';

/**
 * The two-way part of `npm start`: run the demo pair (CRM accounts ⇄ ERP customers), then edit
 * one record on each side and one on both, run it again and show what flowed where. Returns the
 * lines to print.
 */
export async function runPairDemo(client: Client, dataDir: string, stamp: string): Promise<string[]> {
  const out: string[] = [];
  const run = async (n: number): Promise<SyncPairResult> => {
    const handle = await client.workflow.start('syncPair', {
      taskQueue: TASK_QUEUES.sql,
      workflowId: `demo:pair:${PAIR}:${stamp}:${n}`,
      args: [{ pair: PAIR }],
    });
    return (await handle.result()) as SyncPairResult;
  };

  const first = await run(1);
  out.push(`Two-way pair ${PAIR} (demo CRM accounts ⇄ demo ERP customers; the CRM owns names and contact data, the ERP credit limit, VAT number and active):`);
  out.push(`  run 1: ${first.totals.linked} records linked by external key, ${first.totals.unchanged} unchanged`);
  for (const [side, t] of Object.entries(first.totals.sides)) out.push(`         ${side}: ${wrote(t)}`);

  // Three active customers both sides know: a CRM edit, an ERP edit, and the same field edited on both.
  const paths = demoPaths(dataDir);
  const erp = new Database(paths.erp);
  const crm = new Database(paths.crm);
  const when = new Date().toISOString();
  try {
    const picks = erp.prepare("SELECT external_key k FROM customers WHERE active = 1 AND external_key GLOB '[0-9]*' ORDER BY id LIMIT 3").all() as { k: string }[];
    if (picks.length < 3) return out;
    const [a, b, c] = picks.map((p) => Number(p.k)) as [number, number, number];
    const nameA = `Renamed in the CRM ${when.slice(11, 19)}`;
    crm.prepare('UPDATE accounts SET company_name = ?, updated_at = ? WHERE id = ?').run(nameA, when, a);
    const limitB = 1_234_500 + Math.floor(Math.random() * 1000) * 100;
    erp.prepare("UPDATE customers SET credit_limit_minor = ?, credit_currency = 'EUR', updated_at = ? WHERE external_key = ?").run(limitB, when, String(b));
    crm.prepare('UPDATE accounts SET company_name = ?, updated_at = ? WHERE id = ?').run(`Named in the CRM ${when.slice(11, 19)}`, when, c);
    erp.prepare('UPDATE customers SET name = ?, updated_at = ? WHERE external_key = ?').run(`Named in the ERP ${when.slice(11, 19)}`, when, String(c));
    out.push(`  edits: CRM account ${a} renamed; ERP credit limit of customer ${b} set to ${formatMoney(limitB, 'EUR')}; account ${c} renamed on both sides`);
  } finally {
    erp.close();
    crm.close();
  }

  const second = await run(2);
  out.push(`  run 2:`);
  for (const [side, t] of Object.entries(second.totals.sides)) out.push(`         ${side}: ${wrote(t)}`);
  for (const n of second.notices) {
    const values = Object.entries(n.values).map(([s, v]) => `${s} ${JSON.stringify(v)}`).join(' vs ');
    out.push(`         ${n.kind} on ${Object.entries(n.keys).map(([s, k]) => `${s} ${k}`).join(' / ')}, ${n.field}: ${values} → ${n.resolution}${n.policy ? ` (${n.policy})` : ''}`);
  }
  return out;
}
