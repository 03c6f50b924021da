/**
 * # Dry runs and plans (design note)
 *
 * A dry run (`syncPipeline` with `mode: "dry-run"`) goes through fetch, map and plan exactly like
 * a sync; where a sync would write a page, `recordPlanPage` stores the page's plan instead: per
 * record the operation, the record to write, and the target's state as it is now: field-level
 * before/after and a hash of the target's current values (`beforeHash`). Nothing is written to
 * either system, no checkpoint and no link moves. `sealPlan` hashes the stored items in plan order
 * (the plan hash an approver approves) and counts them.
 *
 * `applyPlanPage` writes exactly the stored items. Before writing each record it reads the target
 * again and compares the hash of its current values with the plan's `beforeHash`: equal, the
 * record is written (as writePage would: upsert by external key, then its link); equal to what the
 * write leaves behind (`afterHash`), the record was already written (a retried apply) and only its
 * link is recorded; anything else changed in the target since the plan and is reported, never
 * overwritten (its link stays, so the next change of its source is planned against it again).
 *
 * "The target's values" (read by key through the target's connector): for a SQL target, the
 * columns its systems.json entity maps canonical fields to; for a target whose connector has a
 * write view (`nativeValuesOf`, e.g. HubSpot), the native fields its upsert writes; so before/after
 * are field by field. For other targets the whole record as the connector reads it (before values
 * are then unknown and shown as null, and any change of the record counts as "changed meanwhile").
 *
 * Since `dry-run-v2` a dry run writes nothing but its plan: records its mapping or validation
 * refuses are plan items of kind `quarantine` (activities/plan-items.ts), which apply quarantines.
 *
 * **What apply may advance.** The dry run stored the checkpoint it started from and the cursor it
 * read up to. When the pipeline's checkpoint is still the one the plan started from, apply moves
 * it to that cursor: every record read in between is in the plan (written, or reported), or was
 * unchanged, or quarantined, as after a sync; a source change made after the plan has a later
 * modification time and is read by the next sync. When another sync moved the checkpoint
 * meanwhile, apply keeps it: the next sync re-reads what it has to, and finds the applied records
 * unchanged through their links (no rewrite, no echo).
 */
import { heartbeat } from '@temporalio/activity';
import { withAttempt } from './attempt';
import type { Cursor } from '../contracts/cursor';
import { SyncError } from '../contracts/errors';
import { EMPTY_APPLY_TOTALS, type ApplyTotals, type PlanCounts, type PlanSummary } from '../contracts/plan';
import { stableHash, stableJson } from '../contracts/stable-json';
import { hasWriteView, type SourceRecord, type WriteView } from '../contracts/connector';
import { pathsOverlap } from '../mappings/dsl/compile';
import { readPath, setPath } from '../mappings/record-path';
import { linkSpaceOf } from '../pipelines/link-space';
import type { Pipeline } from '../pipelines/schema';
import type { LinkField, LinkUpsert, PlanItem, QuarantineEntry, RunEvent, StoredPlan } from '../state/types';
import type { SyncDeps } from './sync';
import { saveRunEnd } from './run-end';
import { ABSENT, countItem, MAX_CHANGED_KEYS, PAGE_SPAN, planItems, planReasons, quarantineDataOf } from './plan-items';
import type { MappedRecord, PageRef, PlanPage } from './sync-types';


export interface PlanChange {
  field: string;
  before: unknown;
  after: unknown;
  /** The currency of a minor-unit field (`….amountMinor`), so people read "1,226.75 EUR". */
  currency?: string;
}

/** `{ currency }` of a `….amountMinor` path from its sibling `….currency` in the record, or nothing. */
function planCurrency(fields: Record<string, unknown>, path: string): { currency?: string } {
  if (!path.endsWith('.amountMinor')) return {};
  const c = readPath(fields, `${path.slice(0, -'amountMinor'.length)}currency`);
  return typeof c === 'string' && /^[A-Z]{3}$/.test(c) ? { currency: c } : {};
}

