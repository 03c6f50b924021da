/**
 * # The two-way planner
 *
 * One pure function per linked record: (side A now, side B now, the link, the write ledger, the
 * pair's policy) → what to write on each side, and why. No I/O, no clock: the caller reads both
 * sides, maps them into canonical records, plans, writes, then stores the new link values and
 * the ledger entries once the writes are durable. Everything is compared in canonical space, on
 * `stableHash` of each field unit (a top-level field, or a nested path the pair configures).
 *
 * **Inputs.** For each side: its record now (key, canonical fields, modifiedAt, deleted flag),
 * or `null` when it is not there. The link: per field the last synced value (or only its hash)
 * and the side it came from, the sides known as archived, a tombstone. The ledger: per side and
 * field, the hash of the value we last wrote there.
 *
 * **Per field.**
 * - *Echo*: a side holds exactly what we last wrote there, but not what the link says (the link
 *   was not updated after that write): our own write, not a change. It counts as the baseline.
 * - Both sides equal → nothing to write (converged, even if both changed).
 * - Only one side changed since the baseline: if that side may own the field (`owner` is it or
 *   `both`) the value flows to the other side. If the other side owns it, the edit is *rejected*:
 *   not propagated, reported, and the owner's value is written back on the editing side.
 * - Both changed, differently: a *conflict*. `owner-wins` → the owner's value; `latest-wins` →
 *   the side with the later modifiedAt (a tie goes to the first side in the pair file);
 *   `manual` → `pending`, nothing written for that field, the link keeps the old value, unless
 *   the input carries a person's *decision* for that field (`decisions`): then the named side
 *   wins exactly as if it owned the field, but only while both sides still hold the values the
 *   person saw (their hashes); a value that moved since stays `pending`.
 * - No baseline (first link, or a field never synced): a single owner's value wins silently;
 *   for `both` the difference is a conflict settled by the field's policy.
 *
 * **Per record.**
 * - Only one side has the record and there is no link → create it on the other side with every
 *   field (a create overwrites nothing), when that side allows `create`.
 * - A link whose record is missing on a side → hard delete: tombstone, and per `deletes.policy`
 *   nothing / archive the other side (`active: false`) / delete the other side.
 * - A side newly soft-deleted (reader flag, or its `softDelete` field) → per policy: nothing,
 *   archive the other side, or delete it (tombstone). While archived, fields are not planned;
 *   when a person un-archives the side we archived, the deleted side is restored (`active: true`).
 * - A tombstoned link plans nothing.
 *
 * Patches hold only changed units, keyed by canonical path; `null` clears a field.
 */
import type { LedgerEntry, Link, LinkField, LinkLedger } from '../../contracts/link';
import { stableHash } from '../../contracts/stable-json';
import { readPath } from '../record-path';
import type { ConflictPolicy } from '../../contracts/pair';
import type { FieldUnit, PairPolicy } from './policy';

/** One side's record now, mapped into canonical space. */
export interface SideSnapshot {
  key: string;
  fields: Record<string, unknown>;
  /** ISO-8601; used by `latest-wins`. */
  modifiedAt: string;
  /** Soft-deleted (archived) by the reader's own account (HubSpot `archived`, a status column). */
  deleted?: boolean;
}

export interface PlanRecordInput {
  /** Side name → record now; `null` or absent when the side has no such record. */
  sides: Record<string, SideSnapshot | null | undefined>;
  /** The link, or null for a record not linked yet (only on one side, or just matched). */
  link: Pick<Link, 'fields' | 'deletedSides' | 'tombstone'> | null;
  ledger?: LinkLedger;
  /** A person's decisions on `manual` conflicts of this record: canonical path → decision. */
  decisions?: Record<string, ConflictDecision>;
}

/** Which side wins a `manual` conflict, for the values (by their stableHash, per side) the person saw. */
export interface ConflictDecision {
  side: string;
  hashes: Record<string, string>;
}

export interface Conflict {
  field: string;
  /** Side name → its value now. */
  values: Record<string, unknown>;
  policy: ConflictPolicy;
  /** The winning side, or `pending` for a person to decide (`manual`). */
  resolution: string;
  /** Set when a person's decision settled this `manual` conflict. */
  decided?: true;
}

