/**
 * Bookkeeping of the OS processes a test run starts, so that the run can prove none is left.
 *
 * `test/setup/global-setup.ts` puts a run id into the environment (`CRM_SYNC_TEST_RUN`); every
 * process a test spawns inherits it. `test/setup/global-teardown.ts` then looks for live processes
 * carrying that id (in /proc/<pid>/environ) and for PIDs recorded here, kills them by PID and fails
 * the run.
 */
import { appendFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const RUN_ENV = 'CRM_SYNC_TEST_RUN';

/** The file where this run's spawned PIDs are recorded (one `pid<TAB>what` a line). */
export function pidFile(runId = process.env[RUN_ENV] ?? `adhoc-${process.pid}`): string {
  return path.join(os.tmpdir(), `crm-erp-sync-test-${runId}.pids`);
}

/** Where this run keeps the workflow bundle its test files share (test/helpers/env.ts; removed by the global teardown). */
export function workflowBundleFile(runId: string): string {
  return path.join(os.tmpdir(), `crm-erp-sync-test-${runId}.workflow-bundle.js`);
}

export function recordPid(pid: number, what: string): void {
  appendFileSync(pidFile(), `${pid}\t${what.replace(/\s+/g, ' ')}\n`);
}

export function recordedPids(file = pidFile()): { pid: number; what: string }[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [pid, what] = l.split('\t');
      return { pid: Number(pid), what: what ?? '' };
    });
}

/** Whether `pid` is a live process (a zombie, dead but not yet reaped, counts as gone). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false; // vanished between the two checks
  }
}

/** Wait until `cond()` holds, polling every `everyMs`; throws `what` after `timeoutMs`. */
export async function waitFor<T>(cond: () => T | Promise<T>, what: string, timeoutMs = 30_000, everyMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Live processes (other than this one and its ancestors) whose environment carries `runId`. */
export function processesOfRun(runId: string): { pid: number; cmd: string }[] {
  const mine = new Set<number>([process.pid]);
  for (let pid = process.ppid; pid > 1 && !mine.has(pid); ) {
    mine.add(pid);
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      break;
    }
  }
  const found: { pid: number; cmd: string }[] = [];
  const needle = `${RUN_ENV}=${runId}\0`;
  for (const name of readdirSafe('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || mine.has(pid)) continue;
    try {
      if (!(readFileSync(`/proc/${pid}/environ`, 'latin1') + '\0').includes(needle)) continue;
      if (!isAlive(pid)) continue;
      found.push({ pid, cmd: readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').join(' ').trim() });
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
