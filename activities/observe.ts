import { activityInfo, Context, log } from '@temporalio/activity';
import { ApplicationFailure, type MetricMeter } from '@temporalio/common';
import { isSyncError } from '../contracts/errors';
import type { Registry } from '../pipelines/load';
import { readPath } from '../mappings/record-path';
import type { RunEvent, StateStore } from '../state/types';

/**
 * Observation of the sync activities, wrapped around them in createActivities so that the steps
 * themselves stay plain: per page and step a timing (a `page` run event in the state store, for
 * the run report) and a latency histogram; records read / created / updated / unchanged /
 * quarantined / echoes suppressed as counters per pipeline or pair; 429s and retried attempts
 * per system. Metrics go through the activity's metric meter (Temporal's runtime exports them
 * when the worker installed a Prometheus endpoint, WORKER_METRICS_PORT; otherwise they are
 * dropped). Observation never fails a step: a store error is logged and the step goes on.
 */

export const METRICS = {
  records: 'crm_erp_sync_records',
  stepDuration: 'crm_erp_sync_page_step_duration',
  rateLimited: 'crm_erp_sync_rate_limited',
  retries: 'crm_erp_sync_activity_retries',
  approvalsWaiting: 'crm_erp_sync_approvals_waiting',
} as const;

interface ObserveDeps {
  registry: Registry;
  store: StateStore;
}

/** The page reference every page step takes as its first argument (pipelines and pairs). */
interface StepRef {
  syncId: string;
  seq: number;
  pipeline?: string;
  pair?: string;
  side?: string;
}

const isStepRef = (v: unknown): v is StepRef =>
  typeof v === 'object' && v !== null && typeof (v as StepRef).syncId === 'string' && typeof (v as StepRef).seq === 'number' &&
  (typeof (v as StepRef).pipeline === 'string' || typeof (v as StepRef).pair === 'string');

type Counts = Partial<Record<'read' | 'created' | 'updated' | 'unchanged' | 'quarantined' | 'echo' | 'deleted', number>>;

const sum = (v: unknown): number =>
  typeof v === 'number' ? v : v && typeof v === 'object' ? Object.values(v as Record<string, unknown>).reduce<number>((n, x) => n + sum(x), 0) : 0;

/** What a step's result says happened to records (the same numbers the workflows add to their totals). */
export function countsOf(step: string, result: unknown): Counts {
  const r = (result ?? {}) as Record<string, unknown>;
  switch (step) {
    case 'fetchPage':
    case 'fetchQuarantined':
    case 'fetchPairPage':
      return { read: sum(r.count) };
    case 'mapPage':
      return { quarantined: sum(r.quarantined) };
    case 'preparePage':
      return { read: sum(r.count), quarantined: sum(r.quarantined), unchanged: sum((r.plan as Record<string, unknown> | null)?.unchanged) };
    case 'planPage':
      return { unchanged: sum(r.unchanged) };
    case 'preparePairPage': {
      const plan = (r.plan ?? {}) as Record<string, unknown>;
      return { read: sum(r.count), unchanged: sum(plan.unchanged), quarantined: sum(plan.quarantined), echo: sum(plan.echoes) };
    }
    case 'planPairPage':
      return { unchanged: sum(r.unchanged), quarantined: sum(r.quarantined), echo: sum(r.echoes) };
    case 'writePage':
      return { created: sum(r.created), updated: sum(r.updated), quarantined: sum(r.quarantined) };
    case 'writePairPage':
      return { created: sum(r.created), updated: sum(r.updated), deleted: sum(r.deleted), quarantined: sum(r.quarantined) };
    default:
      return {};
  }
}

/** How many records a step handled, for the report's page table. */
const handled = (step: string, result: unknown): number | undefined => {
  const r = (result ?? {}) as Record<string, unknown>;
  if (step.startsWith('fetch') || step === 'preparePage' || step === 'preparePairPage') return sum(r.count);
  if (step === 'mapPage') return sum(r.valid) + sum(r.quarantined);
  if (step === 'planPage') return sum(r.creates) + sum(r.updates) + sum(r.unchanged);
  if (step === 'planPairPage') return sum(r.planned);
  if (step.startsWith('write')) return Object.values(countsOf(step, result)).reduce((a, b) => a + (b ?? 0), 0);
  return undefined;
};