/** An edit by a side that does not own the field: not propagated; the owner's value is restored. */
export interface RejectedEdit {
  field: string;
  side: string;
  value: unknown;
  owner: string;
  restored: unknown;
}

export interface Echo {
  field: string;
  side: string;
}

export interface Deletion {
  /** The side whose record was deleted (or, for `restore`, the side a person un-archived). */
  side: string;
  kind: 'soft' | 'hard';
  action: 'none' | 'archive' | 'delete' | 'restore';
}

export type RecordOutcome = 'unchanged' | 'update' | 'create' | 'delete' | 'archive' | 'restore' | 'conflict' | 'skip';

export interface RecordPlan {
  outcome: RecordOutcome;
  /** Side name → canonical path → new value (only changed units; `null` clears). */
  patches: Record<string, Record<string, unknown>>;
  /** Create the record on `side` with these canonical fields. */
  create: { side: string; fields: Record<string, unknown> } | null;
  /** Delete the linked record on this side. */
  deleteOn: string | null;
  conflicts: Conflict[];
  rejected: RejectedEdit[];
  echoes: Echo[];
  deletion: Deletion | null;
  /** Why nothing is planned, for `skip`: `tombstoned`, `create-disabled`, `deleted-unlinked`, `archived`. */
  skipped?: string;
  /** The link after the writes are applied: store it once they are durable. */
  link: { fields: Record<string, LinkField>; deletedSides: string[]; tombstone: { side: string } | null };
  /** Ledger entries (per side and field written) to record once the writes are durable. */
  writes: Omit<LedgerEntry, 'linkId'>[];
}

const hashOf = (v: unknown): string => stableHash(v ?? null);
const ARCHIVE_FIELD = 'active';

function emptyPlan(link: PlanRecordInput['link']): RecordPlan {
  return {
    outcome: 'unchanged',
    patches: {},
    create: null,
    deleteOn: null,
    conflicts: [],
    rejected: [],
    echoes: [],
    deletion: null,
    link: { fields: { ...(link?.fields ?? {}) }, deletedSides: [...(link?.deletedSides ?? [])], tombstone: link?.tombstone ? { side: link.tombstone.side } : null },
    writes: [],
  };
}

function write(plan: RecordPlan, side: string, field: string, value: unknown): void {
  (plan.patches[side] ??= {})[field] = value === undefined ? null : value;
  plan.writes.push({ side, field, hash: hashOf(value) });
}

/** The later side by modifiedAt; a tie (or unreadable times) goes to the first side. */
function latest(policy: PairPolicy, a: SideSnapshot, b: SideSnapshot): string {
  const [sa, sb] = policy.sides;
  const ta = Date.parse(a.modifiedAt);
  const tb = Date.parse(b.modifiedAt);
  if (Number.isNaN(ta) || Number.isNaN(tb)) return b.modifiedAt > a.modifiedAt ? sb : sa;
  return tb > ta ? sb : sa;
}

function isSoftDeleted(policy: PairPolicy, side: string, s: SideSnapshot): boolean {
  const rule = policy.softDelete[side];
  return s.deleted === true || (rule != null && hashOf(readPath(s.fields, rule.field)) === hashOf(rule.equals));
}

