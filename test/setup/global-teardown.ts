/**
 * The suite-level leftover check: after the last test, no process started by this run may still
 * run. Looks for processes carrying the run id in their environment and for the PIDs the helpers
 * recorded; kills any it finds (by PID) and fails the run naming them.
 */
import { readFileSync, rmSync } from 'node:fs';
import { isAlive, pidFile, processesOfRun, recordedPids, RUN_ENV, waitFor, workflowBundleFile } from '../helpers/processes';

export default async function globalTeardown(): Promise<void> {
  const runId = process.env[RUN_ENV];
  if (!runId) return;
  const file = pidFile(runId);
  const leftovers = () => {
    const byEnv = processesOfRun(runId);
    const seen = new Set(byEnv.map((p) => p.pid));
    const byRecord = recordedPids(file)
      .filter((r) => !seen.has(r.pid) && isAlive(r.pid) && isRecordedProcess(r.pid, r.what))
      .map((r) => ({ pid: r.pid, cmd: r.what }));
    return [...byEnv, ...byRecord];
  };
  // A process stopped by its test's afterAll may take a moment to exit after SIGTERM.
  const left = await waitFor(() => (leftovers().length === 0 ? true : null), 'the run to leave no process', 10_000, 200).then(
    () => [],
    () => leftovers(),
  );
  rmSync(file, { force: true });
  rmSync(workflowBundleFile(runId), { force: true });
  if (left.length === 0) return;
  for (const p of left) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  throw new Error(`processes started by the test run were still running after it (killed now):\n${left.map((p) => `  pid ${p.pid}: ${p.cmd}`).join('\n')}`);
}

/** Guards against PID reuse: the live process still runs the recorded command's program. */
function isRecordedProcess(pid: number, what: string): boolean {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
    return cmd.split('\0').join(' ').includes(what.split(' ')[0] ?? what);
  } catch {
    return false;
  }
}
