/**
 * # Dry runs and plans of pairs (design note)
 *
 * A pair's dry run (`syncPair` with `mode: "dry-run"`, workflows/pair-dry-run.ts) reads and plans
 * every page of both sides exactly like a sync, with `dryRun` set on the planning: it writes no
 * quarantine entry or run event, and each staged op carries what a plan shows (activities/pair.ts
 * `DryOp`): the canonical before/after of every field it writes on each side, and a hash of each
 * side's canonical record as it was read. Where a sync would write the page, `recordPairPlanPage`
 * stores those ops as plan items instead (one per record: creates, updates, deletes; plus the
 * `manual` conflicts the sync would put to a person); nothing is written to either side, and no
 * checkpoint, link or write ledger entry moves.
 *
 * **Both phases.** A sync reads the first side's changes, writes, then reads the second side's,
 * where its own writes come back as echoes. A dry run writes nothing, so a record changed on both
 * sides is planned in both phases with the same result: the second phase's op (or conflict) for a
 * record already in the plan is left out.
 *
 * **Apply** (`applyPairPlan`) reads every side of each planned record again. When each still holds
 * what the plan saw (same hash), the op is written by the pair's own `writePairPage`: the same
 * writes, links, write ledger and quarantine as a sync's, so the next sync reads the written
 * values back as echoes and writes nothing. A side that already holds the planned values (a
 * retried apply) is not written again. Anything else changed since the plan: reported as a
 * `conflict` run event, nothing of that record written, its link kept (the next sync plans it
 * again against both sides as they are then).
 *
 * **Checkpoints** are kept: the next sync reads again what the dry run read. Records applied are
 * then unchanged through their links; what the plan left out (first links with nothing to write,
 * echoes absorbed) is done by that sync as usual.
 */
import { heartbeat } from '@temporalio/activity';
import type { Cursor } from '../contracts/cursor';
import { SyncError } from '../contracts/errors';
import { sideNamesOf, type Pair } from '../contracts/pair';
import { pairCheckpoint } from '../contracts/pair-sync';
import { EMPTY_APPLY_TOTALS, type ApplyTotals, type PlanCounts, type PlanSummary } from '../contracts/plan';
import { stableHash } from '../contracts/stable-json';
import type { SourceRecord } from '../contracts/connector';
import { readPath } from '../mappings/record-path';
import type { PlanItem, RunEvent, StoredPlan } from '../state/types';
import { saveRunEnd } from './run-end';
import { ABSENT, countItem, MAX_CHANGED_KEYS, PAGE_SPAN, planItems, planReasons } from './plan-items';
import { createPairActivities, snapshotHash, type PairPageRef, type StagedConflict, type StagedOp, type StagedPairPlan } from './pair';
import type { SyncDeps } from './sync';


/** One field of a pair plan item: `side` is the direction (`crm->erp`), or `crm<>erp` for a conflict. */
export interface PairPlanChange {
  side: string;
  field: string;
  before: unknown;
  after: unknown;
}

/** What a pair plan item stores (PlanItem.data). */
export interface PairPlanItem {
  kind: 'pair';
  /** The side whose change the record was planned from. */
  side: string;
  /** Side → record key (a side the record is to be created on is absent). */
  keys: Record<string, string>;
  /** The directions written (`crm->erp`, `erp->crm`). */
  directions: string[];
  changes: PairPlanChange[];
  /** The staged op to write (not for conflicts). */
  staged?: StagedOp;
  /** A `manual` conflict: its id, field and each side's value. */
  conflict?: { id: string; field: string; values: Record<string, unknown> };
}

const itemHash = (i: PlanItem): string => stableHash({ seq: i.seq, key: i.key, op: i.op, data: i.data });
const dataOf = (i: PlanItem): PairPlanItem => i.data as unknown as PairPlanItem;