/** Plan one field unit of a record present on both sides. */
function planUnit(policy: PairPolicy, unit: FieldUnit, snaps: [SideSnapshot, SideSnapshot], input: PlanRecordInput, plan: RecordPlan): void {
  const [sa, sb] = policy.sides;
  const [a, b] = snaps;
  const va = readPath(a.fields, unit.path);
  const vb = readPath(b.fields, unit.path);
  const ha = hashOf(va);
  const hb = hashOf(vb);
  const base = input.link?.fields[unit.path];
  const echoA = input.ledger?.[sa]?.[unit.path] === ha && ha !== base?.hash;
  const echoB = input.ledger?.[sb]?.[unit.path] === hb && hb !== base?.hash;
  if (echoA) plan.echoes.push({ field: unit.path, side: sa });
  if (echoB) plan.echoes.push({ field: unit.path, side: sb });
  // An echo is our own write: it is the baseline the link missed.
  const baseHash = echoA && echoB ? (ha === hb ? ha : undefined) : echoA ? ha : echoB ? hb : base?.hash;
  const keep = (value: unknown, origin: string) => {
    plan.link.fields[unit.path] = { hash: hashOf(value), value: value ?? null, origin };
  };
  const single = unit.owner === 'both' ? null : unit.owner;

  if (ha === hb) {
    keep(va, base?.hash === ha ? base.origin : (single ?? sa));
    return;
  }
  const valueOf = (s: string) => (s === sa ? va : vb);
  const other = (s: string) => (s === sa ? sb : sa);
  /** `from` wins: its value goes to the other side. */
  const flow = (from: string) => {
    write(plan, other(from), unit.path, valueOf(from));
    keep(valueOf(from), from);
  };

  /** A `manual` conflict: a person's decision on exactly these values settles it, else it waits. */
  const manual = () => {
    const d = input.decisions?.[unit.path];
    const decided = d !== undefined && (d.side === sa || d.side === sb) && d.hashes[sa] === ha && d.hashes[sb] === hb;
    plan.conflicts.push({ field: unit.path, values: { [sa]: va, [sb]: vb }, policy: unit.conflict, resolution: decided ? d.side : 'pending', ...(decided ? { decided: true as const } : {}) });
    if (decided) flow(d.side);
  };

  if (baseHash === undefined) {
    // No baseline: the owner's value, or the field's policy between equals.
    if (single) return flow(single);
    if (unit.conflict !== 'latest-wins') return manual();
    const winner = latest(policy, a, b);
    plan.conflicts.push({ field: unit.path, values: { [sa]: va, [sb]: vb }, policy: unit.conflict, resolution: winner });
    flow(winner);
    return;
  }
  const changedA = ha !== baseHash;
  const changedB = hb !== baseHash;
  if (changedA !== changedB) {
    const editor = changedA ? sa : sb;
    if (single === null || single === editor) return flow(editor);
    plan.rejected.push({ field: unit.path, side: editor, value: valueOf(editor), owner: single, restored: valueOf(single) });
    return flow(single);
  }
  // Both changed, to different values.
  const winner = unit.conflict === 'owner-wins' ? single! : unit.conflict === 'latest-wins' ? latest(policy, a, b) : 'pending';
  if (winner === 'pending') return manual();
  plan.conflicts.push({ field: unit.path, values: { [sa]: va, [sb]: vb }, policy: unit.conflict, resolution: winner });
  flow(winner);
}

/** Record only on `from`, no link: create it on the other side when allowed. */
function planCreate(policy: PairPolicy, from: string, snap: SideSnapshot, plan: RecordPlan): RecordPlan {
  const to = from === policy.sides[0] ? policy.sides[1] : policy.sides[0];
  if (isSoftDeleted(policy, from, snap)) return { ...plan, outcome: 'skip', skipped: 'deleted-unlinked' };
  if (!policy.create[to]) return { ...plan, outcome: 'skip', skipped: 'create-disabled' };
  plan.create = { side: to, fields: snap.fields };
  for (const u of policy.units) {
    const v = readPath(snap.fields, u.path);
    plan.link.fields[u.path] = { hash: hashOf(v), value: v ?? null, origin: from };
    plan.writes.push({ side: to, field: u.path, hash: hashOf(v) });
  }
  return { ...plan, outcome: 'create' };
}

/** Apply the delete policy to `survivor` after a delete on `deleted`. */
function propagateDelete(policy: PairPolicy, deleted: string, survivor: string, kind: 'soft' | 'hard', snap: SideSnapshot, plan: RecordPlan): RecordPlan {
  const action = policy.deletes === 'ignore' ? 'none' : policy.deletes;
  plan.deletion = { side: deleted, kind, action };
  if (kind === 'hard' || action === 'delete') plan.link.tombstone = { side: deleted };
  if (!plan.link.deletedSides.includes(deleted) && kind === 'soft') plan.link.deletedSides.push(deleted);
  if (action === 'delete') {
    plan.deleteOn = survivor;
    return { ...plan, outcome: 'delete' };
  }
  if (action === 'archive') {
    const already = readPath(snap.fields, ARCHIVE_FIELD) === false;
    if (!already) write(plan, survivor, ARCHIVE_FIELD, false);
    plan.link.fields[ARCHIVE_FIELD] = { hash: hashOf(false), value: false, origin: deleted };
    if (!plan.link.deletedSides.includes(survivor)) plan.link.deletedSides.push(survivor);
    return already ? { ...plan, outcome: 'skip', skipped: 'archived' } : { ...plan, outcome: 'archive' };
  }
  return { ...plan, outcome: 'skip', skipped: kind === 'hard' ? 'tombstoned' : 'archived' };
}

