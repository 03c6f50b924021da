/**
 * How long the embedded SQLite state store (better-sqlite3: synchronous) blocks the activity
 * worker's event loop during one large page: the store calls a page's activities make (stage the
 * raw page and the plan, load it, find and upsert links, quarantine and release, the dry-run plan
 * items, run events, checkpoint, drop), each timed alone (a synchronous call is a stall of that
 * length), and the longest gap between ticks of a 5 ms timer running beside them (what a heartbeat
 * or another activity waiting on the loop sees).
 *   npx tsx bench/sqlite-stall.bench.ts [--page-size 5000] [--pages 5] [--quarantined 0.05]
 * The figures compare with the activities' heartbeat timeout (15 s, workflows/options.ts) and
 * their heartbeat interval (3 s).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { toColumnar } from '../activities/page-codec';
import type { SourceRecord } from '../contracts/connector';
import type { LinkUpsert, PlanItem, QuarantineEntry, RunEvent } from '../contracts/state-store';
import { openStateStore } from '../state/open';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : Number.NaN;
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

const PAGE_SIZE = arg('page-size', 5000);
const PAGES = arg('pages', 5);
const QUARANTINED = arg('quarantined', 0.05);

function records(seq: number): SourceRecord[] {
  return Array.from({ length: PAGE_SIZE }, (_, i) => {
    const id = seq * PAGE_SIZE + i;
    return {
      key: String(id),
      modifiedAt: new Date(1_700_000_000_000 + id).toISOString(),
      data: {
        id, company_name: `Company ${id} GmbH`, email: `billing${id}@example.test`, phone: `+4930${String(id).padStart(7, '0')}`,
        street: `Hauptstraße ${id % 200}`, city: 'Berlin', postal_code: String(10_000 + (id % 9000)), country: 'Germany',
        vat_id: `DE${String(100_000_000 + id)}`, credit_limit: String(1000 + (id % 50) * 100), tier: id % 3 ? 'SMB' : 'Enterprise', status: 'active',
        updated_at: new Date(1_700_000_000_000 + id).toISOString(),
      },
    };
  });
}

const FIELDS = ['name', 'email', 'phone', 'address.street', 'address.city', 'address.postalCode', 'address.countryCode', 'vatNumber', 'creditLimit.amountMinor', 'segment', 'active'];

async function main(): Promise<void> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'sqlite-stall-'));
  const store = await openStateStore(path.join(tmp, 'state.db'));
  // The loop's own view: the longest gap between ticks of a 5 ms timer, minus its 5 ms.
  let last = performance.now();
  let longestGap = 0;
  const tick = setInterval(() => {
    const now = performance.now();
    longestGap = Math.max(longestGap, now - last - 5);
    last = now;
  }, 5);
  const worst = new Map<string, number[]>();
  const time = async <T>(step: string, fn: () => Promise<T>): Promise<T> => {
    await new Promise((r) => setImmediate(r)); // let the timer run between calls, as activities do
    const t0 = performance.now();
    const out = await fn();
    const list = worst.get(step) ?? [];
    list.push(performance.now() - t0);
    worst.set(step, list);
    return out;
  };
  const pageMs: number[] = [];
  try {
    await store.savePlan({ planId: 'plan-1', kind: 'pipeline', name: 'bench', syncId: 'bench', status: 'planning', planHash: null, counts: {}, meta: {} });
    for (let seq = 0; seq < PAGES; seq++) {
      const t0 = performance.now();
      const page = records(seq);
      const syncId = 'bench';
      const rawId = await time('stagePage (raw, columnar)', () => store.stagePage(syncId, `${seq}/raw`, toColumnar(page)));
      await time('loadPage (raw)', () => store.loadPage(rawId));
      const bad = Math.round(PAGE_SIZE * QUARANTINED);
      const q: QuarantineEntry[] = page.slice(0, bad).map((r) => ({ pipeline: 'bench', syncId, sourceKey: r.key, stage: 'map', field: 'phone', rule: 'phone', reason: 'not a phone number', record: r.data }));
      await time(`quarantine (${bad})`, () => store.quarantine(q));
      const ops = page.slice(bad).map((r, i) => ({ index: i, op: 'create', sourceKey: r.key, hash: `h${r.key}`, fields: Object.fromEntries(FIELDS.map((f) => [f, r.data.company_name])) }));
      const planId = await time('stagePage (plan)', () => store.stagePage(syncId, `${seq}/plan`, { ops, fields: ops.map((o) => o.fields) }));
      await time('loadPage (plan)', () => store.loadPage(planId));
      const keys = ops.map((o) => o.sourceKey);
      await time('findLinks', () => store.findLinks('bench', 'crm', keys));
      const links: LinkUpsert[] = ops.map((o) => ({
        keys: [{ side: 'crm', system: 'demo-crm', entity: 'accounts', key: o.sourceKey }, { side: 'erp', system: 'demo-erp', entity: 'customers', key: `c${o.sourceKey}` }],
        fields: Object.fromEntries(FIELDS.map((f) => [f, { hash: `h${o.sourceKey}${f}`, value: o.fields[f], origin: 'crm' }])),
      }));
      await time(`upsertLinks (${links.length})`, () => store.upsertLinks('bench', links));
      await time('releaseQuarantine', () => store.releaseQuarantine('bench', keys));
      const items: PlanItem[] = ops.map((o, i) => ({ seq: seq * 1_000_000 + i, key: o.sourceKey, op: 'create', data: { fields: o.fields, afterHash: o.hash } }));
      await time(`addPlanItems (${items.length}, dry run)`, () => store.addPlanItems('plan-1', items));
      const events: RunEvent[] = [{ kind: 'page', at: new Date().toISOString(), data: { step: 'preparePage', seq, ms: 1, count: PAGE_SIZE } }];
      await time('addRunEvents', () => store.addRunEvents(syncId, events));
      await time('setCheckpoint', () => store.setCheckpoint('bench', { modifiedAt: page.at(-1)!.modifiedAt, key: page.at(-1)!.key }, syncId));
      await time('dropPages', () => store.dropPages(syncId, `${seq}/`));
      pageMs.push(performance.now() - t0);
    }
    await new Promise((r) => setTimeout(r, 20));
  } finally {
    clearInterval(tick);
    await store.close();
    rmSync(tmp, { recursive: true, force: true });
  }
  const rows = [...worst.entries()].map(([step, ms]) => ({ step, max: Math.max(...ms), median: ms.sort((a, b) => a - b)[Math.floor(ms.length / 2)]! }));
  rows.sort((a, b) => b.max - a.max);
  console.log(`SQLite state store, ${PAGES} pages of ${PAGE_SIZE} records (${Math.round(QUARANTINED * 100)}% quarantined), load ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} cores`);
  console.log('store call (synchronous: one stall each)      max ms   median ms');
  for (const r of rows) console.log(`  ${r.step.padEnd(42)} ${r.max.toFixed(1).padStart(7)} ${r.median.toFixed(1).padStart(10)}`);
  console.log(`longest event-loop stall seen by a 5 ms timer: ${longestGap.toFixed(1)} ms`);
  console.log(`store time per page: median ${pageMs.sort((a, b) => a - b)[Math.floor(pageMs.length / 2)]!.toFixed(0)} ms`);
  console.log(`heartbeat timeout 15000 ms: the longest stall is ${((longestGap / 15_000) * 100).toFixed(1)}% of it`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
