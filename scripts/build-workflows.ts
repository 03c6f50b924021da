/**
 * `npm run build:workflows [-- <file>]`: bundle workflows/ once into a file (default
 * `dist/workflow-bundle.js`) for workers started with WORKFLOW_BUNDLE_PATH=<file>. Rebuild after any
 * change to workflows/ or what they import: a worker refuses a bundle built from other sources.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { writeWorkflowBundle } from '../workers/workflow-bundle';

async function main(): Promise<void> {
  const file = path.resolve(process.argv[2] ?? 'dist/workflow-bundle.js');
  mkdirSync(path.dirname(file), { recursive: true });
  const stamp = await writeWorkflowBundle(file);
  console.log(`workflow bundle written: ${file} (sources ${stamp.sourceHash.slice(0, 12)}, version ${stamp.version}, sdk ${stamp.sdk})`);
  console.log(`start workers with WORKFLOW_BUNDLE_PATH=${file}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
