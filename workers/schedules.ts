/**
 * Temporal Schedules from config: `npm run schedules [-- --dry-run]`. Every pipeline with a
 * `schedule` (config/pipelines/*.json) and every entry of config/schedules.json becomes one
 * Schedule, applied idempotently: created when missing, updated when its config changed (a hash
 * kept in the started workflows' memo), left alone when equal; schedules this tool made that are
 * no longer configured are reported (never deleted: `temporal schedule delete -s <id>`).
 */
import { Client, ScheduleNotFoundError, ScheduleOverlapPolicy, type ScheduleOptions, type ScheduleSpec } from '@temporalio/client';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { durationMs, planHash } from '../contracts/approval';
import { TASK_QUEUES, PIPELINE_FAMILIES, type PipelineFamily } from '../contracts/queues';
import { PipelineScheduleSchema, type PipelineSchedule } from '../contracts/schedules';
import { PipelineSchema, type Pipeline } from '../pipelines/schema';
import { PairSchema, type Pair } from '../contracts/pair';
import { dataConverterFromEnv } from './codec';
import { parseWorkerEnv } from './config';
import { loadEnvFile } from './env-file';
import { connectClient } from './temporal-connection';

/** Marks schedules this tool owns (so unconfigured ones can be reported). */
export const MANAGED_BY = 'crm-erp-sync';

export interface ScheduleEntry {
  scheduleId: string;
  workflowType: string;
  taskQueue: string;
  args: unknown[];
  schedule: PipelineSchedule;
}

/** config/schedules.json: scheduled workflows that are not pipelines (e.g. the deal watcher). */
const ExtraScheduleSchema = z
  .object({
    workflowType: z.enum(['dealWatcher', 'opportunityWatcher', 'syncPipeline', 'syncPair']),
    family: z.enum(PIPELINE_FAMILIES as [PipelineFamily, ...PipelineFamily[]]),
    input: z.record(z.string(), z.unknown()).default({}),
    schedule: PipelineScheduleSchema,
  })
  .strict();

export function scheduleEntriesFromPipelines(pipelines: Iterable<Pipeline>): ScheduleEntry[] {
  return [...pipelines].flatMap((p) =>
    p.schedule
      ? [{ scheduleId: `pipeline:${p.name}`, workflowType: 'syncPipeline', taskQueue: TASK_QUEUES[p.family as PipelineFamily], args: [{ pipeline: p.name }], schedule: p.schedule }]
      : [],
  );
}

/** A pair with a `schedule` runs `syncPair` on it, as schedule `pair:<name>`. */
export function scheduleEntriesFromPairs(pairs: Iterable<Pair>): ScheduleEntry[] {
  return [...pairs].flatMap((p) =>
    p.schedule
      ? [{ scheduleId: `pair:${p.name}`, workflowType: 'syncPair', taskQueue: TASK_QUEUES[p.family as PipelineFamily], args: [{ pair: p.name }], schedule: p.schedule }]
      : [],
  );
}

/** Read pipeline and pair schedules and config/schedules.json; a bad file names itself and the path. */
export function loadScheduleEntries(configDir: string): ScheduleEntry[] {
  const parse = <S extends z.ZodType>(schema: S, file: string, value: unknown): z.infer<S> => {
    const r = schema.safeParse(value);
    if (r.success) return r.data;
    const i = r.error.issues[0]!;
    throw new Error(`${file}: ${i.path.join('.')}: ${i.message}`);
  };
  const readJson = (file: string): unknown => {
    try {
      return JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new Error(`${file}: not JSON (${err instanceof Error ? err.message : String(err)})`);
    }
  };
  const dir = path.join(configDir, 'pipelines');
  const pipelines = (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')).sort() : []).map((f) =>
    parse(PipelineSchema, path.join(dir, f), readJson(path.join(dir, f))),
  );
  const entries = scheduleEntriesFromPipelines(pipelines);
  const pairDir = path.join(configDir, 'pairs');
  const pairs = (existsSync(pairDir) ? readdirSync(pairDir).filter((f) => f.endsWith('.json')).sort() : []).map((f) =>
    parse(PairSchema, path.join(pairDir, f), readJson(path.join(pairDir, f))),
  );
  entries.push(...scheduleEntriesFromPairs(pairs));
  const extraFile = path.join(configDir, 'schedules.json');
  if (existsSync(extraFile)) {
    const raw = readJson(extraFile) as Record<string, unknown>;
    for (const [id, v] of Object.entries(raw)) {
      if (id.startsWith('$')) continue;
      const e = parse(ExtraScheduleSchema, `${extraFile}: ${id}`, v);
      entries.push({ scheduleId: id, workflowType: e.workflowType, taskQueue: TASK_QUEUES[e.family], args: [e.input], schedule: e.schedule });
    }
  }
  return entries;
}

