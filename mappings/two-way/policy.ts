import type { ConflictPolicy, Pair } from '../../contracts/pair';
import { sideNamesOf } from '../../contracts/pair';
import { CANONICAL_SCHEMAS, type CanonicalEntity } from '../canonical';
import { childFields, hasCanonicalPath } from '../canonical-paths';

/** One unit of comparison: a canonical path compared and written as a whole, with its policy. */
export interface FieldUnit {
  path: string;
  /** A side name, or `both`. */
  owner: string;
  conflict: ConflictPolicy;
}

/** A pair's policy in the form the planner uses: plain data (safe to pass to a workflow). */
export interface PairPolicy {
  pair: string;
  /** The two side names in config order (ties go to the first). */
  sides: [string, string];
  /** May records be created on this side. */
  create: Record<string, boolean>;
  /** Canonical field and value that mark a record as soft-deleted, per side. */
  softDelete: Record<string, { field: string; equals: unknown } | null>;
  units: FieldUnit[];
  deletes: 'ignore' | 'archive' | 'delete';
}

/** The link's identity, never compared or written as a field. */
export const IDENTITY_FIELD = 'externalKey';

/**
 * Units: every top-level canonical field except the identity; an object field (address,
 * creditLimit) stays one unit unless the pair configures a path inside it, then it splits into
 * its children (so `address.countryCode` can have its own owner).
 */
export function fieldUnits(canonical: CanonicalEntity, configured: string[], prefix = ''): string[] {
  const schema = CANONICAL_SCHEMAS[canonical];
  const out: string[] = [];
  for (const f of childFields(schema, prefix)) {
    const path = prefix ? `${prefix}.${f}` : f;
    if (path === IDENTITY_FIELD) continue;
    if (configured.some((c) => c.startsWith(`${path}.`))) out.push(...fieldUnits(canonical, configured, path));
    else out.push(path);
  }
  return out;
}

export function compilePairPolicy(pair: Pair): PairPolicy {
  const canonical = pair.canonical as CanonicalEntity;
  if (!(canonical in CANONICAL_SCHEMAS)) throw new Error(`pair ${pair.name}: unknown canonical entity ${pair.canonical}`);
  const configured = Object.keys(pair.fields).filter((p) => p !== 'default');
  const fallback = pair.fields.default!;
  const policyOf = (path: string) => {
    // the most specific configured path that is the unit or one of its parents
    const parts = path.split('.');
    for (let n = parts.length; n > 0; n--) {
      const f = pair.fields[parts.slice(0, n).join('.')];
      if (f) return f;
    }
    return fallback;
  };
  const sides = sideNamesOf(pair);
  const units = fieldUnits(canonical, configured).map((path) => ({ path, ...policyOf(path) }));
  const side = <T>(fn: (name: string) => T) => Object.fromEntries(sides.map((s) => [s, fn(s)])) as Record<string, T>;
  if (pair.deletes.policy === 'archive' && !hasCanonicalPath(CANONICAL_SCHEMAS[canonical], 'active')) {
    throw new Error(`pair ${pair.name}: ${canonical} has no "active" field to archive with`);
  }
  return {
    pair: pair.name,
    sides,
    create: side((s) => pair.sides[s]!.create),
    softDelete: side((s) => pair.sides[s]!.softDelete ?? null),
    units,
    deletes: pair.deletes.policy,
  };
}
