import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { PIPELINE_FAMILIES, TASK_QUEUES, type PipelineFamily } from '../contracts/queues';

/** What the CLI needs of a pipeline or pair file: its name and family (full validation is the worker's). */
const NamedSchema = z.object({ name: z.string(), family: z.enum(PIPELINE_FAMILIES as [PipelineFamily, ...PipelineFamily[]]) });

export interface Configured {
  kind: 'pipeline' | 'pair';
  name: string;
  family: PipelineFamily;
  taskQueue: string;
}

/** Pipelines (config/pipelines) and pairs (config/pairs) by name; unreadable files are skipped. */
export function configuredSyncs(configDir: string): Map<string, Configured> {
  const out = new Map<string, Configured>();
  for (const [kind, folder] of [['pipeline', 'pipelines'], ['pair', 'pairs']] as const) {
    const dir = path.join(configDir, folder);
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.json')).sort()) {
      try {
        const r = NamedSchema.safeParse(JSON.parse(readFileSync(path.join(dir, f), 'utf8')));
        if (r.success) out.set(r.data.name, { kind, name: r.data.name, family: r.data.family, taskQueue: TASK_QUEUES[r.data.family] });
      } catch {
        // a broken file is the worker's to report, with its path
      }
    }
  }
  return out;
}