/** What a pipeline plan item stores (PlanItem.data). */
export interface PipelinePlanItem {
  /** The target's key (an update), or null (a create: found by external key when applied). */
  targetKey: string | null;
  externalKey: string;
  changes: PlanChange[];
  /** Hash of the target's values when planned (`absent`: no such record). */
  beforeHash: string;
  /** Hash of the target's values once written (SQL targets), to recognise a write already done. */
  afterHash: string | null;
  /** The canonical record to write, its hash, the changed units (partial updates). */
  fields: Record<string, unknown>;
  hash: string;
  changed?: string[];
  linkId?: string;
  deletedSides?: string[];
  linkFields?: Record<string, LinkField>;
}

/** Compare stored values, not their driver types: SQLite's 1 and PostgreSQL's "1" are one value. */
const norm = (v: unknown): string | null => {
  if (v === undefined || v === null) return null;
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (typeof v === 'object') return v instanceof Date ? v.toISOString() : JSON.stringify(v);
  return String(v);
};

/** A target record as a plan compares it: labelled fields, each read from one native field. */
interface TargetView {
  /** Label (shown in the plan) → the native field of the target record it is read from. */
  fields(fields: Record<string, unknown>): Record<string, string>;
  /** What a whole write of `fields` puts in each label. */
  written(fields: Record<string, unknown>): Record<string, unknown>;
  /** Which labels a partial update of the `changed` units writes. */
  writes(fields: Record<string, unknown>, changed: string[]): (label: string) => boolean;
  norm(v: unknown): string | null;
}

/** A SQL target: canonical path → column (systems.json). */
const sqlView = (columns: Record<string, string>): TargetView => ({
  fields: () => columns,
  written: (fields) => Object.fromEntries(Object.keys(columns).map((path) => [path, readPath(fields, path) ?? null])),
  writes: (_fields, changed) => (path) => changed.some((u) => pathsOverlap(u, path)),
  norm,
});

/** A target with a write view: its native fields as upsert writes them (HubSpot: properties; a cleared one reads back as ''). */
const nativeView = (target: WriteView, entity: string): TargetView => ({
  fields: (fields) => Object.fromEntries(Object.keys(target.nativeValuesOf(entity, fields)).map((k) => [k, k])),
  written: (fields) => target.nativeValuesOf(entity, fields),
  writes: (fields, changed) => {
    const only: Record<string, unknown> = {};
    for (const u of changed) setPath(only, u, readPath(fields, u) ?? null);
    const touched = new Set(Object.keys(target.nativeValuesOf(entity, only)));
    return (label) => touched.has(label);
  },
  norm: (v) => (v === '' ? null : norm(v)),
});

const itemHash = (i: PlanItem): string => {
  if (i.op === 'quarantine') {
    const q = quarantineDataOf(i);
    return stableHash({ seq: i.seq, key: i.key, op: i.op, field: q.field, rule: q.rule, reason: q.reason, record: q.record ?? null });
  }
  const d = i.data as unknown as PipelinePlanItem;
  return stableHash({ seq: i.seq, key: i.key, op: i.op, targetKey: d.targetKey, fields: d.fields, changed: d.changed ?? null, beforeHash: d.beforeHash });
};