/** Plan one record of a pair. Pure and deterministic. */
export function planRecord(policy: PairPolicy, input: PlanRecordInput): RecordPlan {
  const [sa, sb] = policy.sides;
  const a = input.sides[sa] ?? null;
  const b = input.sides[sb] ?? null;
  const plan = emptyPlan(input.link);
  if (input.link?.tombstone) return { ...plan, outcome: 'skip', skipped: 'tombstoned' };
  if (!input.link) {
    if (a && !b) return planCreate(policy, sa, a, plan);
    if (b && !a) return planCreate(policy, sb, b, plan);
    if (!a || !b) return plan;
  }
  // Hard deletes: the link says the record existed, a side no longer has it.
  if (!a || !b) {
    if (!a && !b) {
      plan.link.tombstone = { side: sa };
      plan.deletion = { side: sa, kind: 'hard', action: 'none' };
      return { ...plan, outcome: 'skip', skipped: 'tombstoned' };
    }
    return a ? propagateDelete(policy, sb, sa, 'hard', a, plan) : propagateDelete(policy, sa, sb, 'hard', b!, plan);
  }

  // Soft deletes.
  const known = new Set(input.link?.deletedSides ?? []);
  const deletedA = isSoftDeleted(policy, sa, a);
  const deletedB = isSoftDeleted(policy, sb, b);
  if ((deletedA && !known.has(sa)) || (deletedB && !known.has(sb))) {
    if (deletedA && deletedB) {
      plan.link.deletedSides = [sa, sb];
      plan.deletion = { side: known.has(sa) ? sb : sa, kind: 'soft', action: 'none' };
      return { ...plan, outcome: 'skip', skipped: 'archived' };
    }
    return deletedA ? propagateDelete(policy, sa, sb, 'soft', b, plan) : propagateDelete(policy, sb, sa, 'soft', a, plan);
  }
  if (deletedA || deletedB) {
    // Still archived on one side. If the other side is one we archived and a person has since
    // re-activated it, restore the deleted side; otherwise the record stays paused.
    const [gone, other, otherSnap] = deletedA ? [sa, sb, b] : [sb, sa, a];
    const otherActive = !(deletedA && deletedB) && readPath(otherSnap.fields, ARCHIVE_FIELD) !== false;
    if (policy.deletes === 'archive' && known.has(other) && otherActive) {
      write(plan, gone, ARCHIVE_FIELD, true);
      plan.link.fields[ARCHIVE_FIELD] = { hash: hashOf(true), value: true, origin: other };
      plan.link.deletedSides = [];
      plan.deletion = { side: other, kind: 'soft', action: 'restore' };
      return { ...plan, outcome: 'restore' };
    }
    return { ...plan, outcome: 'skip', skipped: 'archived' };
  }
  plan.link.deletedSides = [];

  // A side we knew as archived is active again: a person restored it. Under `archive` the other
  // side, which we archived, is restored with it (whoever owns `active`); then fields sync as usual.
  let snaps: [SideSnapshot, SideSnapshot] = [a, b];
  const revived = [sa, sb].find((s) => known.has(s));
  if (revived && policy.deletes === 'archive') {
    const other = revived === sa ? sb : sa;
    const otherSnap = other === sa ? a : b;
    if (readPath(otherSnap.fields, ARCHIVE_FIELD) === false) {
      write(plan, other, ARCHIVE_FIELD, true);
      const restored = { ...otherSnap, fields: { ...otherSnap.fields, [ARCHIVE_FIELD]: true } };
      snaps = other === sa ? [restored, b] : [a, restored];
    }
    plan.link.fields[ARCHIVE_FIELD] = { hash: hashOf(true), value: true, origin: revived };
    plan.deletion = { side: revived, kind: 'soft', action: 'restore' };
  }

  for (const unit of policy.units) planUnit(policy, unit, snaps, input, plan);
  if (plan.deletion?.action === 'restore') return { ...plan, outcome: 'restore' };
  const pending = plan.conflicts.some((c) => c.resolution === 'pending');
  const writes = Object.keys(plan.patches).length > 0;
  return { ...plan, outcome: writes ? 'update' : pending ? 'conflict' : 'unchanged' };
}
