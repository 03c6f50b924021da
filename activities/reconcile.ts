import type { Connector, SourceRecord } from '../connectors/types';
import type { ApprovalPolicy } from '../contracts/approval';
import { SyncError } from '../contracts/errors';
import { sideNamesOf, type Pair } from '../contracts/pair';
import {
  DRIFT_CATEGORIES,
  type DriftCategory,
  type DriftItem,
  type ReconcileCounts,
  type ReconcileReport,
  type RepairTotals,
} from '../contracts/reconcile';
import { comparable, compareLinked, isArchived, summariseDrift, type RepairLimits } from '../mappings/two-way/drift';
import { matchKey, matchRecords, type MatchRecord } from '../mappings/two-way/match';
import { planRecord, type SideSnapshot } from '../mappings/two-way/planner';
import { compilePairPolicy, type PairPolicy } from '../mappings/two-way/policy';
import type { QuarantineEntry, ReconRow } from '../state/types';
import { fromColumnar, toColumnar, type ColumnarPage } from './page-codec';
import type { SyncDeps } from './sync';

/** Items of one category kept in the stored report (the counts are always exact). */
export const REPORT_ITEMS_MAX = 20_000;
/** Records read by key in one request. */
const READ_CHUNK = 500;
/** Unlinked records loaded per store call while matching. */
const LIST_CHUNK = 5000;

export interface BeginReconcileResult {
  pair: string;
  sides: [string, string];
  entities: Record<string, string>;
  pageSize: number;
  pagesPerRun: number;
  approvalPolicy: ApprovalPolicy | null;
  limits: RepairLimits;
}

/** What one page of a side added to the reconciliation's counts. */
export type ReconcilePageCounts = Pick<ReconcileCounts, 'compared' | 'skipped' | 'fieldDiffs' | 'recordsWithDiffs'> & {
  read: number;
  unmappable: number;
  archivedUnlinked: number;
  unlinked: number;
  /** Side → links whose record is gone there. */
  missing: Record<string, number>;
};

export interface MatchUnlinkedResult {
  linkedByMatch: number;
  matchedWithDiffs: number;
  ambiguous: number;
  orphans: Record<string, number>;
}

/** Row kinds (state/types ReconRow.kind). */
const DRIFT = (c: DriftCategory) => `drift:${c}`;
const NATURAL = 'natural';
const UNLINKED = 'unlinked';
const REPAIR = (side: string) => `repair:${side}`;

/**
 * The steps of `reconcilePair` that are not syncPair's: compare a staged page of one side with
 * the other side's linked records now, match what no link knows by the pair's rules, stage
 * pages of drifted records for the normal planner (planPairPage / writePairPage), and write the
 * report. Everything found is kept as rows in the state store, page by page: no step holds a
 * whole side in memory (matching holds only the unlinked records of both sides).
 */
