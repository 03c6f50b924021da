/**
 * Drift between the two sides of a pair, as reconciliation finds it. Pure: the caller reads both
 * sides, maps them into canonical records and hands linked pairs in here.
 *
 * A linked record drifts in a field unit when the two sides hold different values now (compared
 * on `stableHash` in canonical space, so normalising transforms never look like drift). The
 * link's last synced value tells which side moved (`changedOn`): one side for an edit that has
 * not synced yet (or was made behind the sync's back), both for a conflict, none when the link
 * itself is stale.
 */
import type { Link } from '../../contracts/link';
import { DRIFT_CATEGORIES, type DriftItem, type ReconcileCounts } from '../../contracts/reconcile';
import { stableHash } from '../../contracts/stable-json';
import { readPath } from '../record-path';
import type { SideSnapshot } from './planner';
import type { PairPolicy } from './policy';

export interface FieldDrift {
  field: string;
  /** Side name → value now. */
  values: Record<string, unknown>;
  /** Sides whose value differs from the link's last synced value (empty without a baseline). */
  changedOn: string[];
}

const hashOf = (v: unknown): string => stableHash(v ?? null);

/** Is this side's record soft-deleted (archived), by the reader's flag or the side's softDelete rule? */
export function isArchived(policy: PairPolicy, side: string, s: SideSnapshot): boolean {
  const rule = policy.softDelete[side];
  return s.deleted === true || (rule != null && hashOf(readPath(s.fields, rule.field)) === hashOf(rule.equals));
}

/**
 * Should a linked record be compared field by field? Not when its link is tombstoned (the
 * business record is gone) or a side is archived (the planner does not sync fields then).
 */
export function comparable(link: Pick<Link, 'tombstone' | 'deletedSides'> | null): boolean {
  return !link || (link.tombstone === null && link.deletedSides.length === 0);
}

/** The field units in which two linked records differ now, in the pair's unit order. */
export function compareLinked(policy: PairPolicy, records: Record<string, SideSnapshot>, link: Pick<Link, 'fields'> | null): FieldDrift[] {
  const [sa, sb] = policy.sides;
  const a = records[sa];
  const b = records[sb];
  if (!a || !b) throw new Error(`compareLinked needs both sides (${sa}, ${sb})`);
  const out: FieldDrift[] = [];
  for (const unit of policy.units) {
    const va = readPath(a.fields, unit.path);
    const vb = readPath(b.fields, unit.path);
    const ha = hashOf(va);
    const hb = hashOf(vb);
    if (ha === hb) continue;
    const base = link?.fields[unit.path]?.hash;
    const changedOn = base === undefined ? [] : [sa, sb].filter((s) => (s === sa ? ha : hb) !== base);
    out.push({ field: unit.path, values: { [sa]: va ?? null, [sb]: vb ?? null }, changedOn });
  }
  return out;
}

/** One line for a drift item, e.g. `crm:42 ⇄ erp:17 name: crm "Acme" ≠ erp "ACME" (changed on crm)`. */
export function describeDrift(item: DriftItem): string {
  const keys = Object.entries(item.keys)
    .map(([s, k]) => `${s}:${k}`)
    .join(' ⇄ ');
  const show = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v ?? null));
  switch (item.category) {
    case 'missing':
      return `${keys}: gone on ${item.side} (hard delete)${item.link ? ` [link ${item.link}]` : ''}`;
    case 'orphan':
      return `${keys}: only on ${item.side}, no link and no match`;
    case 'field': {
      const values = Object.entries(item.values ?? {})
        .map(([s, v]) => `${s} ${show(v)}`)
        .join(' ≠ ');
      const changed = item.changedOn?.length ? ` (changed on ${item.changedOn.join(' and ')})` : '';
      return `${keys} ${item.field}: ${values}${changed}`;
    }
    case 'duplicate':
      return `${item.side}: ${item.candidates?.join(', ')} share ${item.matchKey ?? 'a natural key'} (rule ${item.rule})`;
    case 'ambiguous':
      return `${keys}: ${item.candidates?.length ?? 0} candidates ${item.candidates?.join(', ')} (rule ${item.rule}); quarantined`;
    case 'matched':
      return `${keys}: matched by rule ${item.rule}${item.note ? `, ${item.note}` : ''}`;
  }
}

/** The readable summary of a reconciliation: counts, then the first `perCategory` items of each category. */
export function summariseDrift(pair: string, sides: readonly string[], counts: ReconcileCounts, items: Record<string, DriftItem[]>, perCategory = 20): string {
  const bySide = (r: Record<string, number>) => sides.map((s) => `${s} ${r[s] ?? 0}`).join(', ');
  const lines = [
    `reconciliation of ${pair}: read ${bySide(counts.read)}; ${counts.compared} linked records compared, ${counts.skipped} skipped (tombstoned or archived)`,
    `missing (hard deletes): ${bySide(counts.missing)}`,
    `orphans (no link, no match): ${bySide(counts.orphans)}`,
    `field differences: ${counts.fieldDiffs} in ${counts.recordsWithDiffs} records`,
    `duplicates by match rules: ${bySide(counts.duplicates)}`,
    `first links by match rules: ${counts.linkedByMatch} linked (values agree), ${counts.matchedWithDiffs} with differences, ${counts.ambiguous} ambiguous (quarantined)`,
    `not compared: unmappable ${bySide(counts.unmappable)}; archived and unlinked ${bySide(counts.archivedUnlinked)}`,
  ];
  for (const c of DRIFT_CATEGORIES) {
    const list = items[c] ?? [];
    if (list.length === 0) continue;
    lines.push(`${c}:`);
    for (const item of list.slice(0, perCategory)) lines.push(`  ${describeDrift(item)}`);
    if (list.length > perCategory) lines.push(`  … ${list.length - perCategory} more in the report`);
  }
  return lines.join('\n');
}

/** A repair's limits, from the pair's `limits` and `deletes.maxPercent`. */
export interface RepairLimits {
  maxUpdates?: number;
  maxCreates?: number;
  /** Deleting (or archiving) more than this percentage of a side needs approval. */
  maxDeletePercent: number;
}

export type SideWrites = Record<string, { creates: number; updates: number; archives: number; deletes: number }>;

/**
 * Why a whole repair needs a person (empty: it does not). Unlike a sync page, whose delete
 * percentage is taken over the page, a repair holds only drifted records: its deletes are
 * weighed against the whole side as reconciliation read it.
 */
export function repairRisks(limits: RepairLimits, writes: SideWrites, sideSizes: Record<string, number>): string[] {
  const reasons: string[] = [];
  for (const [side, w] of Object.entries(writes)) {
    if (limits.maxUpdates !== undefined && w.updates > limits.maxUpdates) reasons.push(`${w.updates} updates on ${side}, above the limit of ${limits.maxUpdates}`);
    if (limits.maxCreates !== undefined && w.creates > limits.maxCreates) reasons.push(`${w.creates} creates on ${side}, above the limit of ${limits.maxCreates}`);
    const removed = w.deletes + w.archives;
    const size = Math.max(sideSizes[side] ?? 0, removed);
    if (removed > 0 && (removed / size) * 100 > limits.maxDeletePercent) {
      reasons.push(`${removed} of ${size} records deleted or archived on ${side} (${Math.round((removed / size) * 100)}%), above ${limits.maxDeletePercent}%`);
    }
  }
  return reasons;
}
