import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { withFileLock } from './lock';
import { readTrytonToolchain, trytonPython, trytonRequirements, trytonVenvDir } from './toolchain';

const READY_MARK = '.crm-erp-sync-ready';

/** Whether the pinned venv is complete (it is renamed into place only after `pip check` passed). */
export function trytonInstalled(): boolean {
  const venv = trytonVenvDir();
  return existsSync(join(venv, READY_MARK)) && existsSync(trytonPython(venv));
}

/**
 * Installs trytond and the modules of toolchain.json from PyPI into a project-local venv under
 * .tools/ when it is missing; a no-op (two stat calls) otherwise. The venv is made by `python3 -m
 * venv` in a temporary folder, filled with `pip install --no-deps` of exactly the pinned list,
 * checked with `pip check` (a missing transitive pin fails here, not at run time), then renamed
 * into place, so an interrupted install never leaves a half-made venv. Parallel callers (jest
 * workers) wait on a lock file; one installs. ~25 s cold, ~140 MB.
 */
export async function ensureTrytonInstalled(log: (msg: string) => void = () => undefined): Promise<void> {
  if (trytonInstalled()) return;
  const t = readTrytonToolchain();
  const venv = trytonVenvDir(t);
  mkdirSync(dirname(venv), { recursive: true });
  await withFileLock(`${venv}.lock`, log, async () => {
    if (trytonInstalled()) return;
    const scratch = `${venv}.tmp-${process.pid}`;
    rmSync(scratch, { recursive: true, force: true });
    const t0 = Date.now();
    log(`installing trytond ${t.pip.trytond} and ${Object.keys(t.pip).length - 1} pinned packages from PyPI into ${venv}…`);
    try {
      let made = spawnSync(t.python, ['-m', 'venv', scratch], { encoding: 'utf8' });
      if (!made.error && made.status !== 0 && /ensurepip|python3(\.\d+)?-venv/.test(made.stderr) && process.getuid?.() === 0) {
        // Debian's python3 keeps venv's pip bootstrap in a separate package (not pinned: Debian
        // replaces python3.11-venv's security builds in place, like the Chromium package).
        log('python3 has no venv support: apt-get install python3-venv');
        const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
        execFileSync('apt-get', ['update'], { stdio: 'inherit', env });
        execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'python3-venv'], { stdio: 'inherit', env });
        rmSync(scratch, { recursive: true, force: true });
        made = spawnSync(t.python, ['-m', 'venv', scratch], { encoding: 'utf8' });
      }
      if (made.error || made.status !== 0) {
        throw new Error(`\`${t.python} -m venv\` failed: ${made.error?.message ?? made.stderr.trim()} (Tryton ${t.series} needs Python 3.9+ with the venv module; on Debian: apt-get install python3-venv)`);
      }
      const reqFile = join(scratch, 'requirements.txt');
      writeFileSync(reqFile, `${trytonRequirements(t).join('\n')}\n`);
      const py = trytonPython(scratch);
      const env = { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_NO_INPUT: '1' };
      execFileSync(py, ['-m', 'pip', 'install', '--quiet', '--no-deps', '-r', reqFile], { stdio: ['ignore', 'inherit', 'inherit'], env });
      const check = spawnSync(py, ['-m', 'pip', 'check'], { encoding: 'utf8', env });
      if (check.status !== 0) throw new Error(`toolchain.json tryton.pip is incomplete or inconsistent (pip check): ${check.stdout.trim()} — pin the missing distributions`);
      writeFileSync(join(scratch, READY_MARK), `${trytonRequirements(t).join('\n')}\n`);
      renameSync(scratch, venv);
    } catch (err) {
      rmSync(scratch, { recursive: true, force: true });
      throw err;
    }
    log(`trytond ${t.pip.trytond} installed in ${Date.now() - t0} ms`);
  });
}
