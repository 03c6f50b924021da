import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The `tryton` section of toolchain.json: the pinned PyPI requirements and the modules to activate. */
export interface TrytonToolchain {
  series: string;
  /** The interpreter that makes the venv (`python3` on PATH, 3.11 on Debian bookworm). */
  python: string;
  /** Every distribution of the venv, pinned exactly (installed with --no-deps). */
  pip: Record<string, string>;
  modules: string[];
}

export const PROJECT_ROOT = join(__dirname, '..', '..');

export function readTrytonToolchain(): TrytonToolchain {
  const raw = JSON.parse(readFileSync(join(PROJECT_ROOT, 'toolchain.json'), 'utf8')) as {
    tryton?: Partial<TrytonToolchain>;
  };
  const t = raw.tryton;
  if (!t || typeof t.pip !== 'object' || t.pip === null || !Array.isArray(t.modules) || typeof t.series !== 'string' || typeof t.python !== 'string') {
    throw new Error('toolchain.json: missing or malformed "tryton" section (series, python, pip, modules)');
  }
  const pip = t.pip as Record<string, unknown>;
  const bad = Object.entries(pip).filter(([, v]) => typeof v !== 'string' || !/^[0-9][0-9A-Za-z.+-]*$/.test(v));
  if (bad.length || !pip.trytond) {
    throw new Error(`toolchain.json: tryton.pip must map each distribution to one exact version and include trytond (bad: ${bad.map(([k]) => k).join(', ') || 'trytond missing'})`);
  }
  return { series: t.series, python: t.python, pip: pip as Record<string, string>, modules: t.modules };
}

/** `name==version` lines of the pinned requirements, sorted. */
export function trytonRequirements(t: TrytonToolchain = readTrytonToolchain()): string[] {
  return Object.entries(t.pip).map(([name, version]) => `${name}==${version}`).sort((a, b) => a.localeCompare(b));
}

/** The venv folder: .tools/tryton-<trytond version>-<hash of the requirements and interpreter>. */
export function trytonVenvDir(t: TrytonToolchain = readTrytonToolchain()): string {
  const key = createHash('sha256').update(JSON.stringify([t.python, trytonRequirements(t)])).digest('hex').slice(0, 8);
  return join(PROJECT_ROOT, '.tools', `tryton-${t.pip.trytond}-${key}`);
}

/**
 * The venv's interpreter. Tryton's commands are run as `<python> <venv>/bin/<command>`, never
 * through their shebangs: the venv is built under a temporary name and renamed into place, which
 * leaves the shebangs pointing at the temporary path (the interpreter finds its venv by its own
 * location, so it is unaffected).
 */
export function trytonPython(venv = trytonVenvDir()): string {
  return join(venv, 'bin', 'python');
}

/** argv of a Tryton command (`trytond`, `trytond-admin`) run by the venv's interpreter. */
export function trytonCommand(command: 'trytond' | 'trytond-admin', venv = trytonVenvDir()): [string, string] {
  return [trytonPython(venv), join(venv, 'bin', command)];
}
