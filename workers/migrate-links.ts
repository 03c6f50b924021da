import { stableHash } from '../contracts/stable-json';
import { readPath } from '../mappings/dsl/transforms';
import { linkSpaceOf } from '../pipelines/link-space';
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
const metaKey = (pipeline: string, scope: string) => `links-migrated:v2:${pipeline}->${scope}`;
/** Set by the first version of this migration, when one-way syncs still wrote bindings afterwards. */
const v1MetaKey = (pipeline: string, scope: string) => `links-migrated:${pipeline}->${scope}`;

/**
 * One-way bindings become links, once per pipeline and link space (remembered in the store's meta
 * table), without re-syncing. The space is the one the pipeline syncs in (pipelines/link-space.ts):
 * a pair's over the same systems and entities, else the pipeline's own. The source side key is
 * the binding's source key, the target side key its target key, the synced values the binding's
 * `fields` when it kept them (else only its record hash, which the one-way planner accepts for an
 * unchanged record). Bindings stay; the sync path no longer reads or writes them.
 *
 * A store migrated by the first version of this migration got links while one-way syncs went on
 * writing bindings: those are copied again, into a pipeline's own space in full (only the
 * migration wrote there), into a pair's space only where the pair has no link yet.
 */
export async function migrateBindingsToLinks(store: StateStore, registry: Registry): Promise<LinkMigration[]> {
  const done: LinkMigration[] = [];
  for (const p of registry.pipelines.values()) {
    const space = linkSpaceOf(p, registry);
    const scope = space.space;
    if ((await store.getMeta(metaKey(p.name, scope))) !== null) continue;
    const again = (await store.getMeta(v1MetaKey(p.name, scope))) !== null;
    const bindings = await store.listBindings(p.name);
    const m: LinkMigration = { pipeline: p.name, scope, links: 0, withFields: 0 };
    for (let i = 0; i < bindings.length; i += BATCH) {
      let batch = bindings.slice(i, i + BATCH);
      if (again && space.shared) {
        const linked = await store.findLinks(scope, space.sourceSide, batch.map((b) => b.sourceKey));
        batch = batch.filter((b) => !linked.has(b.sourceKey));
      }
      const items = batch.map((b) => linkOf(b, p, space.sourceSide, space.targetSide, space.allUnits));
      await store.upsertLinks(scope, items);
      m.links += items.length;
      m.withFields += items.filter((l) => Object.keys(l.fields).length > 0).length;
    }
    await store.setMeta(metaKey(p.name, scope), JSON.stringify({ links: m.links }));
    if (m.links) done.push(m);
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