const OVERLAP: Record<PipelineSchedule['overlap'], ScheduleOverlapPolicy> = {
  skip: ScheduleOverlapPolicy.SKIP, 'buffer-one': ScheduleOverlapPolicy.BUFFER_ONE, 'buffer-all': ScheduleOverlapPolicy.BUFFER_ALL,
  'cancel-other': ScheduleOverlapPolicy.CANCEL_OTHER, 'terminate-other': ScheduleOverlapPolicy.TERMINATE_OTHER, 'allow-all': ScheduleOverlapPolicy.ALLOW_ALL,
};

function specOf(s: PipelineSchedule): ScheduleSpec {
  return {
    ...(s.interval ? { intervals: [{ every: durationMs(s.interval) }] } : {}),
    ...(s.cron ? { cronExpressions: [s.cron] } : {}),
    ...(s.calendar ? { calendars: [s.calendar as NonNullable<ScheduleSpec['calendars']>[number]] } : {}),
    ...(s.timeZone ? { timezone: s.timeZone } : {}),
  };
}

function optionsOf(e: ScheduleEntry, hash: string): ScheduleOptions {
  return {
    scheduleId: e.scheduleId,
    spec: specOf(e.schedule),
    action: {
      type: 'startWorkflow', workflowType: e.workflowType, taskQueue: e.taskQueue, args: e.args, workflowId: `${e.scheduleId}`,
      memo: { managedBy: MANAGED_BY, scheduleConfigHash: hash },
    },
    policies: { overlap: OVERLAP[e.schedule.overlap], catchupWindow: durationMs(e.schedule.catchupWindow), pauseOnFailure: e.schedule.pauseOnFailure },
    state: { paused: e.schedule.paused, note: `managed by ${MANAGED_BY} (npm run schedules)` },
    memo: { managedBy: MANAGED_BY },
  };
}

export interface ApplyReport {
  created: string[];
  updated: string[];
  unchanged: string[];
  /** Schedules this tool made earlier that no config declares any more. */
  notConfigured: string[];
}

/** Apply the entries to Temporal Schedules (idempotent). `dryRun` reports without writing. */
export async function applySchedules(client: Client, entries: ScheduleEntry[], opts: { dryRun?: boolean } = {}): Promise<ApplyReport> {
  const report: ApplyReport = { created: [], updated: [], unchanged: [], notConfigured: [] };
  for (const e of entries) {
    const hash = planHash(e);
    const options = optionsOf(e, hash);
    const handle = client.schedule.getHandle(e.scheduleId);
    let current: Awaited<ReturnType<typeof handle.describe>> | null = null;
    try {
      current = await handle.describe();
    } catch (err) {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
    }
    if (!current) {
      if (!opts.dryRun) await client.schedule.create(options);
      report.created.push(e.scheduleId);
      continue;
    }
    const currentHash = current.action.type === 'startWorkflow' ? current.action.memo?.scheduleConfigHash : undefined;
    if (currentHash === hash) {
      report.unchanged.push(e.scheduleId);
      continue;
    }
    if (!opts.dryRun) {
      // A full replacement; an operator's pause (toggle) is kept.
      await handle.update((prev) => ({ ...prev, spec: options.spec, action: options.action, policies: { ...prev.policies, ...options.policies } }));
    }
    report.updated.push(e.scheduleId);
  }
  const configured = new Set(entries.map((e) => e.scheduleId));
  for await (const s of client.schedule.list()) {
    if (s.memo?.managedBy === MANAGED_BY && !configured.has(s.scheduleId)) report.notConfigured.push(s.scheduleId);
  }
  return report;
}

/**
 * The report as `npm run schedules` prints it. A dry run writes nothing, so it says what a real
 * run would do ("would create", "would update"); schedules no longer configured are only ever
 * reported, never deleted, by either.
 */
export function formatReport(r: ApplyReport, dryRun: boolean): string {
  const rows: [string, string[]][] = [
    [dryRun ? 'would create' : 'created', r.created],
    [dryRun ? 'would update' : 'updated', r.updated],
    ['unchanged', r.unchanged],
    ['not configured', r.notConfigured],
  ];
  const lines = rows.map(([label, ids]) => `${label.padEnd(15)} ${ids.length ? ids.join(', ') : '-'}`);
  if (r.notConfigured.length) lines.push('(not deleted; remove with: temporal schedule delete -s <id>)');
  if (dryRun) lines.push('dry run: nothing was changed');
  return lines.join('\n');
}

async function main(): Promise<void> {
  loadEnvFile();
  const env = parseWorkerEnv(process.env);
  const entries = loadScheduleEntries(env.SYNC_CONFIG_DIR);
  const dataConverter = dataConverterFromEnv(process.env); // schedule arguments and memos are encrypted too
  const connection = await connectClient(env.temporal);
  try {
    const client = new Client({ connection, namespace: env.temporal.namespace, dataConverter });
    const dryRun = process.argv.includes('--dry-run');
    console.log(formatReport(await applySchedules(client, entries, { dryRun }), dryRun));
  } finally {
    await connection.close();
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
