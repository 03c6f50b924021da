/**
 * A prebuilt workflow bundle (`npm run build:workflows`, loaded with WORKFLOW_BUNDLE_PATH): a
 * worker that starts from it skips webpack (4-8 s a start). The file is the SDK's bundle with a
 * one-line header comment recording what it was built from; a worker refuses a bundle whose
 * recorded sources or versions differ from its own, so a stale bundle never runs old workflow code
 * next to new activities.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';

const MARK = 'crm-erp-sync workflow bundle';

export interface BundleStamp {
  /** sha256 of the workflow sources the bundle is built from (workflows/index and what it imports). */
  sourceHash: string;
  /** This project's version and the Temporal SDK's (the bundle embeds @temporalio/workflow). */
  version: string;
  sdk: string;
}

/** The workflows' entry point (what `bundleWorkflowCode` bundles). */
export function workflowsPath(): string {
  return require.resolve('../workflows');
}

/** The stamp of the sources as they are now. */
export function currentStamp(entry = workflowsPath()): BundleStamp {
  const root = path.resolve(__dirname, '..');
  const hash = createHash('sha256');
  for (const file of workflowSources(entry)) {
    hash.update(path.relative(root, file).split(path.sep).join('/'));
    hash.update('\0');
    hash.update(readFileSync(file));
    hash.update('\0');
  }
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version?: string };
  return { sourceHash: hash.digest('hex'), version: pkg.version ?? '0.0.0', sdk: sdkVersion() };
}

function sdkVersion(): string {
  return (JSON.parse(readFileSync(require.resolve('@temporalio/workflow/package.json'), 'utf8')) as { version: string }).version;
}

/**
 * The project files the bundle is made of: the entry and every relative import it reaches (type-only
 * imports are left out, the bundler drops them). Packages are covered by the SDK version and the
 * lock file's pinning.
 */
export function workflowSources(entry: string): string[] {
  const seen = new Set<string>();
  const queue = [entry];
  while (queue.length) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?[^;]*?from\s+['"](\.[^'"]+)['"]/gms)) {
      if (m[2]) continue;
      const target = resolveRelative(path.dirname(file), m[3]!);
      if (target) queue.push(target);
    }
    for (const m of text.matchAll(/^\s*import\s+['"](\.[^'"]+)['"]/gm)) {
      const target = resolveRelative(path.dirname(file), m[1]!);
      if (target) queue.push(target);
    }
  }
  return [...seen].sort();
}

function resolveRelative(dir: string, spec: string): string | undefined {
  const base = path.resolve(dir, spec);
  for (const candidate of [base, `${base}.ts`, `${base}.js`, path.join(base, 'index.ts'), path.join(base, 'index.js')]) {
    if (existsSync(candidate) && !candidate.endsWith(path.sep) && /\.(ts|js)$/.test(candidate)) return candidate;
  }
  return undefined;
}

/** Bundle `workflows/` and write it to `file` with its stamp (written aside and renamed: a reader sees all or nothing). */
export async function writeWorkflowBundle(file: string): Promise<BundleStamp> {
  const stamp = currentStamp();
  const { code } = await bundleWorkflowCode({ workflowsPath: workflowsPath(), logger: new DefaultLogger('WARN') });
  // One comment before the first line of code, on that same line: the source map's lines stay right.
  const part = `${file}.${process.pid}.part`;
  writeFileSync(part, `/* ${MARK} ${JSON.stringify(stamp)} */${code}`);
  renameSync(part, file);
  return stamp;
}

export class StaleWorkflowBundleError extends Error {
  override name = 'StaleWorkflowBundleError';
}

/**
 * Check the bundle at `file` (WORKFLOW_BUNDLE_PATH) against the sources this worker runs with and
 * return the worker option loading it. A missing, foreign or stale file throws, naming the variable
 * and the fix.
 */
export function loadWorkflowBundle(file: string, variable = 'WORKFLOW_BUNDLE_PATH'): { codePath: string } {
  const fix = `rebuild it with \`npm run build:workflows -- ${file}\` from the same checkout the worker runs, or unset ${variable} to bundle at start`;
  const codePath = path.resolve(file);
  if (!existsSync(codePath)) throw new StaleWorkflowBundleError(`${variable}: no workflow bundle at ${codePath}; ${fix}`);
  const head = readFileSync(codePath, 'utf8').slice(0, 1000);
  const m = new RegExp(`^/\\* ${MARK} (\\{[^\\n]*?\\}) \\*/`).exec(head);
  let stamp: Partial<BundleStamp> | undefined;
  try {
    stamp = m ? (JSON.parse(m[1]!) as Partial<BundleStamp>) : undefined;
  } catch {
    stamp = undefined;
  }
  if (!stamp) throw new StaleWorkflowBundleError(`${variable}: ${codePath} is not a bundle written by \`npm run build:workflows\` (no stamp); ${fix}`);
  const now = currentStamp();
  const diffs = (['sourceHash', 'version', 'sdk'] as const).filter((k) => stamp[k] !== now[k]).map((k) => `${k} ${String(stamp[k])} (bundle) ≠ ${now[k]} (worker)`);
  if (diffs.length) throw new StaleWorkflowBundleError(`${variable}: the workflow bundle ${codePath} is stale: ${diffs.join(', ')}; ${fix}`);
  return { codePath };
}
