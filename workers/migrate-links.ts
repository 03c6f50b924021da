import { sideNamesOf, type Pair } from '../contracts/pair';
import { stableHash } from '../contracts/stable-json';
import { readPath } from '../mappings/record-path';
import { compilePairPolicy } from '../mappings/two-way/policy';
import { linkSpaceOf } from '../pipelines/link-space';
import type { Registry } from '../pipelines/load';
import type { Pipeline } from '../pipelines/schema';
import type { Binding, LinkField, LinkUpsert, StateStore } from '../state/types';

export interface LinkMigration {
  pipeline: string;
  /** The link space: the pipeline's own name, or a pair that covers it. */
  scope: string;
  links: number;
  /** Of which carry per-field values (the others only the binding's record hash). */
  withFields: number;
}

const BATCH = 1000;
const metaKey = (pipeline: string, scope: string) => `links-migrated:${pipeline}->${scope}`;
/** The pipeline's own space is filled again once by this version (see below). */
const ownMetaKey = (pipeline: string) => `links-migrated:v2:${pipeline}->${pipeline}`;

interface Scope {
  scope: string;
  source: string;
  target: string;
  units: string[];
  meta: string;
}

/**
 * Where a pipeline's bindings go: its own link space, where its one-way syncs plan
 * (pipelines/link-space.ts), and each pair whose two sides are its source and target, so that
 * pair starts from what the pipeline wrote.
 */
function scopesOf(p: Pipeline, registry: Registry): Scope[] {
  const is = (s: { system: string; entity: string }, e: { system: string; entity: string }) => s.system === e.system && s.entity === e.entity;
  const own = linkSpaceOf(p, registry);
  const pairs = [...registry.pairs.values()].flatMap((pair: Pair): Scope[] => {
    const [a, b] = sideNamesOf(pair);
    const sa = pair.sides[a]!;
    const sb = pair.sides[b]!;
    const units = compilePairPolicy(pair).units.map((u) => u.path);
    if (is(sa, p.source) && is(sb, p.target)) return [{ scope: pair.name, source: a, target: b, units, meta: metaKey(p.name, pair.name) }];
    if (is(sb, p.source) && is(sa, p.target)) return [{ scope: pair.name, source: b, target: a, units, meta: metaKey(p.name, pair.name) }];
    return [];
  });
  return [{ scope: own.space, source: own.sourceSide, target: own.targetSide, units: own.allUnits, meta: ownMetaKey(p.name) }, ...pairs];
}

/**
 * One-way bindings become links, once per pipeline and scope (remembered in the store's meta
 * table), without re-syncing: the source side key is the binding's source key, the target side
 * key its target key, the synced values the binding's `fields` when it kept them (else only its
 * record hash, which the one-way planner accepts for an unchanged record). Bindings stay; the
 * sync path no longer reads or writes them.
 *
 * Safe when several workers start at once on the same state: the whole check-and-migrate runs
 * under the store's `bindings-to-links` lock (SQLite BEGIN IMMEDIATE, PostgreSQL advisory lock).
 *
 * The pipeline's own space is filled once more by this version, even where the first version of
 * this migration had filled it: until now one-way syncs went on writing bindings after it, and
 * only this migration writes there, so the bindings are the newest state.
 */
export async function migrateBindingsToLinks(store: StateStore, registry: Registry): Promise<LinkMigration[]> {
  // Several workers may start at once on one state: one migrates, the others wait for the lock
  // and then find every scope marked done in meta.
  return store.withLock('bindings-to-links', () => migrateUnlocked(store, registry));
}

async function migrateUnlocked(store: StateStore, registry: Registry): Promise<LinkMigration[]> {
  const done: LinkMigration[] = [];
  for (const p of registry.pipelines.values()) {
    for (const { scope, source, target, units, meta } of scopesOf(p, registry)) {
      if ((await store.getMeta(meta)) !== null) continue;
      const bindings = await store.listBindings(p.name);
      const m: LinkMigration = { pipeline: p.name, scope, links: 0, withFields: 0 };
      for (let i = 0; i < bindings.length; i += BATCH) {
        const items = bindings.slice(i, i + BATCH).map((b) => linkOf(b, p, source, target, units));
        await store.upsertLinks(scope, items);
        m.links += items.length;
        m.withFields += items.filter((l) => Object.keys(l.fields).length > 0).length;
      }
      await store.setMeta(meta, JSON.stringify({ links: m.links }));
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
