import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './env';
import { isAlive, recordPid, waitFor } from './processes';
import { waitExit } from './worker-process';

export interface DemoProcess {
  child: ChildProcess;
  output(): string;
  /** Wait until the output has a line matching `re` (fails at once if the demo exits). */
  line(re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** Ctrl-C (SIGINT, SIGKILL after `graceMs`) and wait until the PID is gone. */
  stop(graceMs?: number): Promise<void>;
}

/** `npm start -- <args>` as a child process: workers/demo.ts under `node --import tsx` (one PID). */
export function spawnDemo(args: string[], env: Record<string, string>): DemoProcess {
  let out = '';
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'workers/demo.ts'), ...args], {
    cwd: ROOT,
    env: { ...process.env, ENV_FILE: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error('could not spawn the demo');
  recordPid(child.pid, `${process.execPath} --import tsx workers/demo.ts ${args.join(' ')}`);
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const ended = () => child.exitCode !== null || child.signalCode !== null;
  return {
    child,
    output: () => out,
    line: (re, timeoutMs = 240_000) =>
      waitFor(() => {
        const m = re.exec(out);
        if (m) return m;
        if (ended()) throw new Error(`the demo exited (${child.exitCode ?? child.signalCode}) before ${re}:\n${out}`);
        return null;
      }, `${re} in the demo's output`, timeoutMs, 200),
    async stop(graceMs = 30_000) {
      if (!ended()) {
        child.kill('SIGINT');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await waitExit(child);
        clearTimeout(timer);
      }
      await waitFor(() => !isAlive(child.pid!), 'the demo to exit', 10_000);
    },
  };
}
