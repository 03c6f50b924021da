import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSyncError } from '../contracts/errors';
import { createHubSpotConnector, createSqliteGovernor } from '../connectors/hubspot';
import { startHubSpotEmulator } from '../emulators/hubspot';

/**
 * Two worker processes write records into the HubSpot emulator (190 requests / rolling 10 s)
 * through batch upsert, sharing one SQLite governor. Prints throughput against what the limit
 * allows and the number of 429s.
 *   npx tsx bench/hubspot-governor.bench.ts [--records 20000] [--batch 100] [--workers 2]
 */

const TOKEN = 'pat-bench';
const PER_10S = 190;
const WINDOW_MS = 10_000;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : Number.NaN;
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

interface WorkerResult {
  records: number;
  requests: number;
  rateLimited: number;
  failed: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function worker(): Promise<void> {
  const [baseUrl = '', governorPath = '', from = '0', count = '0', batchSize = '100'] = process.argv.slice(3);
  const governor = createSqliteGovernor({ path: governorPath, account: 'bench-portal', per10s: PER_10S });
  const connector = createHubSpotConnector({ accessToken: TOKEN, basePath: baseUrl, governor });
  const result: WorkerResult = { records: 0, requests: 0, rateLimited: 0, failed: 0 };
  await new Promise<void>((resolve) => {
    process.once('message', () => resolve());
    process.send?.('ready');
  });
  const start = Number(from);
  const end = start + Number(count);
  for (let i = start; i < end; i += Number(batchSize)) {
    const batch = [];
    for (let k = i; k < Math.min(end, i + Number(batchSize)); k++) {
      batch.push({ externalKey: `B-${k}`, fields: { externalKey: `B-${k}`, name: `Bench ${k}`, segment: 'smb', active: true } });
    }
    for (;;) {
      result.requests++;
      try {
        const outcomes = await connector.upsert('companies', batch);
        result.records += outcomes.filter((o) => o.ok).length;
        result.failed += outcomes.filter((o) => !o.ok).length;
        break;
      } catch (err) {
        if (isSyncError(err) && err.type === 'RateLimited') {
          result.rateLimited++;
          await sleep(err.retryAfterMs ?? 1000);
          continue;
        }
        throw err;
      }
    }
  }
  await connector.close();
  await governor.close();
  process.send?.(result);
}

async function main(): Promise<void> {
  const records = arg('records', 20_000);
  const batchSize = Math.min(arg('batch', 100), 100);
  const workers = arg('workers', 2);
  const dir = mkdtempSync(join(tmpdir(), 'hubspot-bench-'));
  const emu = await startHubSpotEmulator({ token: TOKEN, rateLimitPer10s: PER_10S });
  const perWorker = Math.ceil(records / workers);
  const children: ChildProcess[] = [];
  const results: Promise<WorkerResult>[] = [];
  const ready: Promise<void>[] = [];
  for (let w = 0; w < workers; w++) {
    const count = Math.min(perWorker, records - w * perWorker);
    const child = fork(__filename, ['--worker', emu.baseUrl, join(dir, 'governor.db'), String(w * perWorker), String(count), String(batchSize)]);
    children.push(child);
    ready.push(new Promise((resolve) => child.once('message', () => resolve())));
    results.push(
      new Promise((resolve, reject) => {
        child.on('message', (m) => {
          if (typeof m === 'object' && m !== null) resolve(m as WorkerResult);
        });
        child.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`worker ${w} exited with ${code}`))));
      }),
    );
  }
  await Promise.all(ready);
  const started = Date.now();
  for (const c of children) c.send('go');
  const done = await Promise.all(results);
  const elapsedS = (Date.now() - started) / 1000;

  const written = done.reduce((n, r) => n + r.records, 0);
  const requests = done.reduce((n, r) => n + r.requests, 0);
  const limited = done.reduce((n, r) => n + r.rateLimited, 0);
  const needed = Math.ceil(records / batchSize);
  // A rolling window lets M requests through at once, then M more one window later, and so on.
  const idealS = Math.floor((needed - 1) / PER_10S) * (WINDOW_MS / 1000);
  const steadyCeiling = (PER_10S / (WINDOW_MS / 1000)) * batchSize;
  const rate = written / elapsedS;
  const stored = (emu.store.db.prepare("SELECT count(*) AS n FROM objects WHERE type = 'companies'").get() as { n: number }).n;
  const lines = [
    `workers ${workers}, batch ${batchSize}, limit ${PER_10S} requests / ${WINDOW_MS / 1000} s (rolling)`,
    `records written ${written} (in emulator: ${stored}) in ${elapsedS.toFixed(2)} s -> ${rate.toFixed(0)} records/s`,
    `requests ${requests}, HTTP 429 ${limited} (${((100 * limited) / requests).toFixed(2)} %), emulator counted 429: ${emu.stats.limited}`,
    `ceiling: ${needed} requests need >= ${idealS.toFixed(1)} s under the rolling window -> ${(idealS / elapsedS).toFixed(3)} of ceiling`,
    `steady-state ceiling ${steadyCeiling.toFixed(0)} records/s -> ${(rate / steadyCeiling).toFixed(3)} of steady ceiling`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  await emu.stop();
  rmSync(dir, { recursive: true, force: true });
}

if (process.argv[2] === '--worker') {
  worker().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
} else {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
