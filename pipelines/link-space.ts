import { sideNamesOf, type Pair } from '../contracts/pair';
import type { CanonicalEntity } from '../mappings/canonical';
import { pathsOverlap } from '../mappings/dsl/compile';
import { compilePairPolicy, fieldUnits } from '../mappings/two-way/policy';
import type { Registry } from './load';
import type { Pipeline } from './schema';

/**
 * Where a one-way pipeline keeps its links (see activities/sync.ts for the design).
 *
 * - A pair whose two sides are the pipeline's source and target (same systems and entities, in
 *   either order, same canonical entity) shares its link space with the pipeline: the pair's name
 *   and the pair's side names. The first such pair by name, when there are several.
 * - Otherwise the pipeline's own name, with sides `source` and `target`.
 *
 * `units` are the canonical field units the pipeline compares and writes: the space's units
 * (a pair's, which may split an object field into its children) that the pipeline's mapping
 * fills. A field the mapping does not fill is never compared, so a pipeline that maps fewer fields
 * than a pair's other direction does not clear them.
 */
export interface LinkSpace {
  /** The link space (the `pair` argument of the store's link methods). */
  space: string;
  /** True when a pair owns the space (its links are shared with the pair's two-way runs). */
  shared: boolean;
  sourceSide: string;
  targetSide: string;
  /** Every unit of the space (what a migrated binding's values are split into). */
  allUnits: string[];
  /** The units the pipeline compares and writes. */
  units: string[];
}

const same = (s: { system: string; entity: string }, e: { system: string; entity: string }) => s.system === e.system && s.entity === e.entity;

export function linkSpaceOf(p: Pipeline, registry: Pick<Registry, 'pairs' | 'mappings'>): LinkSpace {
  const mapping = registry.mappings.get(p.mapping)!;
  const canonical = mapping.target as CanonicalEntity;
  const fills = (u: string) => mapping.fields.some((f) => pathsOverlap(f, u));
  const pairs = [...registry.pairs.values()].filter((pair: Pair) => pair.canonical === canonical).sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  for (const pair of pairs) {
    const [a, b] = sideNamesOf(pair);
    const sa = pair.sides[a]!;
    const sb = pair.sides[b]!;
    const sides = same(sa, p.source) && same(sb, p.target) ? [a, b] : same(sb, p.source) && same(sa, p.target) ? [b, a] : null;
    if (!sides) continue;
    const allUnits = compilePairPolicy(pair).units.map((u) => u.path);
    return { space: pair.name, shared: true, sourceSide: sides[0]!, targetSide: sides[1]!, allUnits, units: allUnits.filter(fills) };
  }
  const allUnits = fieldUnits(canonical, []);
  return { space: p.name, shared: false, sourceSide: 'source', targetSide: 'target', allUnits, units: allUnits.filter(fills) };
}
