import { ApplyPlanInputSchema } from '../../contracts/plan';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { z } from 'zod';
import { ReconcilePairInputSchema } from '../../contracts/reconcile';
import { ReplayQuarantineInputSchema } from '../../contracts/replay';
import { SyncPairInputSchema } from '../../contracts/pair-sync';
import { SyncPipelineInputSchema } from '../../contracts/sync';
import { loadRegistry, PROJECT_CONFIG } from '../../pipelines/load';
import { loadApprovalKeyring } from '../../workers/approval-issuers';
import { dataConverterFromEnv } from '../../workers/codec';
import { parseWorkerEnv } from '../../workers/config';
import { loadScheduleEntries } from '../../workers/schedules';
import { parseWorkflowInput } from '../../workflows/input';

/**
 * Issue 10, item 6: a corpus of broken inputs (test/fixtures/bad-input/*.json), each applied to a
 * copy of the shipped configuration (or given as the environment or a workflow input), each
 * required to fail with an error that names the file, the path inside it or the field, and says
 * what is wrong. A case file:
 *   { "what": "...", "kind": "config" | "schedules" | "issuers" | "env" | "codec-env" | "workflow-input",
 *     "file": "systems.json" | "pipelines/x.json" | "pairs/x.json" | "mappings/x.json" | ...,
 *     "raw": "text written as the file" | "set": [[["json", "path"], value], ...],
 *     "env": {...}, "workflow": "syncPipeline", "input": {...},
 *     "expect": ["every", "substring", "the error must contain"] }
 */

interface Case {
  what: string;
  kind: 'config' | 'schedules' | 'issuers' | 'env' | 'codec-env' | 'workflow-input';
  file?: string;
  raw?: string;
  set?: [(string | number)[], unknown][];
  env?: Record<string, string>;
  workflow?: 'syncPipeline' | 'syncPair' | 'reconcilePair' | 'replayQuarantine' | 'applyPlan';
  input?: unknown;
  expect: string[];
}

const DIR = path.resolve(__dirname, '../fixtures/bad-input');
const CASES = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => [f, JSON.parse(readFileSync(path.join(DIR, f), 'utf8')) as Case] as const);

const SCHEMAS: Record<NonNullable<Case['workflow']>, z.ZodType> = {
  syncPipeline: SyncPipelineInputSchema,
  syncPair: SyncPairInputSchema,
  reconcilePair: ReconcilePairInputSchema,
  replayQuarantine: ReplayQuarantineInputSchema,
  applyPlan: ApplyPlanInputSchema,
};

/** A copy of the shipped config/ and mappings, with the case's change applied. */
function brokenCopy(c: Case): { configDir: string; mappingsDir: string; tmp: string } {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'bad-input-'));
  const configDir = path.join(tmp, 'config');
  const mappingsDir = path.join(tmp, 'mappings');
  cpSync(PROJECT_CONFIG.configDir, configDir, { recursive: true });
  cpSync(PROJECT_CONFIG.mappingsDir, mappingsDir, { recursive: true });
  if (c.file) {
    const file = c.file.startsWith('mappings/') ? path.join(mappingsDir, c.file.slice('mappings/'.length)) : path.join(configDir, c.file);
    if (c.raw !== undefined) writeFileSync(file, c.raw);
    else if (c.set) {
      const doc = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
      for (const [p, value] of c.set) {
        let cur = doc as Record<string | number, unknown>;
        for (const k of p.slice(0, -1)) cur = cur[k] as Record<string | number, unknown>;
        cur[p.at(-1)!] = value;
      }
      writeFileSync(file, JSON.stringify(doc, null, 2));
    }
  }
  return { configDir, mappingsDir, tmp };
}

/** Run the case; the error's message, or null when nothing failed. */
async function errorOf(c: Case): Promise<string | null> {
  const env = { DEMO_DATA_DIR: '/tmp/bad-input-demo', ...c.env };
  const attempt = async (fn: () => unknown): Promise<string | null> => {
    try {
      await fn();
      return null;
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    }
  };
  switch (c.kind) {
    case 'env':
      return attempt(() => parseWorkerEnv(env));
    case 'codec-env':
      return attempt(() => dataConverterFromEnv(env));
    case 'workflow-input':
      return attempt(() => parseWorkflowInput(SCHEMAS[c.workflow!], c.input ?? undefined, '{}'));
    default: {
      const { configDir, mappingsDir, tmp } = brokenCopy(c);
      try {
        if (c.kind === 'config') return await attempt(() => loadRegistry({ configDir, mappingsDir, env }));
        if (c.kind === 'schedules') return await attempt(() => loadScheduleEntries(configDir));
        return await attempt(() => loadApprovalKeyring(path.join(configDir, 'approval-issuers.json'), env));
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    }
  }
}

test('the corpus has at least 30 cases over every kind of input', () => {
  expect(CASES.length).toBeGreaterThanOrEqual(30);
  const kinds = new Set(CASES.map(([, c]) => c.kind));
  expect([...kinds].sort()).toEqual(['codec-env', 'config', 'env', 'issuers', 'schedules', 'workflow-input']);
  const files = new Set(CASES.map(([, c]) => c.file?.split('/')[0]).filter(Boolean));
  for (const f of ['systems.json', 'pipelines', 'pairs', 'mappings', 'schedules.json', 'approval-issuers.json']) expect(files).toContain(f);
});

test('the shipped configuration itself loads (the corpus breaks it one thing at a time)', async () => {
  const env = { DEMO_DATA_DIR: '/tmp/bad-input-demo', APPROVALS_DEMO_SECRET: 'x'.repeat(40) };
  expect(loadRegistry({ ...PROJECT_CONFIG, env }).pipelines.size).toBeGreaterThan(0);
  expect(loadScheduleEntries(PROJECT_CONFIG.configDir).length).toBeGreaterThan(0);
  await expect(loadApprovalKeyring(path.join(PROJECT_CONFIG.configDir, 'approval-issuers.json'), env)).resolves.not.toBeNull();
  expect(() => parseWorkerEnv({})).not.toThrow();
});

describe.each(CASES)('%s', (_file, c) => {
  test(`${c.what}: refused, naming ${c.expect.map((e) => JSON.stringify(e)).join(', ')}`, async () => {
    const message = await errorOf(c);
    expect(message).not.toBeNull();
    for (const e of c.expect) expect(message).toContain(e);
  });
});
