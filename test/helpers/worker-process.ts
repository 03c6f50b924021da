import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './env';

/** Run `workers/main.ts` as a separate OS process (so a test can SIGKILL it). */
export function spawnWorker(env: Record<string, string>): { child: ChildProcess; ready: Promise<void>; output: () => string } {
  let out = '';
  const child = spawn(process.execPath, [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), path.join(ROOT, 'workers/main.ts')], {
    cwd: ROOT,
    env: { ...process.env, WORKER_LOG_LEVEL: 'WARN', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (b: Buffer) => {
      out += b.toString();
      if (out.includes('worker ready')) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    child.once('exit', (code) => reject(new Error(`worker exited (${code}) before ready:\n${out}`)));
  });
  return { child, ready, output: () => out };
}

export function waitExit(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
}
