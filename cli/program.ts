/**
 * The operator CLI's commands (`npx crm-erp-sync …`). Everything it needs comes in as `CliDeps`,
 * so tests run it in-process against a dev server and a state store. Syncs and replays are
 * started through Temporal; the state store is read directly (and written only by `dismiss`).
 */
import { WorkflowFailedError, type WorkflowExecutionInfo } from '@temporalio/client';
import { Command, CommanderError, Option } from 'commander';
import { writeFileSync } from 'node:fs';
import { ReplayQuarantineInputSchema, type ReplayResult } from '../contracts/replay';
import { SA_PIPELINE, SA_STATUS } from '../contracts/search-attributes';
import { PipelineNameSchema } from '../contracts/sync';
import type { QuarantineFilter, QuarantineRow } from '../state/types';
import { configuredSyncs, type Configured } from './config';
import { CliError, EXIT, type CliDeps } from './common';
import { addPlanCommands } from './plan';
import { formatReport, loadReportView, renderReportHtml } from './report';
import { clip, duration, table, when } from './format';

export { CliError, EXIT, type CliDeps } from './common';

/** Workflow types that are syncs of a pipeline or pair. */
export const SYNC_WORKFLOW_TYPES = ['syncPipeline', 'syncPair', 'replayQuarantine', 'applyPlan', 'applyPairPlan'] as const;

interface JsonOpt {
  json?: boolean;
}

const intArg = (name: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new CliError(EXIT.usage, `${name}: expected a whole number ≥ 1, got "${v}"`);
  return n;
};

const pipelineName = (v: string): string => {
  const r = PipelineNameSchema.safeParse(v);
  if (!r.success) throw new CliError(EXIT.usage, `"${v}": ${r.error.issues[0]!.message}`);
  return v;
};

/** Read, created, updated, unchanged, quarantined of a syncPipeline, syncPair or replay progress. */
function countsOf(progress: unknown): Record<string, number> {
  const t = (progress as { totals?: Record<string, unknown> } | null)?.totals;
  if (!t) return {};
  const sides = t.sides as Record<string, Record<string, number>> | undefined;
  if (!sides) return t as Record<string, number>;
  const sum = (k: string) => Object.values(sides).reduce((n, s) => n + (s[k] ?? 0), 0);
  return { read: sum('read'), created: sum('created'), updated: sum('updated'), unchanged: Number(t.unchanged ?? 0), quarantined: sum('quarantined'), retries: Number(t.retries ?? 0) };
}