export function createPlanActivities({ registry, connectors, store }: SyncDeps) {
  const pipelineOf = (name: string): Pipeline => {
    const p = registry.pipelines.get(name);
    if (!p) throw new SyncError('ConfigError', `unknown pipeline "${name}"; this worker knows ${[...registry.pipelines.keys()].join(', ')}`, { field: 'pipeline' });
    return p;
  };
  const keyPrefixOf = (p: Pipeline): string => registry.systems.get(p.source.system)?.keyPrefix ?? '';

  /**
   * How the plan sees the target's records: a SQL target by the columns its entity maps canonical
   * paths to; a target with a write view (connectors' `nativeValuesOf`, e.g. HubSpot) by the
   * native fields its upsert writes; any other by the whole record (null).
   */
  const viewOf = (p: Pipeline): TargetView | null => {
    const sys = registry.systems.get(p.target.system);
    if (sys?.kind === 'sql') {
      const columns = (sys.config as { entities?: Record<string, { fields?: Record<string, string> }> }).entities?.[p.target.entity]?.fields;
      return columns ? sqlView(columns) : null;
    }
    const target = connectors.get(p.target.system);
    return hasWriteView(target) ? nativeView(target, p.target.entity) : null;
  };

  /** The target's current values of these records: by target key, and by external key for creates. */
  const readTarget = async (p: Pipeline, items: { targetKey: string | null; externalKey: string }[]): Promise<Map<string, SourceRecord>> => {
    const target = connectors.get(p.target.system);
    const byExternal = items.filter((i) => i.targetKey === null).map((i) => i.externalKey);
    const found = byExternal.length ? await target.findByExternalKeys(p.target.entity, byExternal) : new Map<string, string>();
    const keyOf = (i: { targetKey: string | null; externalKey: string }) => i.targetKey ?? found.get(i.externalKey) ?? null;
    const keys = [...new Set(items.map(keyOf).filter((k): k is string => k !== null))];
    const records = keys.length ? await target.read(p.target.entity, keys) : [];
    const byKey = new Map(records.map((r) => [r.key, r]));
    const out = new Map<string, SourceRecord>();
    for (const i of items) {
      const k = keyOf(i);
      const r = k !== null ? byKey.get(k) : undefined;
      if (r) out.set(i.externalKey, r);
    }
    return out;
  };

  /** The hash of a target record's values as this pipeline sees them (for a record written with `fields`). */
  const viewHash = (view: TargetView | null, fields: Record<string, unknown>, r: SourceRecord | undefined): string => {
    if (!r) return ABSENT;
    if (!view) return stableHash(r.data);
    return stableHash(Object.fromEntries(Object.entries(view.fields(fields)).map(([label, native]) => [label, view.norm(r.data[native])])));
  };

  const loadPlan = async (planId: string): Promise<StoredPlan> => {
    const plan = await store.getPlan(planId);
    if (!plan) throw new SyncError('NotFound', `no plan "${planId}" in the state store; make one with a dry run (crm-erp-sync plan <pipeline>)`, { field: 'planId' });
    return plan;
  };

  const itemsOf = (planId: string) => planItems(store, planId);

  return {
    /** Start a plan: its header, with the checkpoint the dry run starts from. */
    async openPlan(input: { planId: string; kind: 'pipeline'; name: string; syncId: string }): Promise<void> {
      const p = pipelineOf(input.name);
      if (await store.getPlan(input.planId)) return; // a retry
      const startCheckpoint = await store.getCheckpoint(p.name);
      await store.savePlan({ planId: input.planId, kind: 'pipeline', name: p.name, syncId: input.syncId, status: 'planning', planHash: null, counts: {}, meta: { startCheckpoint } });
    },

    /**
     * Store a staged page plan (planPage's) as plan items with the target's current values:
     * nothing is written to the target and no link moves.
     */
    async recordPlanPage(ref: PageRef & { planId: string; planPageId: string; approvalReasons: string[] }): Promise<{ creates: number; updates: number }> {
      const p = pipelineOf(ref.pipeline);
      const staged = await store.loadPage<PlanPage>(ref.planPageId);
      const { ops } = staged;
      // A plan staged by preparePage (throughput-v1) carries its records' fields; an older one
      // refers to the mapped page.
      const mapped = staged.fields ? null : await store.loadPage<MappedRecord[]>(staged.mappedPageId!);
      const fieldsAt = (i: number): Record<string, unknown> => (staged.fields ? staged.fields[i]! : mapped![ops[i]!.index]!.fields);
      const view = viewOf(p);
      const partial = connectors.get(p.target.system).describe().partialUpdates === true;
      const prefix = keyPrefixOf(p);
      const current = await readTarget(p, ops.map((o) => ({ targetKey: o.targetKey ?? null, externalKey: prefix + o.sourceKey })));
      // An update whose target already holds every value it would write (its link was out of date:
      // another flow wrote the same values) changes nothing: it is not part of the plan. The next
      // sync that reads the record again brings its link up to date.
      const noOps = new Set<number>();
      const items: PlanItem[] = ops.map((o, i) => {
        const fields = fieldsAt(i);
        const externalKey = prefix + o.sourceKey;
        const now = current.get(externalKey);
        const changes: PlanChange[] = [];
        let afterHash: string | null = null;
        if (view) {
          // What the target holds once written: every field (a create, or a target that writes
          // whole records), or only the fields of the changed units (a partial update).
          const written = view.written(fields);
          const partly = now && partial && o.changed ? view.writes(fields, o.changed) : null;
          const after: Record<string, string | null> = {};
          for (const [label, native] of Object.entries(view.fields(fields))) {
            const before = now ? now.data[native] ?? null : null;
            const value = !partly || partly(label) ? written[label] ?? null : before;
            after[label] = view.norm(value);
            if (!now || view.norm(before) !== view.norm(value)) changes.push({ field: label, before, after: value, ...planCurrency(fields, label) });
          }
          afterHash = stableHash(after);
          if (o.op === 'update' && now && changes.length === 0) noOps.add(i);
        } else {
          for (const u of o.changed ?? Object.keys(o.linkFields ?? {})) changes.push({ field: u, before: null, after: readPath(fields, u) ?? null });
        }
        const data: PipelinePlanItem = {
          targetKey: o.targetKey ?? null,
          externalKey,
          changes,
          beforeHash: viewHash(view, fields, now),
          afterHash,
          fields,
          hash: o.hash,
          ...(o.changed ? { changed: o.changed } : {}),
          ...(o.linkId ? { linkId: o.linkId } : {}),
          ...(o.deletedSides ? { deletedSides: o.deletedSides } : {}),
          ...(o.linkFields ? { linkFields: o.linkFields } : {}),
        };
        return { seq: ref.seq * PAGE_SPAN + i, key: o.sourceKey, op: o.op, data: data as unknown as Record<string, unknown> };
      });
      const planned = items.filter((_, i) => !noOps.has(i));
      await store.addPlanItems(ref.planId, planned);
      if (ref.approvalReasons.length) {
        const plan = await loadPlan(ref.planId);
        const reasons = { ...(plan.meta.approvalReasons as Record<string, string[]> | undefined), [String(ref.seq)]: ref.approvalReasons };
        await store.savePlan({ ...plan, meta: { ...plan.meta, approvalReasons: reasons } });
      }
      const creates = planned.filter((o) => o.op === 'create').length;
      return { creates, updates: planned.length - creates };
    },

    /** Hash and count the stored items: the plan is ready to be applied. */
    async sealPlan(input: { planId: string; endCursor: Cursor | null }): Promise<PlanSummary> {
      const plan = await loadPlan(input.planId);
      const counts: PlanCounts = { creates: 0, updates: 0, deletes: 0, conflicts: 0, quarantined: 0 };
      let planHash = stableHash(['plan', plan.kind, plan.name]);
      for await (const i of itemsOf(input.planId)) {
        planHash = stableHash([planHash, itemHash(i)]);
        countItem(counts, i.op);
      }
      const approvalReasons = planReasons(plan);
      await store.savePlan({ ...plan, status: 'ready', planHash, counts: { ...counts }, meta: { ...plan.meta, endCursor: input.endCursor, approvalReasons: plan.meta.approvalReasons ?? {} } });
      return { planId: plan.planId, planHash, kind: plan.kind, name: plan.name, counts, approvalReasons };
    },

    /**
     * Check a plan before applying it: ready (sealed, not applied), the hash the caller reviewed,
     * and the stored items still hash to it. Returns what the approval gate needs.
     */
    async beginApply(input: { planId: string; planHash?: string }) {
      const plan = await loadPlan(input.planId);
      if (plan.kind === 'pair') throw new SyncError('ConfigError', `plan ${plan.planId} is of pair "${plan.name}": apply it with the applyPairPlan workflow (or crm-erp-sync apply)`, { field: 'planId' });
      if (plan.status === 'planning') throw new SyncError('Conflict', `plan ${plan.planId} is incomplete: its dry run did not finish; run the dry run again`);
      if (plan.status === 'applied') {
        const applied = plan.meta.applied as { applyId?: string; at?: string } | undefined;
        throw new SyncError('Conflict', `plan ${plan.planId} was already applied${applied ? ` by ${applied.applyId} at ${applied.at}` : ''}; make a new plan with a dry run`);
      }
      if (input.planHash !== undefined && input.planHash !== plan.planHash) {
        throw new SyncError('Conflict', `plan ${plan.planId} has hash ${plan.planHash}, not ${input.planHash}: it is not the plan you reviewed; nothing was written`, { field: 'planHash' });
      }
      let planHash = stableHash(['plan', plan.kind, plan.name]);
      for await (const i of itemsOf(plan.planId)) planHash = stableHash([planHash, itemHash(i)]);
      if (planHash !== plan.planHash) throw new SyncError('Conflict', `the stored items of plan ${plan.planId} no longer hash to ${plan.planHash}; nothing was written`);
      const p = pipelineOf(plan.name);
      const approvalReasons = [...new Set(Object.values((plan.meta.approvalReasons as Record<string, string[]> | undefined) ?? {}).flat())];
      return {
        planId: plan.planId,
        planHash: plan.planHash!,
        kind: plan.kind,
        name: plan.name,
        counts: plan.counts as unknown as PlanCounts,
        targetEntity: `${p.target.system}.${p.target.entity}`,
        approvalReasons,
        approvalPolicy: p.approval?.policy ?? null,
      };
    },

    /**
     * Apply the plan's items after `afterSeq` (at most `limit`): each record is read again and
     * written only when the target still holds what the plan saw. Idempotent: a retry finds what
     * it wrote as `afterHash` (already applied) instead of writing it twice.
     */
    applyPlanPage: withAttempt(async (input: { planId: string; applyId: string; afterSeq: number; limit: number }) => {
      const plan = await loadPlan(input.planId);
      const p = pipelineOf(plan.name);
      const space = linkSpaceOf(p, registry);
      const target = connectors.get(p.target.system);
      const view = viewOf(p);
      const listed = await store.listPlanItems(input.planId, { afterSeq: input.afterSeq, limit: input.limit });
      // Records the dry run's mapping or validation refused are quarantined now, as the sync would have.
      const refused = listed.filter((i) => i.op === 'quarantine');
      const items = listed.filter((i) => i.op !== 'quarantine');
      const totals: ApplyTotals = { ...EMPTY_APPLY_TOTALS, quarantined: refused.length };
      const changedKeys: string[] = [];
      const events: RunEvent[] = [];
      const at = new Date().toISOString();
      const data = (i: PlanItem) => i.data as unknown as PipelinePlanItem;
      const current = await readTarget(p, items.map((i) => ({ targetKey: data(i).targetKey, externalKey: data(i).externalKey })));
      const toWrite: PlanItem[] = [];
      const links: LinkUpsert[] = [];
      const link = (i: PlanItem, targetKey: string): LinkUpsert => {
        const d = data(i);
        return {
          ...(d.linkId ? { linkId: d.linkId } : {}),
          keys: [
            { side: space.sourceSide, system: p.source.system, entity: p.source.entity, key: i.key },
            { side: space.targetSide, system: p.target.system, entity: p.target.entity, key: targetKey },
          ],
          fields: d.linkFields ?? {},
          deletedSides: d.deletedSides ?? [],
          recordHash: d.hash,
        };
      };
      for (const i of items) {
        const d = data(i);
        const now = current.get(d.externalKey);
        const h = viewHash(view, d.fields, now);
        if (h === d.beforeHash) toWrite.push(i);
        else if (d.afterHash !== null && h === d.afterHash && now) {
          totals.alreadyApplied++;
          links.push(link(i, now.key));
        } else {
          totals.changedMeanwhile++;
          if (changedKeys.length < MAX_CHANGED_KEYS) changedKeys.push(i.key);
          events.push({
            kind: 'conflict',
            at,
            data: { keys: { source: i.key, target: now?.key ?? d.targetKey ?? '' }, field: '(record)', op: i.op, values: {}, resolution: 'changed in the target since the plan: not overwritten', planId: plan.planId },
          });
        }
      }
      const batchSize = Math.max(1, target.describe().maxBatchSize);
      const partial = target.describe().partialUpdates === true;
      const written: string[] = [];
      const failed: QuarantineEntry[] = refused.map((i) => ({ pipeline: p.name, syncId: input.applyId, sourceKey: i.key, ...quarantineDataOf(i) }));
      for (let b = 0; b < toWrite.length; b += batchSize) {
        const batch = toWrite.slice(b, b + batchSize);
        const outcomes = await target.upsert(
          p.target.entity,
          batch.map((i) => {
            const d = data(i);
            return { externalKey: d.externalKey, ...(d.targetKey ? { targetKey: d.targetKey } : {}), fields: d.fields, ...(partial && d.changed ? { changed: d.changed } : {}) };
          }),
        );
        const byKey = new Map(batch.map((i) => [data(i).externalKey, i]));
        for (const o of outcomes) {
          const i = byKey.get(o.externalKey)!;
          if (o.ok) {
            links.push(link(i, o.targetKey));
            written.push(i.key);
            totals.written++;
            if (o.action === 'created') totals.created++;
            else totals.updated++;
            events.push({ kind: 'change', at, data: { sourceKey: i.key, op: i.op, fields: data(i).changes, planId: plan.planId } });
          } else {
            totals.quarantined++;
            failed.push({ pipeline: p.name, syncId: input.applyId, sourceKey: i.key, stage: 'write', field: o.error.field ?? null, rule: o.error.type, reason: o.error.message, record: data(i).fields });
          }
        }
        heartbeat({ written: totals.written });
      }
      // The writes are durable: their links hold what was written (the next sync plans them unchanged).
      await store.upsertLinks(space.space, links);
      await store.quarantine(failed);
      await store.releaseQuarantine(p.name, written);
      await store.addRunEvents(input.applyId, events);
      return { totals, changedKeys, lastSeq: listed.at(-1)?.seq ?? input.afterSeq, hasMore: listed.length === input.limit };
    }),

    /**
     * Close an apply: the run report, the plan marked applied, and the pipeline's checkpoint moved
     * to where the dry run read up to when nobody moved it since the plan (see the note above).
     */
    async finishApply(input: { planId: string; applyId: string; status: string; startedAtMs: number; totals: ApplyTotals; approvals: Record<string, unknown>[] }): Promise<{ checkpoint: 'advanced' | 'kept' }> {
      const plan = await loadPlan(input.planId);
      let checkpoint: 'advanced' | 'kept' = 'kept';
      if (input.status === 'applied') {
        const now = await store.getCheckpoint(plan.name);
        const end = (plan.meta.endCursor as Cursor | null | undefined) ?? null;
        if (end && stableJson(now ?? null) === stableJson(plan.meta.startCheckpoint ?? null)) {
          await store.setCheckpoint(plan.name, end, input.applyId);
          checkpoint = 'advanced';
        } else if (plan.status === 'applied' && (plan.meta.applied as { checkpoint?: string } | undefined)?.checkpoint === 'advanced') {
          checkpoint = 'advanced'; // a retry after the first attempt moved it
        }
        await store.savePlan({ ...plan, status: 'applied', meta: { ...plan.meta, applied: { applyId: input.applyId, at: new Date().toISOString(), totals: input.totals, checkpoint } } });
      }
      await saveRunEnd(store, { pipeline: plan.name, syncId: input.applyId, status: input.status, startedAtMs: input.startedAtMs, totals: { ...input.totals }, approvals: input.approvals });
      return { checkpoint };
    },
  };
}

export type PlanActivities = ReturnType<typeof createPlanActivities>;