/** The external system a step talks to (the store-only steps talk to none). */
function systemOf(registry: Registry, step: string, ref: StepRef): string {
  if (ref.pipeline) {
    const p = registry.pipelines.get(ref.pipeline);
    if (!p) return 'unknown';
    if (step.startsWith('fetch') || step === 'preparePage') return p.source.system;
    if (step.startsWith('write')) return p.target.system;
    return 'state';
  }
  const pair = registry.pairs.get(ref.pair!);
  if (!pair) return 'unknown';
  if ((step === 'fetchPairPage' || step === 'preparePairPage') && ref.side) return pair.sides[ref.side]?.system ?? 'unknown';
  if (step === 'planPairPage' || step === 'writePairPage') return [...new Set(Object.values(pair.sides).map((s) => s.system))].sort().join('+');
  return 'state';
}

const errorType = (err: unknown): string | undefined =>
  isSyncError(err) ? err.type : err instanceof ApplicationFailure ? (err.type ?? undefined) : undefined;

const meterOrNull = (): MetricMeter | null => {
  try {
    return Context.current().metricMeter;
  } catch {
    return null; // outside an activity (plain loops, benchmarks)
  }
};

/** Wrap the page steps (activities whose first argument is a page reference) with observation. */
export function withObservation<T extends Record<string, (...args: never[]) => Promise<unknown>>>(activities: T, deps: ObserveDeps): T {
  const wrapped: Record<string, unknown> = {};
  for (const [step, fn] of Object.entries(activities)) {
    wrapped[step] = async (...args: never[]) => {
      const ref = args[0] as unknown;
      if (!isStepRef(ref)) return fn(...args);
      let attempt = 1;
      try {
        attempt = activityInfo().attempt;
      } catch {
        // outside an activity
      }
      const name = ref.pipeline ?? ref.pair!;
      const system = systemOf(deps.registry, step, ref);
      const meter = meterOrNull();
      const events: RunEvent[] = [];
      if (attempt > 1) {
        meter?.createCounter(METRICS.retries, '1', 'Activity attempts after the first, per system and step').add(1, { pipeline: name, system, step });
        events.push({ kind: 'retry', at: new Date().toISOString(), data: { step, seq: ref.seq, attempt, system, ...(ref.side ? { side: ref.side } : {}) } });
      }
      const startedAt = new Date();
      const t0 = performance.now();
      try {
        const result = await fn(...args);
        const ms = Math.round((performance.now() - t0) * 10) / 10;
        meter?.createHistogram(METRICS.stepDuration, 'float', 'ms', 'Duration of one page step').record(ms, { pipeline: name, step });
        const counter = meter?.createCounter(METRICS.records, '1', 'Records per outcome (read, created, updated, unchanged, quarantined, echo, deleted)');
        for (const [outcome, n] of Object.entries(countsOf(step, result))) if (n) counter?.add(n, { pipeline: name, outcome });
        const count = handled(step, result);
        events.push({
          kind: 'page',
          at: new Date().toISOString(),
          data: { step, seq: ref.seq, ...(ref.side ? { side: ref.side } : {}), startedAt: startedAt.toISOString(), ms, ...(count !== undefined ? { count } : {}), attempt },
        });
        for (const n of (result as { notices?: { kind: string }[] } | null)?.notices ?? []) {
          if (n.kind === 'conflict') events.push({ kind: 'conflict', at: new Date().toISOString(), data: { seq: ref.seq, ...n } });
        }
        return result;
      } catch (err) {
        if (errorType(err) === 'RateLimited') {
          meter?.createCounter(METRICS.rateLimited, '1', 'Steps refused with 429 / RateLimited, per system').add(1, { pipeline: name, system, step });
        }
        throw err;
      } finally {
        // A dry run's steps (they carry its plan id) store their plan and nothing else: no run events.
        if (!('dryRunPlanId' in ref) && !('planId' in ref)) await deps.store.addRunEvents(ref.syncId, events).catch((e: unknown) => log.warn('run events not recorded', { step, error: (e as Error).message }));
      }
    };
  }
  return wrapped as T;
}

