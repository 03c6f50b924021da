import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The `tryton` section of toolchain.json: pinned Debian packages and the modules to activate. */
export interface TrytonToolchain {
  series: string;
  apt: Record<string, string>;
  modules: string[];
}

export const PROJECT_ROOT = join(__dirname, '..', '..');

export function readTrytonToolchain(): TrytonToolchain {
  const raw = JSON.parse(readFileSync(join(PROJECT_ROOT, 'toolchain.json'), 'utf8')) as {
    tryton?: Partial<TrytonToolchain>;
  };
  const t = raw.tryton;
  if (!t || typeof t.apt !== 'object' || !Array.isArray(t.modules) || typeof t.series !== 'string') {
    throw new Error('toolchain.json: missing or malformed "tryton" section (series, apt, modules)');
  }
  return { series: t.series, apt: t.apt as Record<string, string>, modules: t.modules };
}
