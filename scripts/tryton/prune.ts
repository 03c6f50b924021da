import { readdirSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { holderAlive } from './lock';

/** The cached clusters of scripts/tryton/pristine.ts (and the SQLite files of older versions). */
const CACHE_ENTRY = /^(pristine|initialised)-[0-9a-f]{6,64}\.(pg|sqlite)$/;

/**
 * Removes the cached Tryton databases of `root` other than `current` (the pristine and
 * initialised clusters of this toolchain pin, module set, bootstrap and passwords): each pin or
 * module set leaves one behind (hundreds of MB), and nothing ever reads them again. Called when a
 * new cache has just been built, so a checkout that switches pins keeps one of each. An entry
 * whose lock file is held by a live process (another checkout sharing TRYTON_DATA_DIR building
 * it) is left alone, and so is everything that is not a cache entry (instances, dev, builds).
 * Returns the names removed.
 */
export function pruneTrytonCaches(root: string, current: readonly string[], log: (msg: string) => void = () => undefined): string[] {
  const keep = new Set(current.map((p) => basename(p)));
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return []; // no data root yet
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!CACHE_ENTRY.test(name) || keep.has(name)) continue;
    const lock = join(root, `${name}.lock`);
    if (names.includes(`${name}.lock`) && holderAlive(lock)) continue; // in use: being built elsewhere
    rmSync(join(root, name), { recursive: true, force: true });
    rmSync(lock, { force: true });
    removed.push(name);
  }
  if (removed.length) log(`removed old Tryton caches: ${removed.join(', ')}`);
  return removed;
}