/** At most this many updates per page get a before/after sample in the run report. */
export const CHANGE_SAMPLES_PER_PAGE = 5;

/** `{a: {b: 1}}` → `{'a.b': 1}` (arrays and scalars are leaves). */
function flatten(v: Record<string, unknown>, prefix = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  for (const [k, x] of Object.entries(v)) {
    if (x && typeof x === 'object' && !Array.isArray(x)) flatten(x as Record<string, unknown>, `${prefix}${k}.`, out);
    else out[`${prefix}${k}`] = x;
  }
  return out;
}

/** Field-level before/after of two canonical records (fields equal in both are left out). */
export function fieldChanges(before: Record<string, unknown>, after: Record<string, unknown>): { field: string; before: unknown; after: unknown; currency?: string }[] {
  const b = flatten(before);
  const a = flatten(after);
  return [...new Set([...Object.keys(b), ...Object.keys(a)])]
    .sort()
    .filter((k) => JSON.stringify(b[k] ?? null) !== JSON.stringify(a[k] ?? null))
    .map((k) => {
      const change = { field: k, before: b[k] ?? null, after: a[k] ?? null };
      const currency = k.endsWith('.amountMinor') ? moneyCurrency(b, a, `${k.slice(0, -'amountMinor'.length)}currency`) : undefined;
      return currency ? { ...change, currency } : change;
    });
}

/** The currency of a minor-unit field's sibling `currency`, when both sides hold the same one (so a report shows "1,226.75 EUR"). */
function moneyCurrency(b: Record<string, unknown>, a: Record<string, unknown>, key: string): string | undefined {
  const cb = b[key];
  const ca = a[key];
  const c = ca ?? cb;
  return typeof c === 'string' && /^[A-Z]{3}$/.test(c) && (cb === undefined || cb === null || cb === c) ? c : undefined;
}

/**
 * `change` run events for the first updates of a planned page whose previous value is known
 * (pipelines whose links keep the values they wrote: those with approval watchFields). Only
 * fields with a known previous value are compared: a link keeps hashes of the others, and a
 * field it holds no value for is not "new".
 */
export function changeSamples(
  ops: { index: number; sourceKey: string; op: 'create' | 'update' }[],
  records: { fields: Record<string, unknown> }[],
  bindings: Map<string, { fields?: Record<string, unknown> }>,
): RunEvent[] {
  const out: RunEvent[] = [];
  for (const o of ops) {
    if (out.length >= CHANGE_SAMPLES_PER_PAGE) break;
    const previous = bindings.get(o.sourceKey)?.fields;
    if (o.op !== 'update' || !previous) continue;
    const known = new Set(Object.keys(flatten(previous)));
    const fields = fieldChanges(previous, records[o.index]!.fields).filter((f) => known.has(f.field));
    if (fields.length) out.push({ kind: 'change', at: new Date().toISOString(), data: { sourceKey: o.sourceKey, op: o.op, fields } });
  }
  return out;
}

/**
 * A `change` run event for one patch of a two-way pair: the written side's record as it was read
 * (canonical values) against the values the patch writes, per changed field. Null when the patch
 * changes nothing there is a value for on either side.
 */
export function pairChangeSample(side: string, key: string, current: Record<string, unknown>, patch: Record<string, unknown>): RunEvent | null {
  const fields = Object.keys(patch)
    .sort()
    .flatMap((path) => fieldChanges({ v: readPath(current, path) ?? null }, { v: patch[path] ?? null }).map((c) => ({ ...c, field: c.field === 'v' ? path : `${path}${c.field.slice(1)}` })));
  return fields.length ? { kind: 'change', at: new Date().toISOString(), data: { sourceKey: key, side, op: 'update', fields } } : null;
}
