/**
 * The pinned Temporal CLI, whatever is (or is not) on PATH: `npm run temporal:cli -- <args>`.
 * Resolves the binary through scripts/toolchain.ts (installing it into .tools/ when missing),
 * runs it with the given arguments on this terminal and exits with its exit code.
 * `npm run temporal:cli -- --path` prints the binary's path (for `export PATH=…`).
 */
import { spawnSync } from 'node:child_process';
import { constants } from 'node:os';
import path from 'node:path';
import { ensureTemporalCli } from './toolchain';

const args = process.argv.slice(2);
const cli = ensureTemporalCli();
if (args.length === 1 && (args[0] === '--path' || args[0] === '--bin-dir')) {
  process.stdout.write(`${args[0] === '--path' ? cli : path.dirname(cli)}\n`);
  process.exit(0);
}
const r = spawnSync(cli, args, { stdio: 'inherit' });
if (r.error) {
  process.stderr.write(`cannot run ${cli}: ${r.error.message}\n`);
  process.exit(127);
}
process.exit(r.status ?? 128 + (r.signal ? (constants.signals[r.signal] ?? 0) : 1));
