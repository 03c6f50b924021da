import { sideNamesOf, type Pair } from '../contracts/pair';
import { stableHash } from '../contracts/stable-json';
import type { CanonicalEntity } from '../mappings/canonical';
import { readPath } from '../mappings/dsl/transforms';
import { compilePairPolicy, fieldUnits } from '../mappings/two-way/policy';
import type { Registry } from '../pipelines/load';
import type { Pipeline } from '../pipelines/schema';
import type { Binding, LinkField, LinkUpsert, StateStore } from '../state/types';

export interface LinkMigration {
  pipeline: string;
  /** The pair the links belong to, or the pipeline's own name when no pair covers it. */
  scope: string;
  links: number;
  /** Of which carry per-field values (the others only the binding's record hash). */
  withFields: number;
}

const BATCH = 1000;
const metaKey = (pipeline: string, scope: string) => `links-migrated:${pipeline}->${scope}`;

/** Where a pipeline's bindings go: each pair whose two sides are its source and target, else its own scope. */
function scopesOf(p: Pipeline, registry: Registry): { scope: string; source: string; target: string; units: string[] }[] {
  const is = (s: { system: string; entity: string }, e: { system: string; entity: string }) => s.system === e.system && s.entity === e.entity;
  const out = [...registry.pairs.values()].flatMap((pair: Pair) => {
    const [a, b] = sideNamesOf(pair);
    const sa = pair.sides[a]!;
    const sb = pair.sides[b]!;
    const units = compilePairPolicy(pair).units.map((u) => u.path);
    if (is(sa, p.source) && is(sb, p.target)) return [{ scope: pair.name, source: a, target: b, units }];
    if (is(sb, p.source) && is(sa, p.target)) return [{ scope: pair.name, source: b, target: a, units }];
    return [];
  });
  if (out.length) return out;
  const canonical = registry.mappings.get(p.mapping)!.target as CanonicalEntity;
  return [{ scope: p.name, source: 'source', target: 'target', units: fieldUnits(canonical, []) }];
}

/**
 * One-way bindings become links, once per pipeline and scope (remembered in the store's meta
 * table), without re-syncing: the source side key is the binding's source key, the target side
 * key its target key, the synced values the binding's `fields` when it kept them (else only its
 * record hash, so the first two-way run compares both sides with no baseline). Bindings stay.
 */
export async function migrateBindingsToLinks(store: StateStore, registry: Registry): Promise<LinkMigration[]> {
  const done: LinkMigration[] = [];
  for (const p of registry.pipelines.values()) {
    for (const { scope, source, target, units } of scopesOf(p, registry)) {
      if ((await store.getMeta(metaKey(p.name, scope))) !== null) continue;
      const bindings = await store.listBindings(p.name);
      const m: LinkMigration = { pipeline: p.name, scope, links: 0, withFields: 0 };
      for (let i = 0; i < bindings.length; i += BATCH) {
        const items = bindings.slice(i, i + BATCH).map((b) => linkOf(b, p, source, target, units));
        await store.upsertLinks(scope, items);
        m.links += items.length;
        m.withFields += items.filter((l) => Object.keys(l.fields).length > 0).length;
      }
      await store.setMeta(metaKey(p.name, scope), JSON.stringify({ links: m.links }));
      if (m.links) done.push(m);
    }
  }
  return done;
}

function linkOf(b: Binding & { sourceKey: string }, p: Pipeline, source: string, target: string, units: string[]): LinkUpsert {
  // An invalidated binding (empty hash) no longer vouches for what the target holds.
  const values = b.hash !== '' ? b.fields : undefined;
  const fields: Record<string, LinkField> = {};
  if (values) {
    for (const path of units) {
      const v = readPath(values, path);
      fields[path] = { hash: stableHash(v ?? null), value: v ?? null, origin: source };
    }
  }
  return {
    keys: [
      { side: source, system: p.source.system, entity: p.source.entity, key: b.sourceKey },
      { side: target, system: p.target.system, entity: p.target.entity, key: b.targetKey },
    ],
    fields,
    ...(values || b.hash === '' ? {} : { recordHash: b.hash }),
  };
}