export function createReconcileActivities({ registry, connectors, store }: SyncDeps) {
  const policies = new Map<string, PairPolicy>();
  const pairOf = (name: string): Pair => {
    const p = registry.pairs.get(name);
    if (!p) throw new SyncError('ConfigError', `unknown pair "${name}"; this worker knows ${[...registry.pairs.keys()].join(', ') || 'no pairs'} (config/pairs/)`, { field: 'pair' });
    return p;
  };
  const policyOf = (p: Pair): PairPolicy => {
    let policy = policies.get(p.name);
    if (!policy) policies.set(p.name, (policy = compilePairPolicy(p)));
    return policy;
  };
  const otherOf = (p: Pair, side: string): string => {
    const [a, b] = sideNamesOf(p);
    if (side !== a && side !== b) throw new SyncError('ConfigError', `pair "${p.name}" has no side "${side}"; its sides are ${a} and ${b}`);
    return side === a ? b : a;
  };
  const connectorOf = (p: Pair, side: string): Connector => connectors.get(p.sides[side]!.system);
  const entityOf = (p: Pair, side: string): string => p.sides[side]!.entity;
  /** A side's record in canonical space, keyed with its system's keyPrefix (as activities/pair.ts maps it), or null when its mapping refuses it. */
  const snapshot = (p: Pair, side: string, r: SourceRecord): SideSnapshot | null => {
    const m = registry.mappings.get(p.sides[side]!.mapping)!.apply(r.data, { keyPrefix: registry.systems.get(p.sides[side]!.system)?.keyPrefix ?? '' });
    return m.ok ? { key: r.key, fields: m.value, modifiedAt: r.modifiedAt } : null;
  };
  /** Records of a side by key, read in chunks. */
  const readMany = async (p: Pair, side: string, keys: string[]): Promise<Map<string, SourceRecord>> => {
    const out = new Map<string, SourceRecord>();
    const unique = [...new Set(keys)];
    for (let i = 0; i < unique.length; i += READ_CHUNK) {
      for (const r of await connectorOf(p, side).read(entityOf(p, side), unique.slice(i, i + READ_CHUNK))) out.set(r.key, r);
    }
    return out;
  };

  return {
    async beginReconcile(input: { pair: string; pageSize?: number; pagesPerRun?: number }): Promise<BeginReconcileResult> {
      const p = pairOf(input.pair);
      policyOf(p);
      const sides = sideNamesOf(p);
      for (const s of sides) connectorOf(p, s);
      return {
        pair: p.name,
        sides,
        entities: Object.fromEntries(sides.map((s) => [s, `${p.sides[s]!.system}.${p.sides[s]!.entity}`])),
        pageSize: input.pageSize ?? p.pageSize,
        pagesPerRun: input.pagesPerRun ?? p.pagesPerRun,
        approvalPolicy: p.limits.approval ?? null,
        limits: {
          ...(p.limits.maxUpdates !== undefined ? { maxUpdates: p.limits.maxUpdates } : {}),
          ...(p.limits.maxCreates !== undefined ? { maxCreates: p.limits.maxCreates } : {}),
          maxDeletePercent: p.deletes.maxPercent,
        },
      };
    },

    /**
     * One staged page of `side` (fetchPairPage's claim check): each record's natural keys; for
     * linked records, the other side's record now (gone: a hard delete; there: compared field
     * by field, on the first side's pass only); unlinked records kept for matching.
     */
    async reconcilePage(ref: { pair: string; reconId: string; side: string; seq: number; pageId: string; first: boolean }): Promise<ReconcilePageCounts> {
      const p = pairOf(ref.pair);
      const policy = policyOf(p);
      const side = ref.side;
      const other = otherOf(p, side);
      // The previous page is done with (the workflow reads pages one after the other).
      if (ref.seq > 0) await store.dropPages(ref.reconId, `${ref.seq - 1}/`);
      const records = fromColumnar(await store.loadPage<ColumnarPage>(ref.pageId));
      const out: ReconcilePageCounts = { read: records.length, compared: 0, skipped: 0, fieldDiffs: 0, recordsWithDiffs: 0, unmappable: 0, archivedUnlinked: 0, unlinked: 0, missing: {} };
      const rows: ReconRow[] = [];
      const snaps = new Map<string, SideSnapshot>();
      for (const r of records) {
        const s = snapshot(p, side, r);
        if (!s) {
          out.unmappable++;
          continue;
        }
        snaps.set(r.key, s);
        p.match.forEach((rule, i) => {
          const k = matchKey(rule, s.fields);
          if (k !== null) rows.push({ kind: NATURAL, side, key: s.key, value: `${i}:${k}` });
        });
      }
      const links = await store.findLinks(p.name, side, [...snaps.keys()]);
      const otherKeys: string[] = [];
      for (const [k, l] of links) {
        if (!l.tombstone && l.keys[other] !== undefined && snaps.has(k)) otherKeys.push(l.keys[other]);
      }
      const others = await readMany(p, other, otherKeys);
      for (const s of snaps.values()) {
        const link = links.get(s.key);
        if (!link) {
          if (isArchived(policy, side, s)) out.archivedUnlinked++;
          else {
            out.unlinked++;
            rows.push({ kind: UNLINKED, side, key: s.key, payload: s.fields });
          }
          continue;
        }
        if (link.tombstone) {
          out.skipped++;
          continue;
        }
        const otherKey = link.keys[other];
        const raw = otherKey === undefined ? undefined : others.get(otherKey);
        if (!raw) {
          out.missing[other] = (out.missing[other] ?? 0) + 1;
          const item: DriftItem = { category: 'missing', side: other, link: link.linkId, keys: { ...link.keys } };
          rows.push({ kind: DRIFT('missing'), side: other, key: link.linkId, payload: item }, { kind: REPAIR(side), side, key: s.key });
          continue;
        }
        // Present on both sides: compared once, on the first side's pass.
        if (!ref.first) continue;
        const o = snapshot(p, other, raw);
        if (!o || !comparable(link)) {
          out.skipped++;
          continue;
        }
        out.compared++;
        const diffs = compareLinked(policy, { [side]: s, [other]: o }, link);
        if (diffs.length === 0) continue;
        out.recordsWithDiffs++;
        out.fieldDiffs += diffs.length;
        for (const d of diffs) {
          const item: DriftItem = { category: 'field', link: link.linkId, keys: { ...link.keys }, field: d.field, values: d.values, changedOn: d.changedOn };
          rows.push({ kind: DRIFT('field'), side, key: link.linkId, value: d.field, payload: item });
        }
        rows.push({ kind: REPAIR(side), side, key: s.key });
      }
      await store.addReconRows(ref.reconId, rows);
      return out;
    },

    /**
     * First links by the pair's match rules, over the unlinked records of both sides: one
     * candidate → linked (at once when the values agree: the link is written, nothing else;
     * otherwise the pair is planned by a repair); several → quarantine, naming the candidates;
     * none → an orphan (created on the other side by a repair).
     */
    async matchUnlinked(input: { pair: string; reconId: string }): Promise<MatchUnlinkedResult> {
      const p = pairOf(input.pair);
      const policy = policyOf(p);
      const [sa, sb] = sideNamesOf(p);
      const load = async (side: string): Promise<MatchRecord[]> => {
        const out: MatchRecord[] = [];
        let afterSeq = 0;
        for (;;) {
          const rows = await store.listReconRows(input.reconId, UNLINKED, { afterSeq, limit: LIST_CHUNK });
          for (const r of rows) if (r.side === side) out.push({ key: r.key, fields: r.payload as Record<string, unknown> });
          if (rows.length < LIST_CHUNK) return out;
          afterSeq = rows.at(-1)!.seq;
        }
      };
      const result = matchRecords(p.match, [sa, sb], await load(sa), await load(sb));
      const rows: ReconRow[] = [];
      const out: MatchUnlinkedResult = { linkedByMatch: 0, matchedWithDiffs: 0, ambiguous: 0, orphans: { [sa]: 0, [sb]: 0 } };

      const describeRule = (i: number) => {
        const rule = p.match[i]!;
        return rule.by === 'externalKey' ? 'external key' : rule.fields.join(' + ');
      };
      const bad: QuarantineEntry[] = result.ambiguous.map((a) => ({
        pipeline: p.name,
        syncId: input.reconId,
        sourceKey: `${a.side}:${a.key}`,
        stage: 'map',
        field: null,
        rule: 'ambiguous',
        reason: `${a.reason} by ${describeRule(a.rule)} (match rule ${a.rule}): ${otherOf(p, a.side)} ${a.candidates.join(', ')}; link one by hand`,
        record: { side: a.side, key: a.key, candidates: { side: otherOf(p, a.side), keys: a.candidates }, rule: a.rule },
      }));
      for (const a of result.ambiguous) {
        out.ambiguous++;
        const item: DriftItem = { category: 'ambiguous', side: a.side, keys: { [a.side]: a.key }, candidates: a.candidates, rule: a.rule, note: a.reason };
        rows.push({ kind: DRIFT('ambiguous'), side: a.side, key: a.key, payload: item });
      }
      await store.quarantine(bad);

      for (const [side, keys] of [[sa, result.unmatched.a], [sb, result.unmatched.b]] as const) {
        for (const key of keys) {
          out.orphans[side]!++;
          const item: DriftItem = { category: 'orphan', side, keys: { [side]: key } };
          rows.push({ kind: DRIFT('orphan'), side, key, payload: item }, { kind: REPAIR(side), side, key });
        }
      }

      // Matched pairs, planned as a first link on the records as they are now.
      for (let i = 0; i < result.linked.length; i += READ_CHUNK) {
        const chunk = result.linked.slice(i, i + READ_CHUNK);
        const as = await readMany(p, sa, chunk.map((m) => m.a));
        const bs = await readMany(p, sb, chunk.map((m) => m.b));
        const agreed: { a: string; b: string; fields: ReturnType<typeof planRecord>['link'] }[] = [];
        for (const m of chunk) {
          const ra = as.get(m.a);
          const rb = bs.get(m.b);
          const a = ra ? snapshot(p, sa, ra) : null;
          const b = rb ? snapshot(p, sb, rb) : null;
          if (!a || !b) continue; // gone or changed beyond mapping since it was read: the next reconciliation sees it
          const plan = planRecord(policy, { sides: { [sa]: a, [sb]: b }, link: null });
          const writes = Object.keys(plan.patches).length > 0 || plan.create !== null || plan.deleteOn !== null;
          if (!writes && plan.conflicts.length === 0) {
            agreed.push({ a: m.a, b: m.b, fields: plan.link });
            continue;
          }
          out.matchedWithDiffs++;
          const differing = compareLinked(policy, { [sa]: a, [sb]: b }, null).map((d) => d.field);
          const item: DriftItem = { category: 'matched', keys: { [sa]: m.a, [sb]: m.b }, rule: m.rule, note: `differs in ${differing.join(', ') || 'nothing'}; linked by a repair` };
          rows.push({ kind: DRIFT('matched'), side: sa, key: m.a, payload: item }, { kind: REPAIR(sa), side: sa, key: m.a, value: m.b });
        }
        const keyOf = (side: string, key: string) => ({ side, system: p.sides[side]!.system, entity: p.sides[side]!.entity, key });
        await store.upsertLinks(
          p.name,
          agreed.map((x) => ({ keys: [keyOf(sa, x.a), keyOf(sb, x.b)], fields: x.fields.fields, deletedSides: x.fields.deletedSides })),
        );
        await store.releaseQuarantine(p.name, agreed.flatMap((x) => [`${sa}:${x.a}`, `${sb}:${x.b}`]));
        out.linkedByMatch += agreed.length;
      }
      await store.addReconRows(input.reconId, rows);
      return out;
    },

    /**
     * The next records of `side` to repair, read again now and staged as a page of that side
     * (fetchPairPage's format) for planPairPage, with the matched partners as a second claim check.
     */
    async stageRepairPage(ref: { pair: string; reconId: string; side: string; seq: number; afterSeq: number; limit: number }) {
      const p = pairOf(ref.pair);
      const rows = await store.listReconRows(ref.reconId, REPAIR(ref.side), { afterSeq: ref.afterSeq, limit: ref.limit });
      const partners: Record<string, string> = {};
      for (const r of rows) if (r.value) partners[r.key] = r.value;
      const records = [...(await readMany(p, ref.side, rows.map((r) => r.key))).values()];
      const pageId = await store.stagePage(ref.reconId, `${ref.seq}/${ref.side}/raw`, toColumnar(records));
      const matchesPageId = Object.keys(partners).length ? await store.stagePage(ref.reconId, `${ref.seq}/${ref.side}/matches`, partners) : undefined;
      return {
        pageId,
        ...(matchesPageId ? { matchesPageId } : {}),
        count: records.length,
        lastSeq: rows.at(-1)?.seq ?? ref.afterSeq,
        hasMore: rows.length === ref.limit,
      };
    },

    /**
     * The report: natural-key duplicates grouped over the whole run, every category's items
     * (up to REPORT_ITEMS_MAX each), stored as one JSON document; the run's rows and pages are
     * dropped. Returns the report's id, the final counts and the readable summary.
     */
    async finishReconcile(input: {
      pair: string;
      reconId: string;
      repair: boolean;
      status: string;
      startedAtMs: number;
      counts: ReconcileCounts;
      repaired: RepairTotals | null;
      /** Activity attempts after the first (absent from workflows before it was counted). */
      retries?: number;
    }): Promise<{ reportId: string; summary: string; counts: ReconcileCounts }> {
      const p = pairOf(input.pair);
      const sides = sideNamesOf(p);
      const counts: ReconcileCounts = { ...input.counts, duplicates: Object.fromEntries(sides.map((s) => [s, 0])) };
      const items = Object.fromEntries(DRIFT_CATEGORIES.map((c) => [c, [] as DriftItem[]])) as Record<DriftCategory, DriftItem[]>;
      const truncated: DriftCategory[] = [];
      for (const g of await store.groupReconRows(input.reconId, NATURAL, REPORT_ITEMS_MAX)) {
        counts.duplicates[g.side] = (counts.duplicates[g.side] ?? 0) + 1;
        const colon = g.value.indexOf(':');
        items.duplicate.push({ category: 'duplicate', side: g.side, keys: {}, candidates: g.keys, rule: Number(g.value.slice(0, colon)), matchKey: g.value.slice(colon + 1) });
      }
      if (items.duplicate.length >= REPORT_ITEMS_MAX) truncated.push('duplicate');
      for (const c of DRIFT_CATEGORIES) {
        if (c === 'duplicate') continue;
        let afterSeq = 0;
        for (;;) {
          const rows = await store.listReconRows(input.reconId, DRIFT(c), { afterSeq, limit: LIST_CHUNK });
          for (const r of rows) if (items[c].length < REPORT_ITEMS_MAX) items[c].push(r.payload as DriftItem);
          if (rows.length < LIST_CHUNK) break;
          afterSeq = rows.at(-1)!.seq;
        }
        if (items[c].length >= REPORT_ITEMS_MAX) truncated.push(c);
      }
      const report: ReconcileReport = {
        pair: p.name,
        reconId: input.reconId,
        repair: input.repair,
        startedAt: new Date(input.startedAtMs).toISOString(),
        finishedAt: new Date().toISOString(),
        sides,
        counts,
        items,
        truncated,
        repaired: input.repaired,
      };
      await store.dropPages(input.reconId);
      const reportId = await store.stagePage(`reconcile:${p.name}`, input.reconId, report);
      const summary = summariseDrift(p.name, sides, counts, items);
      const flat: Record<string, number> = { compared: counts.compared, fieldDiffs: counts.fieldDiffs, linkedByMatch: counts.linkedByMatch, ambiguous: counts.ambiguous };
      for (const k of ['read', 'missing', 'orphans', 'duplicates'] as const) for (const [s, n] of Object.entries(counts[k])) flat[`${s}.${k}`] = n;
      if (input.retries !== undefined) flat.retries = input.retries;
      await store.saveRunReport({ pipeline: p.name, syncId: input.reconId, status: input.status, startedAt: report.startedAt, finishedAt: report.finishedAt, totals: flat });
      await store.dropReconRows(input.reconId);
      return { reportId, summary, counts };
    },
  };
}