export function createPairPlanActivities(deps: SyncDeps) {
  const { registry, connectors, store } = deps;
  // The pair's own write step (links, ledger, quarantine exactly as a sync writes them).
  const { writePairPage } = createPairActivities(deps);
  const pairOf = (name: string): Pair => {
    const p = registry.pairs.get(name);
    if (!p) throw new SyncError('ConfigError', `unknown pair "${name}"; this worker knows ${[...registry.pairs.keys()].join(', ') || 'no pairs'} (config/pairs/)`, { field: 'pair' });
    return p;
  };
  const otherOf = (p: Pair, side: string): string => sideNamesOf(p).find((s) => s !== side)!;
  const loadPlan = async (planId: string): Promise<StoredPlan> => {
    const plan = await store.getPlan(planId);
    if (!plan) throw new SyncError('NotFound', `no plan "${planId}" in the state store; make one with a dry run (crm-erp-sync plan <pair>)`, { field: 'planId' });
    if (plan.kind !== 'pair') throw new SyncError('ConfigError', `plan ${planId} is of pipeline "${plan.name}": apply it with the applyPlan workflow`, { field: 'planId' });
    return plan;
  };
  const itemsOf = (planId: string) => planItems(store, planId);
  const hashOf = async (plan: StoredPlan): Promise<{ planHash: string; counts: PlanCounts }> => {
    const counts: PlanCounts = { creates: 0, updates: 0, deletes: 0, conflicts: 0, quarantined: 0 };
    let planHash = stableHash(['plan', 'pair', plan.name]);
    for await (const i of itemsOf(plan.planId)) {
      planHash = stableHash([planHash, itemHash(i)]);
      countItem(counts, i.op);
    }
    return { planHash, counts };
  };
  const reasonsOf = planReasons;

  /** Each side's records now, mapped into canonical space: side → key → snapshot (fields, deleted). */
  const readNow = async (p: Pair, keys: Map<string, Set<string>>): Promise<Map<string, Map<string, { key: string; fields: Record<string, unknown>; deleted?: boolean } | null>>> => {
    const out = new Map<string, Map<string, { key: string; fields: Record<string, unknown>; deleted?: boolean } | null>>();
    for (const [side, set] of keys) {
      const m = new Map<string, { key: string; fields: Record<string, unknown>; deleted?: boolean } | null>();
      out.set(side, m);
      if (!set.size) continue;
      const records = await connectors.get(p.sides[side]!.system).read(p.sides[side]!.entity, [...set]);
      for (const r of records) m.set(r.key, snapshotOf(p, side, r));
    }
    return out;
  };
  const snapshotOf = (p: Pair, side: string, r: SourceRecord) => {
    const mapped = registry.mappings.get(p.sides[side]!.mapping)!.apply(r.data, { keyPrefix: registry.systems.get(p.sides[side]!.system)?.keyPrefix ?? '' });
    // A record that no longer maps cannot be what the plan saw: its fields are unknown (changed).
    return mapped.ok ? { key: r.key, fields: mapped.value, ...(r.deleted ? { deleted: true } : {}) } : { key: r.key, fields: { '(unmappable)': r.data }, ...(r.deleted ? { deleted: true } : {}) };
  };

  return {
    /** Start a pair's plan (once per dry run, not again after continue-as-new). */
    async openPairPlan(input: { planId: string; name: string; syncId: string }): Promise<void> {
      const p = pairOf(input.name);
      if (await store.getPlan(input.planId)) return; // a retry
      const startCheckpoints = Object.fromEntries(await Promise.all(sideNamesOf(p).map(async (s) => [s, await store.getCheckpoint(pairCheckpoint(p.name, s))] as const)));
      await store.savePlan({ planId: input.planId, kind: 'pair', name: p.name, syncId: input.syncId, status: 'planning', planHash: null, counts: {}, meta: { startCheckpoints } });
    },

    /**
     * Store a planned page of a pair (planPairPage's staged ops and `manual` conflicts) as plan
     * items: nothing is written to either side, no link or ledger moves. A record already in the
     * plan from the other side's phase is not added again.
     */
    async recordPairPlanPage(ref: PairPageRef & { planId: string; planPageId: string; conflictsPageId?: string; approvalReasons: string[] }): Promise<PlanCounts> {
      const p = pairOf(ref.pair);
      const seen = new Set<string>();
      for await (const i of itemsOf(ref.planId)) {
        const d = dataOf(i);
        if (d.conflict) seen.add(`conflict:${d.conflict.id}`);
        else for (const [s, k] of Object.entries(d.keys)) seen.add(`${s}:${k}`);
      }
      const { ops } = await store.loadPage<StagedPairPlan>(ref.planPageId);
      const items: PlanItem[] = [];
      const counts: PlanCounts = { creates: 0, updates: 0, deletes: 0, conflicts: 0, quarantined: 0 };
      const direction = (to: string) => `${otherOf(p, to)}->${to}`;
      for (const op of ops) {
        if (op.patches.length === 0 && !op.create && !op.deleteOn) continue; // a link to remember: no write
        if (Object.entries(op.keys).some(([s, k]) => seen.has(`${s}:${k}`))) continue;
        const kind = op.create ? 'create' : op.deleteOn ? 'delete' : 'update';
        const written = [...new Set([...op.patches.map((x) => x.side), ...(op.create ? [op.create.side] : []), ...(op.deleteOn ? [op.deleteOn] : [])])];
        const data: PairPlanItem = {
          kind: 'pair',
          side: ref.side,
          keys: { ...op.keys },
          directions: written.map(direction),
          changes: (op.dry?.changes ?? []).map((c) => ({ side: direction(c.side), field: c.field, before: c.before, after: c.after })),
          staged: op,
        };
        items.push({ seq: ref.seq * PAGE_SPAN + items.length, key: `${ref.side}:${op.keys[ref.side]}`, op: kind, data: data as unknown as Record<string, unknown> });
        counts[kind === 'create' ? 'creates' : kind === 'delete' ? 'deletes' : 'updates']++;
      }
      if (ref.conflictsPageId) {
        const [a, b] = sideNamesOf(p);
        for (const c of await store.loadPage<StagedConflict[]>(ref.conflictsPageId)) {
          if (seen.has(`conflict:${c.id}`)) continue;
          const values = c.values ?? {};
          const data: PairPlanItem = {
            kind: 'pair',
            side: ref.side,
            keys: c.keys,
            directions: [],
            changes: [{ side: `${a}<>${b}`, field: c.field, before: values[a] ?? null, after: values[b] ?? null }],
            conflict: { id: c.id, field: c.field, values },
          };
          items.push({ seq: ref.seq * PAGE_SPAN + items.length, key: `${ref.side}:${c.key}`, op: 'conflict', data: data as unknown as Record<string, unknown> });
          counts.conflicts++;
        }
      }
      await store.addPlanItems(ref.planId, items);
      if (ref.approvalReasons.length) {
        const plan = await loadPlan(ref.planId);
        const reasons = { ...(plan.meta.approvalReasons as Record<string, string[]> | undefined), [`${ref.seq}/${ref.side}`]: ref.approvalReasons };
        await store.savePlan({ ...plan, meta: { ...plan.meta, approvalReasons: reasons } });
      }
      return counts;
    },

    /** Hash and count the stored items: the pair's plan is ready to be applied. */
    async sealPairPlan(input: { planId: string; endCursors: Record<string, Cursor | null> }): Promise<PlanSummary> {
      const plan = await loadPlan(input.planId);
      const { planHash, counts } = await hashOf(plan);
      await store.savePlan({ ...plan, status: 'ready', planHash, counts: { ...counts }, meta: { ...plan.meta, endCursors: input.endCursors, approvalReasons: plan.meta.approvalReasons ?? {} } });
      return { planId: plan.planId, planHash, kind: 'pair', name: plan.name, counts, approvalReasons: reasonsOf(plan) };
    },

    /** Check a pair's plan before applying it (ready, the reviewed hash, the items still hash to it). */
    async beginPairApply(input: { planId: string; planHash?: string }) {
      const plan = await loadPlan(input.planId);
      if (plan.status === 'planning') throw new SyncError('Conflict', `plan ${plan.planId} is incomplete: its dry run did not finish; run the dry run again`);
      if (plan.status === 'applied') {
        const applied = plan.meta.applied as { applyId?: string; at?: string } | undefined;
        throw new SyncError('Conflict', `plan ${plan.planId} was already applied${applied ? ` by ${applied.applyId} at ${applied.at}` : ''}; make a new plan with a dry run`);
      }
      if (input.planHash !== undefined && input.planHash !== plan.planHash) {
        throw new SyncError('Conflict', `plan ${plan.planId} has hash ${plan.planHash}, not ${input.planHash}: it is not the plan you reviewed; nothing was written`, { field: 'planHash' });
      }
      const { planHash } = await hashOf(plan);
      if (planHash !== plan.planHash) throw new SyncError('Conflict', `the stored items of plan ${plan.planId} no longer hash to ${plan.planHash}; nothing was written`);
      const p = pairOf(plan.name);
      return {
        planId: plan.planId,
        planHash,
        name: plan.name,
        counts: plan.counts as unknown as PlanCounts,
        sides: sideNamesOf(p).map((s) => `${p.sides[s]!.system}.${p.sides[s]!.entity}`).join(' ⇄ '),
        approvalReasons: reasonsOf(plan),
        approvalPolicy: p.limits.approval ?? null,
      };
    },

    /**
     * Apply the plan's items after `afterSeq` (at most `limit`, one item per record):
     * each side of each record is read again; a record whose sides all still hold what the plan
     * saw (or already hold what it writes) is written through writePairPage, anything else is
     * reported and left alone.
     */
    async applyPairPlanPage(input: { planId: string; applyId: string; afterSeq: number; limit: number }) {
      const plan = await loadPlan(input.planId);
      const p = pairOf(plan.name);
      const sides = sideNamesOf(p);
      const items = await store.listPlanItems(input.planId, { afterSeq: input.afterSeq, limit: input.limit });
      const totals: ApplyTotals = { ...EMPTY_APPLY_TOTALS };
      const changedKeys: string[] = [];
      const events: RunEvent[] = [];
      const at = new Date().toISOString();
      const ops = items.filter((i) => i.op !== 'conflict' && dataOf(i).staged);

      // Every side of every planned record, as it is now; creates by their external key.
      const wanted = new Map(sides.map((s) => [s, new Set<string>()]));
      const creates = new Map(sides.map((s) => [s, new Set<string>()]));
      for (const i of ops) {
        const op = dataOf(i).staged!;
        for (const s of sides) if (op.keys[s] !== undefined) wanted.get(s)!.add(op.keys[s]!);
        if (op.create && op.dry?.externalKey) creates.get(op.create.side)!.add(op.dry.externalKey);
      }
      const createdKeys = new Map<string, Map<string, string>>();
      for (const [s, ext] of creates) {
        const found = ext.size ? await connectors.get(p.sides[s]!.system).findByExternalKeys(p.sides[s]!.entity, [...ext]) : new Map<string, string>();
        createdKeys.set(s, found);
        for (const k of found.values()) wanted.get(s)!.add(k);
      }
      const now = await readNow(p, wanted);

      const toWrite: StagedOp[] = [];
      const writtenItems: PlanItem[] = [];
      for (const i of ops) {
        const d = dataOf(i);
        const op: StagedOp = structuredClone(d.staged!);
        const states: Record<string, 'before' | 'after' | 'changed'> = {};
        for (const s of sides) {
          const planned = op.dry?.hashes[s] ?? ABSENT;
          const mine = (d.changes ?? []).filter((c) => c.side === `${otherOf(p, s)}->${s}`);
          if (op.create?.side === s) {
            const key = createdKeys.get(s)?.get(op.dry?.externalKey ?? '');
            const rec = key ? now.get(s)?.get(key) : undefined;
            if (!rec) states[s] = 'before';
            else if (mine.every((c) => stableHash(readPath(rec.fields, c.field) ?? null) === stableHash(c.after ?? null))) {
              states[s] = 'after';
              op.keys[s] = rec.key;
              op.create = null;
            } else states[s] = 'changed';
            continue;
          }
          const key = op.keys[s];
          const rec = key !== undefined ? now.get(s)?.get(key) : undefined;
          const h = snapshotHash(rec ?? null);
          if (h === planned) states[s] = 'before';
          else if (op.deleteOn === s && !rec) states[s] = 'after';
          else if (rec && mine.length > 0 && mine.every((c) => stableHash(readPath(rec.fields, c.field) ?? null) === stableHash(c.after ?? null))) states[s] = 'after';
          else states[s] = 'changed';
        }
        const changed = sides.filter((s) => states[s] === 'changed');
        if (changed.length) {
          totals.changedMeanwhile++;
          if (changedKeys.length < MAX_CHANGED_KEYS) changedKeys.push(i.key);
          events.push({
            kind: 'conflict',
            at,
            data: { keys: { ...op.keys }, field: '(record)', op: i.op, values: {}, sides: changed, resolution: `changed on ${changed.join(' and ')} since the plan: not overwritten`, planId: plan.planId },
          });
          continue;
        }
        // A side that already holds the planned values is not written again (a retried apply).
        op.patches = op.patches.filter((x) => states[x.side] !== 'after');
        if (op.deleteOn && states[op.deleteOn] === 'after') op.deleteOn = null;
        if (op.patches.length === 0 && !op.create && !op.deleteOn) totals.alreadyApplied++;
        else writtenItems.push(i);
        toWrite.push(op);
      }

      if (toWrite.length) {
        const planPageId = await store.stagePage(input.applyId, `apply/${input.afterSeq}/plan`, { ops: toWrite } satisfies StagedPairPlan);
        const out = await writePairPage({ pair: p.name, syncId: input.applyId, seq: 0, side: sides[0], planPageId });
        const sum = (r: Record<string, number>) => Object.values(r).reduce((n, v) => n + v, 0);
        totals.created = sum(out.created);
        totals.updated = sum(out.updated) + sum(out.deleted);
        totals.quarantined = sum(out.quarantined);
        totals.written = totals.created + totals.updated;
        for (const i of writtenItems) events.push({ kind: 'change', at, data: { sourceKey: i.key, op: i.op, sides: dataOf(i).directions, fields: dataOf(i).changes, planId: plan.planId } });
      }
      heartbeat({ written: totals.written });
      await store.addRunEvents(input.applyId, events);
      return { totals, changedKeys, lastSeq: items.at(-1)?.seq ?? input.afterSeq, hasMore: items.length === input.limit };
    },

    /** Close a pair's apply: the plan marked applied, the run report. Checkpoints are kept (see the note above). */
    async finishPairApply(input: { planId: string; applyId: string; status: string; startedAtMs: number; totals: ApplyTotals; approvals: Record<string, unknown>[] }): Promise<{ checkpoint: 'kept' }> {
      const plan = await loadPlan(input.planId);
      if (input.status === 'applied') {
        await store.savePlan({ ...plan, status: 'applied', meta: { ...plan.meta, applied: { applyId: input.applyId, at: new Date().toISOString(), totals: input.totals, checkpoint: 'kept' } } });
      }
      await saveRunEnd(store, { pipeline: plan.name, syncId: input.applyId, status: input.status, startedAtMs: input.startedAtMs, totals: { ...input.totals }, approvals: input.approvals });
      await store.dropPages(input.applyId);
      return { checkpoint: 'kept' };
    },
  };
}

export type PairPlanActivities = ReturnType<typeof createPairPlanActivities>;
