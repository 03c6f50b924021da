/**
 * The state store's share of a sync page, SQLite against PostgreSQL, side by side in one run:
 * what the activities of one page of `pageSize` records ask of the store (stage the raw page, load
 * it on another worker, stage the mapped page, read bindings, write bindings, commit the
 * checkpoint, drop the page) and of a two-way page (find links, upsert links, record writes, read
 * the ledger). Rounds alternate between the stores so machine load hits both alike.
 *   npx tsx bench/state-store.bench.ts [--pages 20] [--page-size 1000] [--rounds 3]
 * PostgreSQL is Debian's 15 on loopback, started here (scripts/postgres.ts) with fsync on, as in
 * production, and stopped by PID at the end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPostgresServer } from '../scripts/postgres';
import { openStateStore } from '../state/open';
import type { StateStore } from '../state/types';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : Number.NaN;
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

const PAGES = arg('pages', 20);
const PAGE_SIZE = arg('page-size', 1000);
const ROUNDS = arg('rounds', 3);

function page(seq: number) {
  return Array.from({ length: PAGE_SIZE }, (_, i) => {
    const id = seq * PAGE_SIZE + i;
    return { id: String(id), name: `Contact ${id}`, email: `c${id}@example.test`, phone: `+4930${String(id).padStart(7, '0')}`, city: 'Berlin', modifiedAt: new Date(1_700_000_000_000 + id).toISOString() };
  });
}

/** One-way: ms for `PAGES` pages through the store (worker `a` stages, worker `b` loads, as after a retry elsewhere). */
async function oneWay(a: StateStore, b: StateStore, run: number): Promise<number> {
  const t0 = performance.now();
  for (let seq = 0; seq < PAGES; seq++) {
    const records = page(seq);
    const syncId = `bench-${run}`;
    const raw = await a.stagePage(syncId, `${seq}/raw`, records);
    const loaded = await b.loadPage<typeof records>(raw);
    await b.stagePage(syncId, `${seq}/mapped`, loaded);
    const keys = loaded.map((r) => r.id);
    const bound = await b.getBindings(`p${run}`, keys);
    await b.putBindings(`p${run}`, loaded.filter((r) => !bound.has(r.id)).map((r) => ({ sourceKey: r.id, targetKey: `t${r.id}`, hash: `h${r.id}` })));
    await b.setCheckpoint(`p${run}`, { modifiedAt: loaded.at(-1)!.modifiedAt, key: loaded.at(-1)!.id }, syncId);
    await b.dropPages(syncId, `${seq}/`);
  }
  return performance.now() - t0;
}

/** Two-way: ms for `PAGES` pages of links (find, upsert, ledger). */
async function twoWay(s: StateStore, run: number): Promise<number> {
  const t0 = performance.now();
  const pair = `pair${run}`;
  for (let seq = 0; seq < PAGES; seq++) {
    const records = page(seq);
    const found = await s.findLinks(pair, 'crm', records.map((r) => r.id));
    const ids = await s.upsertLinks(
      pair,
      records.map((r) => ({
        keys: [{ side: 'crm', system: 'demo-crm', entity: 'accounts', key: r.id }, { side: 'erp', system: 'demo-erp', entity: 'customers', key: `e${r.id}` }],
        fields: { name: { hash: `h-${r.name}`, value: r.name, origin: 'crm' } },
      })),
    );
    await s.recordWrites(ids.map((linkId) => ({ linkId, side: 'erp', field: 'name', hash: 'x' })));
    await s.getLedger(ids);
    if (found.size > PAGE_SIZE) throw new Error('impossible');
  }
  return performance.now() - t0;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-state-'));
  const pg = await startPostgresServer({ durable: true });
  try {
    const pgUrl = await pg.createDatabase('bench_state');
    const sqliteFile = path.join(dir, 'state.db');
    const stores = {
      sqlite: [await openStateStore(sqliteFile), await openStateStore(sqliteFile)] as const,
      postgres: [await openStateStore(pgUrl), await openStateStore(pgUrl)] as const,
    };
    const times: Record<'sqlite' | 'postgres', { oneWay: number[]; twoWay: number[] }> = { sqlite: { oneWay: [], twoWay: [] }, postgres: { oneWay: [], twoWay: [] } };
    for (let run = 0; run < ROUNDS; run++) {
      for (const kind of run % 2 ? (['postgres', 'sqlite'] as const) : (['sqlite', 'postgres'] as const)) {
        const [a, b] = stores[kind];
        times[kind].oneWay.push(await oneWay(a, b, run));
        times[kind].twoWay.push(await twoWay(a, run));
      }
    }
    for (const [a, b] of Object.values(stores)) await Promise.all([a.close(), b.close()]);
    const best = (xs: number[]) => Math.min(...xs);
    const perPage = (ms: number) => `${(ms / PAGES).toFixed(1)} ms`;
    console.log(`state store per page of ${PAGE_SIZE} records (${PAGES} pages, best of ${ROUNDS} alternating rounds)`);
    console.log('path      sqlite      postgres    postgres/sqlite');
    for (const k of ['oneWay', 'twoWay'] as const) {
      const s = best(times.sqlite[k]);
      const p = best(times.postgres[k]);
      console.log(`${k.padEnd(9)} ${perPage(s).padEnd(11)} ${perPage(p).padEnd(11)} ${(p / s).toFixed(2)}`);
    }
  } finally {
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
