import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';

/** Whether the process whose PID `lockFile` holds is alive (a lock being written counts as held). */
export function holderAlive(lockFile: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(lockFile, 'utf8').trim());
  } catch {
    return false; // removed meanwhile
  }
  if (!Number.isInteger(pid) || pid <= 0) return true; // being written: give it a moment
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs `fn` holding an exclusive lock file (created with O_EXCL, holding our PID), so parallel
 * test files install Tryton or build its template database once. A lock whose holder died is
 * taken over. Waits up to `timeoutMs`.
 */
export async function withFileLock<T>(lockFile: string, log: (msg: string) => void, fn: () => Promise<T>, timeoutMs = 15 * 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let told = false;
  for (;;) {
    try {
      const fd = openSync(lockFile, 'wx');
      try {
        writeSync(fd, String(process.pid));
      } finally {
        closeSync(fd);
      }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (!holderAlive(lockFile)) {
        await new Promise((r) => setTimeout(r, 200)); // a fresh holder may still be writing its PID
        if (!holderAlive(lockFile)) rmSync(lockFile, { force: true });
        continue;
      }
      if (!told) {
        log(`waiting for another process building the same thing (${lockFile})…`);
        told = true;
      }
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${lockFile}; remove it if its process is gone`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lockFile, { force: true });
  }
}
