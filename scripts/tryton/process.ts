import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { DATABASE_NAME, type InstancePaths } from './settings';
import { trytonCommand } from './toolchain';

/** A free TCP port on 127.0.0.1 (asked from the kernel, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Whether something accepts connections on 127.0.0.1:`port`. */
export function portAnswers(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ port, host: '127.0.0.1' });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** Whether `pid` is a live (non-zombie) process. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z /.test(stat);
  } catch {
    return true;
  }
}

/**
 * Starts trytond (the venv's, see toolchain.ts) detached (own process group, output to the
 * instance log) and returns its PID. TRYTOND_DATABASE_NAMES names the database it serves: 8.0
 * loads its pool at start-up, and without it every login fails (KeyError 'res.user').
 */
export function spawnTrytond(p: InstancePaths): number {
  const out = openSync(p.log, 'a');
  try {
    const [python, script] = trytonCommand('trytond');
    const child = spawn(
      python,
      [script, '-c', p.config, '--logconf', p.logConfig, '-d', DATABASE_NAME, '--pidfile', p.pidFile],
      { detached: true, stdio: ['ignore', out, out], env: { ...process.env, TRYTOND_CONFIG: p.config, TRYTOND_DATABASE_NAMES: DATABASE_NAME } },
    );
    if (child.pid === undefined) throw new Error('could not spawn trytond (run `npx tsx scripts/tryton.ts install`)');
    child.unref();
    return child.pid;
  } finally {
    closeSync(out);
  }
}

/** Polls `common.server.version` (8.0 serves it on `/rpc/`) until trytond answers or the process dies. */
export async function waitUntilReady(url: string, pid: number, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) throw new Error(`trytond (pid ${pid}) exited during start-up; see its log`);
    try {
      const res = await fetch(`${url}/rpc/`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ id: 1, method: 'common.server.version', params: [] }),
        signal: AbortSignal.timeout(2000),
      });
      if (res.ok) return String(((await res.json()) as { result?: unknown }).result);
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`trytond (pid ${pid}) did not answer on ${url} within ${timeoutMs} ms`);
}

/** Stops the process by PID: SIGTERM, then SIGKILL after `graceMs`. Never by name. */
export async function stopPid(pid: number, graceMs = 5000): Promise<void> {
  if (!isAlive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** The PID recorded in the instance's pidfile, if any. */
export function readPidFile(p: InstancePaths): number | null {
  if (!existsSync(p.pidFile)) return null;
  const pid = Number(readFileSync(p.pidFile, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}
