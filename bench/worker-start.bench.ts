/**
 * Worker start with and without a prebuilt workflow bundle (WORKFLOW_BUNDLE_PATH): the time from
 * spawning `workers/main.ts` to its "worker ready" line, for worker processes started one after the
 * other, alternating (bundle at start / prebuilt bundle), against one dev server. Prints each
 * start, the medians and their ratio.
 *   npx tsx bench/worker-start.bench.ts      (BENCH_STARTS=5 starts of each kind; default 3)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { seedDemo } from '../demo/seed';
import { startDevServer } from '../scripts/dev-server';
import { writeWorkflowBundle } from '../workers/workflow-bundle';

const STARTS = Number(process.env.BENCH_STARTS ?? 3);
const ROOT = path.resolve(__dirname, '..');

/** Spawn a worker, wait for "worker ready", stop it by its PID; the milliseconds to ready. */
function timeStart(vars: Record<string, string>): Promise<number> {
  const t0 = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'workers/main.ts')], {
    cwd: ROOT,
    env: { ...process.env, WORKER_LOG_LEVEL: 'WARN', ENV_FILE: '', ...vars },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let readyMs: number | undefined;
  return new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (readyMs === undefined && out.includes('worker ready')) {
        readyMs = performance.now() - t0;
        child.kill('SIGTERM');
      }
    });
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    child.once('exit', (code) => (readyMs !== undefined ? resolve(readyMs) : reject(new Error(`worker exited (${code}) before ready:\n${out}`))));
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'worker-start-bench-'));
  const server = await startDevServer({ dbFile: path.join(tmp, 'temporal.db') });
  try {
    const dir = path.join(tmp, 'demo');
    seedDemo(dir, { accounts: 0, contacts: 0, products: 0 });
    const bundle = path.join(tmp, 'workflow-bundle.js');
    const b0 = performance.now();
    await writeWorkflowBundle(bundle);
    console.log(`npm run build:workflows equivalent: ${((performance.now() - b0) / 1000).toFixed(1)} s`);
    const vars = { TEMPORAL_ADDRESS: server.address, DEMO_DATA_DIR: dir, WORKER_FAMILIES: 'sql' };
    const cold: number[] = [];
    const prebuilt: number[] = [];
    for (let i = 0; i < STARTS; i++) {
      cold.push(await timeStart(vars));
      prebuilt.push(await timeStart({ ...vars, WORKFLOW_BUNDLE_PATH: bundle }));
      console.log(`start ${i + 1}: bundling at start ${(cold[i]! / 1000).toFixed(1)} s, prebuilt bundle ${(prebuilt[i]! / 1000).toFixed(1)} s`);
    }
    const [c, p] = [median(cold), median(prebuilt)];
    console.log(`median to "worker ready": bundling at start ${(c / 1000).toFixed(1)} s, prebuilt ${(p / 1000).toFixed(1)} s; prebuilt/bundling ${(p / c).toFixed(2)}`);
  } finally {
    await server.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
