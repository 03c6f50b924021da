import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSalesforceConnector, createSqliteApiGovernor } from '../connectors/salesforce';
import type { Cursor } from '../contracts/cursor';
import type { WriteRequest } from '../contracts/connector';
import { startSalesforceEmulator } from '../emulators/salesforce';

/**
 * Salesforce: the share of the emulator's daily allowance (100,000 requests, as an Enterprise
 * org's base) a sync of N records uses, and Bulk API 2.0 vs sObject Collections throughput,
 * measured side by side on fresh emulators through the connector (jsforce) with its governor.
 *   npx tsx bench/salesforce.bench.ts [--records 100000] [--page 10000]
 */

const TOKEN = '00DEm0000000001!bench';
const DAILY = 100_000;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : Number.NaN;
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

const N = arg('records', 100_000);
const PAGE = arg('page', 10_000);

const records = (from: number, count: number): WriteRequest[] =>
  Array.from({ length: count }, (_, k) => {
    const i = from + k;
    return { externalKey: `ERP-${i}`, fields: { name: `Customer ${i}`, phone: `+4930${1000000 + i}`, address: { city: `City ${i % 97}`, countryCode: 'DE' }, creditLimit: { amountMinor: (i % 500) * 100, currency: 'EUR' } } };
  });

interface Run {
  label: string;
  seconds: number;
  requests: number;
  ok: number;
}

async function write(label: string, bulkThreshold: number, dir: string): Promise<{ run: Run; emulatorUrl: string; stop: () => Promise<void>; governorPath: string }> {
  const emu = await startSalesforceEmulator({ token: TOKEN, dbPath: join(dir, `${label}.db`), dailyLimit: DAILY });
  const governorPath = join(dir, `${label}-governor.db`);
  const governor = createSqliteApiGovernor({ path: governorPath, account: label, dailyLimit: DAILY, dailyBudgetPercent: 100 });
  const c = createSalesforceConnector({ instanceUrl: emu.baseUrl, auth: { kind: 'token', accessToken: TOKEN }, governor, bulkThreshold, bulkPollIntervalMs: 200 });
  const t0 = performance.now();
  let ok = 0;
  for (let from = 0; from < N; from += PAGE) ok += (await c.upsert('accounts', records(from, Math.min(PAGE, N - from)))).filter((o) => o.ok).length;
  const seconds = (performance.now() - t0) / 1000;
  await governor.close();
  return { run: { label, seconds, requests: emu.limits.used(), ok }, emulatorUrl: emu.baseUrl, stop: () => emu.stop(), governorPath };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sf-bench-'));
  try {
    const collections = await write('collections', Number.MAX_SAFE_INTEGER, dir);
    await collections.stop();
    const bulk = await write('bulk', 0, dir);
    // Read the N records back incrementally (pages of 2,000, Salesforce's query batch) from the bulk org.
    const before = bulk.run.requests;
    const governor = createSqliteApiGovernor({ path: bulk.governorPath, account: 'bulk', dailyLimit: DAILY, dailyBudgetPercent: 100 });
    const c = createSalesforceConnector({ instanceUrl: bulk.emulatorUrl, auth: { kind: 'token', accessToken: TOKEN }, governor, settleSeconds: 0 });
    await new Promise((r) => setTimeout(r, 1100));
    const t0 = performance.now();
    let cursor: Cursor | null = null;
    let read = 0;
    for (;;) {
      const page = await c.fetchChanges('accounts', { after: cursor, limit: 2000 });
      read += page.records.length;
      cursor = page.nextCursor;
      if (!page.hasMore) break;
    }
    const readSeconds = (performance.now() - t0) / 1000;
    const readRequests = governor.snapshot().used - before;
    await governor.close();
    await bulk.stop();

    const pct = (r: number): string => `${((100 * r) / DAILY).toFixed(2)}%`;
    const rate = (run: Run): number => Math.round(run.ok / run.seconds);
    console.log(`records: ${N}, write call size ${PAGE}, daily allowance ${DAILY}`);
    console.log('| run | records | API requests | share of the daily allowance | seconds | records/s |');
    console.log('|---|---|---|---|---|---|');
    for (const run of [collections.run, bulk.run]) console.log(`| write through ${run.label === 'bulk' ? 'Bulk API 2.0' : 'sObject Collections (200)'} | ${run.ok} | ${run.requests} | ${pct(run.requests)} | ${run.seconds.toFixed(1)} | ${rate(run)} |`);
    console.log(`| incremental read (query, pages of 2,000) | ${read} | ${readRequests} | ${pct(readRequests)} | ${readSeconds.toFixed(1)} | ${Math.round(read / readSeconds)} |`);
    console.log(`Bulk 2.0 / Collections throughput: ${(rate(bulk.run) / rate(collections.run)).toFixed(2)}; requests: ${(bulk.run.requests / collections.run.requests).toFixed(3)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