export function buildProgram(deps: CliDeps): Command {
  const println = (s: string) => deps.stdout(`${s}\n`);
  const json = (v: unknown) => println(JSON.stringify(v, null, 2));
  const syncs = () => configuredSyncs(deps.env.SYNC_CONFIG_DIR);

  const program = new Command('crm-erp-sync')
    .description('Operate crm-erp-sync: syncs, run reports, quarantine, schedules (Temporal at $TEMPORAL_ADDRESS, state store at $SYNC_STATE_DB)')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: deps.stdout, writeErr: deps.stderr });

  // ── status ──────────────────────────────────────────────────────────────────────────────────
  program
    .command('status')
    .description('running and recent syncs of pipelines and pairs, with live progress of running ones')
    .option('-p, --pipeline <name>', 'only this pipeline or pair', pipelineName)
    .option('-n, --limit <n>', 'recent (closed) syncs to show', intArg('--limit'), 10)
    .option('--json', 'machine-readable output')
    .action(async (opts: JsonOpt & { pipeline?: string; limit: number }) => {
      const client = await deps.client();
      let query = `(${SYNC_WORKFLOW_TYPES.map((t) => `WorkflowType = '${t}'`).join(' OR ')})`;
      if (opts.pipeline) query += ` AND SyncPipeline = '${opts.pipeline}'`;
      const take = async (q: string, n: number): Promise<WorkflowExecutionInfo[]> => {
        const out: WorkflowExecutionInfo[] = [];
        for await (const wf of client.workflow.list({ query: q, pageSize: Math.min(n, 100) })) {
          out.push(wf);
          if (out.length >= n) break;
        }
        return out;
      };
      const running = await take(`${query} AND ExecutionStatus = 'Running'`, 100);
      const recent = await take(`${query} AND ExecutionStatus != 'Running'`, opts.limit);
      const progressOf = async (wf: WorkflowExecutionInfo): Promise<unknown> =>
        client.connection
          .withDeadline(Date.now() + 3000, () => client.workflow.getHandle(wf.workflowId, wf.runId).query<unknown>('progress'))
          .catch(() => null);
      const rows = await Promise.all(
        [...running, ...recent].map(async (wf) => {
          const isRunning = wf.status.name === 'RUNNING';
          const progress = isRunning ? await progressOf(wf) : null;
          return {
            workflowId: wf.workflowId,
            runId: wf.runId,
            type: wf.type,
            pipeline: wf.typedSearchAttributes.get(SA_PIPELINE) ?? null,
            status: (progress as { status?: string } | null)?.status ?? wf.typedSearchAttributes.get(SA_STATUS) ?? wf.status.name.toLowerCase(),
            execution: wf.status.name.toLowerCase(),
            step: (progress as { step?: string } | null)?.step ?? null,
            startTime: wf.startTime.toISOString(),
            closeTime: wf.closeTime?.toISOString() ?? null,
            counts: countsOf(progress),
            progress,
          };
        }),
      );
      if (opts.json) return json({ running: rows.filter((r) => r.execution === 'running'), recent: rows.filter((r) => r.execution !== 'running') });
      const render = (list: typeof rows) =>
        table(
          ['workflow', 'type', 'pipeline', 'status', 'step', 'read', 'created', 'updated', 'quarantined', 'started', 'took'],
          list.map((r) => [
            clip(r.workflowId, 40), r.type, r.pipeline, r.status, r.step, r.counts.read, r.counts.created, r.counts.updated, r.counts.quarantined,
            when(r.startTime), r.closeTime ? duration(Date.parse(r.closeTime) - Date.parse(r.startTime)) : duration(Date.now() - Date.parse(r.startTime)),
          ]),
        );
      const live = rows.filter((r) => r.execution === 'running');
      const done = rows.filter((r) => r.execution !== 'running');
      println(live.length ? `running (${live.length})\n${render(live)}` : 'running: none');
      println(done.length ? `\nrecent (${done.length})\n${render(done)}` : '\nrecent: none');
      println('(counts of closed syncs: crm-erp-sync runs <pipeline>)');
    });

  // ── runs ────────────────────────────────────────────────────────────────────────────────────
  program
    .command('runs')
    .description('run reports of a pipeline or pair from the state store, newest first')
    .argument('<name>', 'pipeline or pair', pipelineName)
    .option('-n, --limit <n>', 'how many', intArg('--limit'), 20)
    .option('--json', 'machine-readable output')
    .action(async (name: string, opts: JsonOpt & { limit: number }) => {
      const reports = await deps.store().listRunReports(name, opts.limit);
      if (reports.length === 0) {
        const known = syncs().has(name);
        throw new CliError(EXIT.notFound, known ? `no runs of ${name} recorded yet` : `no runs of "${name}" recorded; configured: ${[...syncs().keys()].join(', ')}`);
      }
      if (opts.json) return json(reports);
      // Syncs, pairs and replays keep different totals: the common ones first, then the rest.
      const common = ['read', 'created', 'updated', 'unchanged', 'quarantined'];
      const rest = [...new Set(reports.flatMap((r) => Object.keys(r.totals)))].filter((k) => !common.includes(k) && k !== 'pages' && k !== 'selected');
      const keys = [...common, ...rest.sort()];
      println(
        table(
          ['sync', 'status', 'finished', 'took', ...keys],
          reports.map((r) => [r.syncId, r.status, when(r.finishedAt), duration(Date.parse(r.finishedAt) - Date.parse(r.startedAt)), ...keys.map((k) => r.totals[k] ?? null)]),
        ),
      );
    });

  // ── report ──────────────────────────────────────────────────────────────────────────────────
  program
    .command('report')
    .description('what one sync did, as text or as a self-contained HTML page (by sync id, or workflow id for its newest sync)')
    .argument('<syncId>', 'e.g. sync:demo-accounts@<runId> or sync:demo-accounts')
    .option('--html <file>', 'also write the report as one HTML file (inline CSS and chart; holds record values: keep it local)')
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts: JsonOpt & { html?: string }) => {
      const view = await loadReportView(deps.store(), id);
      if (!view) throw new CliError(EXIT.notFound, `no run report for "${id}" (reports are written when a sync ends; see crm-erp-sync runs <pipeline>)`);
      if (opts.html) {
        writeFileSync(opts.html, renderReportHtml(view), { mode: 0o600 });
      }
      if (opts.json) return json({ ...view.report, ...view, report: undefined, quarantined: view.quarantined.map(({ record: _r, ...q }) => q), ...(opts.html ? { html: opts.html } : {}) });
      println(formatReport(view));
      if (opts.html) println(`\nHTML report written to ${opts.html}`);
    });

  // ── quarantine ──────────────────────────────────────────────────────────────────────────────
  const quarantine = program.command('quarantine').description('records held back with their reasons: list, show, replay, dismiss');

  quarantine
    .command('list')
    .description('open entries with reason, field, rule, attempts, first and last seen')
    .option('-p, --pipeline <name>', 'only this pipeline or pair (default: all configured)', pipelineName)
    .option('-r, --rule <rule>', 'only this rule, e.g. countryCode')
    .option('-f, --field <field>', 'only this field, e.g. address.countryCode')
    .option('-n, --limit <n>', 'entries per pipeline', intArg('--limit'), 50)
    .option('--json', 'machine-readable output')
    .action(async (opts: JsonOpt & { pipeline?: string; rule?: string; field?: string; limit: number }) => {
      const names = opts.pipeline ? [opts.pipeline] : [...syncs().keys()];
      const filter: QuarantineFilter = { ...(opts.rule ? { rule: opts.rule } : {}), ...(opts.field ? { field: opts.field } : {}) };
      const rows: QuarantineRow[] = [];
      let more = false;
      for (const n of names) {
        const got = await deps.store().listQuarantine(n, opts.limit + 1, filter);
        more ||= got.length > opts.limit;
        rows.push(...got.slice(0, opts.limit));
      }
      if (rows.length === 0 && opts.pipeline && !syncs().has(opts.pipeline)) {
        throw new CliError(EXIT.notFound, `unknown pipeline or pair "${opts.pipeline}"; configured: ${[...syncs().keys()].join(', ')}`);
      }
      if (opts.json) return json(rows.map(({ record: _r, ...q }) => q));
      if (rows.length === 0) return println('no open quarantine entries match');
      println(
        table(
          ['pipeline', 'key', 'stage', 'field', 'rule', 'attempts', 'first seen', 'last seen', 'reason'],
          rows.map((q) => [q.pipeline, q.sourceKey, q.stage, q.field, q.rule, q.attempts, when(q.firstSeenAt), when(q.lastSeenAt), clip(q.reason, 70)]),
        ),
      );
      if (more) println(`(more entries than --limit ${opts.limit}; narrow with --rule/--field or raise --limit)`);
    });

  quarantine
    .command('show')
    .description('one entry in full, with the raw source record')
    .argument('<pipeline>', 'pipeline or pair', pipelineName)
    .argument('<key>', 'source key')
    .option('--json', 'machine-readable output')
    .action(async (pipeline: string, key: string, opts: JsonOpt) => {
      const [q] = await deps.store().listQuarantine(pipeline, 1, { keys: [key] });
      if (!q) throw new CliError(EXIT.notFound, `no open quarantine entry for ${pipeline} #${key}`);
      if (opts.json) return json(q);
      println(
        [
          `pipeline    ${q.pipeline}`, `key         ${q.sourceKey}`, `stage       ${q.stage}`, `field       ${q.field ?? '-'}`, `rule        ${q.rule}`,
          `reason      ${q.reason}`, `attempts    ${q.attempts}`, `first seen  ${when(q.firstSeenAt)}`, `last seen   ${when(q.lastSeenAt)}`, `last sync   ${q.syncId}`,
          `record      ${JSON.stringify(q.record, null, 2).replace(/\n/g, '\n            ')}`,
        ].join('\n'),
      );
    });

  quarantine
    .command('replay')
    .description('re-read quarantined records by key and sync them now (a replayQuarantine workflow); fixed ones are released')
    .requiredOption('-p, --pipeline <name>', 'the pipeline', pipelineName)
    .option('-r, --rule <rule>', 'only entries of this rule')
    .option('-f, --field <field>', 'only entries of this field')
    .argument('[keys...]', 'only these source keys')
    .option('--no-wait', 'start it and print the workflow id instead of waiting for the result')
    .option('--json', 'machine-readable output')
    .action(async (keys: string[], opts: JsonOpt & { pipeline: string; rule?: string; field?: string; wait: boolean }) => {
      const target = requirePipeline(syncs(), opts.pipeline);
      const input = ReplayQuarantineInputSchema.safeParse({
        pipeline: opts.pipeline,
        ...(keys.length ? { keys } : {}),
        ...(opts.rule ? { rule: opts.rule } : {}),
        ...(opts.field ? { field: opts.field } : {}),
      });
      if (!input.success) throw new CliError(EXIT.usage, input.error.issues.map((i) => i.message).join('; '));
      const filter: QuarantineFilter = { ...(keys.length ? { keys } : {}), ...(opts.rule ? { rule: opts.rule } : {}), ...(opts.field ? { field: opts.field } : {}) };
      if ((await deps.store().listQuarantine(opts.pipeline, 1, filter)).length === 0) {
        throw new CliError(EXIT.notFound, `no open quarantine entries of ${opts.pipeline} match; nothing to replay`);
      }
      const client = await deps.client();
      const workflowId = `replay:${opts.pipeline}:${new Date().toISOString().replace(/[-:]|\.\d+/g, '')}`;
      const handle = await client.workflow.start('replayQuarantine', { taskQueue: target.taskQueue, workflowId, args: [input.data] });
      if (!opts.wait) {
        if (opts.json) return json({ workflowId, runId: handle.firstExecutionRunId });
        return println(`started ${workflowId} on ${target.taskQueue}; follow with: crm-erp-sync status -p ${opts.pipeline}`);
      }
      let result: ReplayResult;
      try {
        result = await handle.result();
      } catch (err) {
        if (err instanceof WorkflowFailedError) throw new CliError(EXIT.failure, `replay ${workflowId} failed: ${err.cause?.message ?? err.message}`);
        throw err;
      }
      if (opts.json) return json({ workflowId, ...result });
      const t = result.totals;
      println(
        `replayed ${t.selected} quarantined record(s) of ${result.pipeline} (${workflowId}): ${result.released} released ` +
          `(${t.created} created, ${t.updated} updated, ${t.unchanged} unchanged), ${t.quarantined} still quarantined, ${t.missing} no longer in the source` +
          (result.status === 'rejected' ? '; a page was rejected at the approval gate, nothing of it was written' : ''),
      );
      if (result.status !== 'completed') throw new CliError(EXIT.failure, `replay ended ${result.status}`);
    });

  quarantine
    .command('dismiss')
    .description('close entries a person has looked at, with why (they stay closed until the source record changes)')
    .requiredOption('-p, --pipeline <name>', 'pipeline or pair', pipelineName)
    .requiredOption('--reason <text>', 'why, e.g. "test account, will be deleted"')
    .option('-r, --rule <rule>', 'every open entry of this rule')
    .option('-f, --field <field>', 'every open entry of this field')
    .option('--by <who>', 'who dismisses (default: the current user)')
    .argument('[keys...]', 'source keys')
    .option('--json', 'machine-readable output')
    .action(async (keys: string[], opts: JsonOpt & { pipeline: string; reason: string; rule?: string; field?: string; by?: string }) => {
      if (keys.length === 0 && !opts.rule && !opts.field) throw new CliError(EXIT.usage, 'name the keys to dismiss, or select them with --rule / --field');
      const store = deps.store();
      const filter: QuarantineFilter = { ...(keys.length ? { keys } : {}), ...(opts.rule ? { rule: opts.rule } : {}), ...(opts.field ? { field: opts.field } : {}) };
      const selected = (await store.listQuarantine(opts.pipeline, 1_000_000, filter)).map((q) => q.sourceKey);
      const by = opts.by ?? deps.user;
      const dismissed = selected.length ? await store.dismissQuarantine(opts.pipeline, selected, opts.reason, by) : 0;
      const notOpen = keys.filter((k) => !selected.includes(k));
      if (opts.json) json({ pipeline: opts.pipeline, dismissed, keys: selected, notOpen, by, reason: opts.reason });
      else println(`dismissed ${dismissed} entr${dismissed === 1 ? 'y' : 'ies'} of ${opts.pipeline} (by ${by}: ${opts.reason})${notOpen.length ? `; not open: ${notOpen.join(', ')}` : ''}`);
      if (dismissed === 0) throw new CliError(EXIT.notFound, `no open quarantine entries of ${opts.pipeline} matched`);
    });

  // ── schedules ───────────────────────────────────────────────────────────────────────────────
  program
    .command('schedules')
    .description('Temporal Schedules: what they start, paused or not, next and last run')
    .option('--json', 'machine-readable output')
    .action(async (opts: JsonOpt) => {
      const client = await deps.client();
      const rows = [];
      for await (const s of client.schedule.list()) {
        const spec = s.spec;
        const every = spec?.intervals?.map((i) => `every ${duration(Number(i.every))}`) ?? [];
        const cron = spec?.calendars?.length ? ['calendar'] : [];
        rows.push({
          scheduleId: s.scheduleId,
          workflowType: s.action?.type === 'startWorkflow' ? s.action.workflowType : null,
          paused: s.state.paused,
          note: s.state.note ?? null,
          spec: [...every, ...cron].join(', ') || null,
          nextActionTimes: s.info.nextActionTimes.map((d) => d.toISOString()),
          lastActionAt: s.info.recentActions.at(-1)?.takenAt.toISOString() ?? null,
        });
      }
      rows.sort((a, b) => a.scheduleId.localeCompare(b.scheduleId));
      if (opts.json) return json(rows);
      if (rows.length === 0) return println('no schedules (create them from config with: npm run schedules)');
      println(
        table(
          ['schedule', 'starts', 'spec', 'state', 'next run', 'last run'],
          rows.map((r) => [r.scheduleId, r.workflowType, r.spec, r.paused ? 'paused' : 'active', r.paused ? null : when(r.nextActionTimes[0] ?? null), when(r.lastActionAt)]),
        ),
      );
    });

  // ── plan, apply (cli/plan.ts) ───────────────────────────────────────────────────────────────
  addPlanCommands(program, deps, pipelineName, intArg);

  program.addOption(new Option('--no-color', 'accepted for compatibility; output is never coloured').hideHelp());
  return program;
}

function requirePipeline(all: Map<string, Configured>, name: string): Configured {
  const c = all.get(name);
  if (!c) throw new CliError(EXIT.notFound, `unknown pipeline "${name}"; configured: ${[...all.values()].filter((x) => x.kind === 'pipeline').map((x) => x.name).join(', ')}`);
  if (c.kind === 'pair') throw new CliError(EXIT.usage, `"${name}" is a pair; replay of a pair's quarantine is not supported yet (run the pair again after the fix)`);
  return c;
}

/** Run the CLI on `argv` (without node and script); resolves to the exit code. */
export async function runCli(argv: string[], deps: CliDeps): Promise<number> {
  const program = buildProgram(deps);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (err instanceof CliError) {
      deps.stderr(`${err.message}\n`);
      return err.exitCode;
    }
    deps.stderr(`${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT.failure;
  }
}
