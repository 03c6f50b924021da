import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './env';

/** A copy of the shipped `config/` at `<dir>/config`, for a test to edit; returns its path. */
export function copyShippedConfig(dir: string): string {
  const configDir = path.join(dir, 'config');
  cpSync(path.join(ROOT, 'config'), configDir, { recursive: true });
  return configDir;
}

/** The parts of a pair file (config/pairs/<name>.json) the tests change. */
export interface PairFileEdits {
  fields: Record<string, unknown>;
  limits: Record<string, unknown>;
}

/** Reads config/pairs/<pair>.json under `configDir`, lets `edit` change it, and writes it back. */
export function editPairFile(configDir: string, pair: string, edit: (p: PairFileEdits) => void): void {
  const file = path.join(configDir, 'pairs', `${pair}.json`);
  const json = JSON.parse(readFileSync(file, 'utf8')) as PairFileEdits;
  edit(json);
  writeFileSync(file, JSON.stringify(json));
}
