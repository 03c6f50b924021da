import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ROOT, sharedWorkflowBundleFile } from './env';
import { isAlive, recordPid, waitFor } from './processes';

export interface WorkerProcess {
  child: ChildProcess;
  /** The worker's own PID: `node --import tsx` runs the worker in this one process, no launcher. */
  pid: number;
  ready: Promise<void>;
  output: () => string;
}

/** Every worker spawned by this test file, so that `stopAllWorkers` can end them even when a test fails. */
const spawned = new Set<WorkerProcess>();

/**
 * Run `workers/main.ts` as a separate OS process (so a test can SIGKILL it). `node --import tsx`
 * loads TypeScript in-process: the PID is the worker's, a kill reaches the worker itself (tsx's
 * CLI would run the worker as a child of a launcher and a kill would orphan it).
 */
export function spawnWorker(env: Record<string, string>): WorkerProcess {
  let out = '';
  const bundle = workerBundleEnv();
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'workers/main.ts')], {
    cwd: ROOT,
    env: { ...process.env, WORKER_LOG_LEVEL: 'WARN', ...bundle, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error('could not spawn the worker');
  recordPid(child.pid, `${process.execPath} --import tsx workers/main.ts`);
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('worker ready')) resolve();
    });
    child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    child.once('exit', (code, signal) => reject(new Error(`worker exited (${code ?? signal}) before ready:\n${out}`)));
  });
  ready.catch(() => undefined); // awaited by the test; an exit after a kill is not an unhandled rejection
  const w: WorkerProcess = { child, pid: child.pid, ready, output: () => out };
  spawned.add(w);
  child.once('exit', () => spawned.delete(w));
  return w;
}

/**
 * WORKFLOW_BUNDLE_PATH for a spawned worker: the run's shared bundle (test/helpers/env.ts), so that no
 * worker process bundles at start (4-8 s each, ~30 of them in the integration tier). The first spawn
 * of a run that has no bundle yet builds it with `npm run build:workflows` (synchronously: the
 * caller wants the child at once); outside a jest run, none (the worker bundles itself).
 */
function workerBundleEnv(): Record<string, string> {
  const file = sharedWorkflowBundleFile();
  if (!file) return {};
  if (!existsSync(file)) execFileSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts/build-workflows.ts'), file], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  return { WORKFLOW_BUNDLE_PATH: file };
}

export function waitExit(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
}

/** SIGKILL the worker and prove it is gone: its PID no longer exists (ESRCH). */
export async function killWorker(w: WorkerProcess): Promise<void> {
  w.child.kill('SIGKILL');
  await waitExit(w.child); // reaped by us, so the PID is free
  expect(w.child.signalCode).toBe('SIGKILL');
  expect(() => process.kill(w.pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
}

/** Stop every worker this file spawned (SIGTERM, then SIGKILL after `graceMs`). For afterAll. */
export async function stopAllWorkers(graceMs = 10_000): Promise<void> {
  await Promise.all(
    [...spawned].map(async (w) => {
      if (w.child.exitCode !== null || w.child.signalCode !== null) return;
      w.child.kill('SIGTERM');
      const timer = setTimeout(() => w.child.kill('SIGKILL'), graceMs);
      await waitExit(w.child);
      clearTimeout(timer);
    }),
  );
  for (const w of spawned) await waitFor(() => !isAlive(w.pid), `worker ${w.pid} to exit`, graceMs + 5000);
}
