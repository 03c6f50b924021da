/**
 * One-way pipelines on the pure planner: a one-way pipeline is a link space where every mapped
 * field is owned by the source side and only the target side gets patches. This module builds
 * that policy and the planner's inputs for one source record; the decision itself is
 * `planRecord` (planner.ts), the same function two-way pairs use.
 *
 * A one-way pipeline does not read its target: the target "now" is what the link says we last
 * synced there (a person's edit in the target is overwritten only when the source changes that
 * field, as before). Per unit the link may hold the value, only its hash (migrated or pair links),
 * or nothing; a link migrated from a binding without values holds only the whole record's hash,
 * which vouches for every unit when it equals the source record's hash now. Every link this
 * pipeline writes keeps the record's hash too, so an unchanged record costs one comparison.
 */
import type { Link, LinkField } from '../../contracts/link';
import { stableHash, stableJson } from '../../contracts/stable-json';
import { readPath, setPath } from '../record-path';
import { planRecord, type SideSnapshot } from './planner';
import type { PairPolicy } from './policy';

export interface OneWaySpace {
  space: string;
  sourceSide: string;
  targetSide: string;
  /** Canonical units the pipeline compares and writes. */
  units: string[];
  /**
   * Units whose last synced value the link keeps (e.g. the approval's watched fields); of the
   * others only the hash. Absent: every value.
   */
  valued?: string[];
}

export interface OneWayInput {
  /** The source record now, mapped into canonical space. */
  source: { key: string; fields: Record<string, unknown>; modifiedAt?: string };
  /** The whole canonical record's hash (activities/hash recordHash), compared with a migrated link's. */
  sourceHash: string;
  link: Pick<Link, 'keys' | 'fields' | 'tombstone' | 'recordHash'> | null;
}

export interface OneWayPlan {
  outcome: 'create' | 'update' | 'unchanged' | 'skip';
  /** Units to write on the target (an update); every unit for a create. */
  changed: string[];
  /** The link's fields once the write is durable (units merged into what the link held). */
  fields: Record<string, LinkField>;
  /** Nothing to write, but the link learns what it lacked (per-field hashes, the record hash): store it. */
  refresh: boolean;
  skipped?: string;
}

const hashOf = (v: unknown): string => stableHash(v ?? null);
/** A target value we cannot know (the link kept another hash and no value): differs from any real value. */
const UNKNOWN = Object.freeze({ '\u0000unknown-target-value': true });

/** The planner's policy for a one-way space: the source owns every unit; only the target is created. */
export function oneWayPolicy(s: OneWaySpace): PairPolicy {
  return {
    pair: s.space,
    sides: [s.sourceSide, s.targetSide],
    create: { [s.sourceSide]: false, [s.targetSide]: true },
    softDelete: { [s.sourceSide]: null, [s.targetSide]: null },
    units: s.units.map((path) => ({ path, owner: s.sourceSide, conflict: 'owner-wins' as const })),
    deletes: 'ignore',
  };
}

/** Plan one source record of a one-way pipeline. Pure and deterministic. */
export function planOneWay(space: OneWaySpace, policy: PairPolicy, input: OneWayInput): OneWayPlan {
  const { sourceSide: s, targetSide: t } = space;
  const link = input.link;
  const snap: SideSnapshot = { key: input.source.key, fields: input.source.fields, modifiedAt: input.source.modifiedAt ?? '' };
  if (link?.tombstone) return { outcome: 'skip', changed: [], fields: link.fields, refresh: false, skipped: 'tombstoned' };
  const valued = space.valued ? new Set(space.valued) : null;
  const merged = (fields: Record<string, LinkField>) => {
    const out = { ...(link?.fields ?? {}) };
    for (const u of space.units) {
      const f = fields[u];
      if (f) out[u] = valued && !valued.has(u) ? { hash: f.hash, origin: f.origin } : f;
    }
    return out;
  };

  if (!link || link.keys[t] === undefined) {
    const plan = planRecord(policy, { sides: { [s]: snap }, link: null });
    return { outcome: 'create', changed: [...space.units], fields: merged(plan.link.fields), refresh: false };
  }

  // The whole record is as last written, and the link knows every unit: nothing to plan.
  const vouched = link.recordHash !== undefined && link.recordHash === input.sourceHash;
  if (vouched && space.units.every((u) => link.fields[u] !== undefined)) return { outcome: 'unchanged', changed: [], fields: link.fields, refresh: false };

  // The target now, as far as the link knows it, and the baselines the planner may use.
  const target: Record<string, unknown> = {};
  const base: Record<string, LinkField> = {};
  for (const u of space.units) {
    const lf = link.fields[u];
    const mine = readPath(input.source.fields, u);
    let value: unknown;
    if (lf && lf.value !== undefined && hashOf(lf.value) === lf.hash) value = lf.value;
    else if (lf ? hashOf(mine) === lf.hash : vouched) value = mine;
    else value = UNKNOWN;
    if (value !== UNKNOWN && lf) base[u] = lf;
    setPath(target, u, value);
  }
  const plan = planRecord(policy, {
    sides: { [s]: snap, [t]: { key: link.keys[t]!, fields: target, modifiedAt: '' } },
    link: { fields: base, deletedSides: [], tombstone: null },
  });
  const changed = Object.keys(plan.patches[t] ?? {});
  const fields = merged(plan.link.fields);
  if (changed.length > 0) return { outcome: 'update', changed, fields, refresh: false };
  const refresh = link.recordHash !== input.sourceHash || space.units.some((u) => stableJson(link.fields[u] ?? null) !== stableJson(fields[u] ?? null));
  return { outcome: 'unchanged', changed: [], fields, refresh };
}
