import type { CanonicalEntity } from '../mappings/canonical';
import { pathsOverlap } from '../mappings/dsl/compile';
import { fieldUnits } from '../mappings/two-way/policy';
import type { Registry } from './load';
import type { Pipeline } from './schema';

/**
 * Where a one-way pipeline keeps its links (see the note at the top of activities/sync.ts): its
 * own link space, named after the pipeline, with sides `source` and `target`. Never a pair's
 * space and never another pipeline's: a pair and the pipelines over the same records find each
 * other's records by external key instead (the pair's first-link rule, the pipeline's upsert).
 *
 * `units` are the canonical field units the pipeline compares and writes: those its mapping fills
 * (a field the mapping does not fill is never compared, nor cleared).
 */
export interface LinkSpace {
  /** The link space (the `pair` argument of the store's link methods). */
  space: string;
  sourceSide: string;
  targetSide: string;
  /** Every unit of the canonical entity (what a migrated binding's values are split into). */
  allUnits: string[];
  /** The units the pipeline compares and writes. */
  units: string[];
  /** Units whose values (not only hashes) the links keep; absent: all. */
  valued?: string[];
}

export function linkSpaceOf(p: Pipeline, registry: Pick<Registry, 'mappings'>): LinkSpace {
  const mapping = registry.mappings.get(p.mapping)!;
  const allUnits = fieldUnits(mapping.target as CanonicalEntity, []);
  const units = allUnits.filter((u) => mapping.fields.some((f) => pathsOverlap(f, u)));
  return { space: p.name, sourceSide: 'source', targetSide: 'target', allUnits, units };
}
