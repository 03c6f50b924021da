import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { currentStamp, loadWorkflowBundle, workflowSources, workflowsPath } from '../../workers/workflow-bundle';

const dir = mkdtempSync(path.join(os.tmpdir(), 'workflow-bundle-'));
const stamped = (stamp: object, code = 'var x = 1;') => `/* crm-erp-sync workflow bundle ${JSON.stringify(stamp)} */${code}`;

test('a bundle stamped with the current sources and versions is loaded by its path', () => {
  const file = path.join(dir, 'fresh.js');
  writeFileSync(file, stamped(currentStamp()));
  expect(loadWorkflowBundle(file)).toEqual({ codePath: file });
});

test.each([
  ['sourceHash', { sourceHash: '0'.repeat(64) }, /sourceHash 0{64} \(bundle\) ≠ [0-9a-f]{64} \(worker\)/],
  ['version', { version: '0.0.0-old' }, /version 0\.0\.0-old \(bundle\)/],
  ['sdk', { sdk: '1.0.0' }, /sdk 1\.0\.0 \(bundle\)/],
])('a bundle with another %s is refused, naming the variable and the fix', (_k, change, detail) => {
  const file = path.join(dir, `stale-${_k}.js`);
  writeFileSync(file, stamped({ ...currentStamp(), ...change }));
  expect(() => loadWorkflowBundle(file)).toThrow(/^WORKFLOW_BUNDLE_PATH: the workflow bundle .* is stale: /);
  expect(() => loadWorkflowBundle(file)).toThrow(detail);
  expect(() => loadWorkflowBundle(file)).toThrow(/npm run build:workflows -- .*or unset WORKFLOW_BUNDLE_PATH/);
});

test('a file without the stamp (a bare SDK bundle) and a missing file are refused', () => {
  const bare = path.join(dir, 'bare.js');
  writeFileSync(bare, 'var __TEMPORAL__;');
  expect(() => loadWorkflowBundle(bare)).toThrow(/WORKFLOW_BUNDLE_PATH: .*bare\.js is not a bundle written by `npm run build:workflows` \(no stamp\)/);
  expect(() => loadWorkflowBundle(path.join(dir, 'none.js'))).toThrow(/WORKFLOW_BUNDLE_PATH: no workflow bundle at .*none\.js/);
});

test('the stamp covers the workflows and the code they import, not type-only imports', () => {
  const files = workflowSources(workflowsPath()).map((f) => path.relative(path.resolve(__dirname, '../..'), f));
  expect(files).toEqual(expect.arrayContaining(['workflows/index.ts', 'workflows/sync-pipeline.ts', 'contracts/errors.ts', 'mappings/two-way/drift.ts']));
  // workflows import activity types only (`import type`): activities are not in the bundle
  expect(files.filter((f) => f.startsWith('activities/') || f.startsWith('connectors/'))).toEqual([]);
});

test('a changed source file changes the stamp', () => {
  const src = path.join(dir, 'wf');
  mkdirSync(src, { recursive: true });
  writeFileSync(path.join(src, 'index.ts'), "export { a } from './a';\nimport type { T } from './t';\n");
  writeFileSync(path.join(src, 'a.ts'), 'export const a = 1;\n');
  writeFileSync(path.join(src, 't.ts'), 'export type T = 1;\n');
  const before = currentStamp(path.join(src, 'index.ts'));
  expect(workflowSources(path.join(src, 'index.ts')).map((f) => path.basename(f))).toEqual(['a.ts', 'index.ts']);
  writeFileSync(path.join(src, 'a.ts'), 'export const a = 2;\n');
  expect(currentStamp(path.join(src, 'index.ts')).sourceHash).not.toBe(before.sourceHash);
});
