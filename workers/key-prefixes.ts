import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import type { SqlSystem } from '../connectors/sql/config';
import type { Registry } from '../pipelines/load';
import type { Pipeline } from '../pipelines/schema';
import type { StateStore } from '../state/types';

export interface KeyPrefixMigration {
  pipeline: string;
  prefix: string;
  /** Target records this pipeline created, now keyed `<prefix><source key>`. */
  rekeyed: number;
  /**
   * Target records this pipeline had overwritten although another source owns them (the key
   * collision the prefix prevents): their binding is dropped, the owner's pipeline rewrites them.
   */
  reclaimed: number;
  /** Pipelines whose checkpoint was reset so that their next run re-reads and repairs. */
  rereads: string[];
  /** Why nothing could be migrated (a target kind that cannot be rekeyed in place). */
  skipped?: string;
}

const metaKey = (pipeline: string) => `key-prefix:${pipeline}`;

/**
 * Bring targets written before a source system had its `keyPrefix` into the prefixed key space.
 * Runs at worker start, once per pipeline and prefix (remembered in the state store), and is a
 * no-op for pipelines whose source has no prefix. SQL targets are rekeyed in place: a record
 * the pipeline created gets `<prefix><key>` as external key (and in its `sourceKey` reference
 * columns); a record it had overwritten that another source owns is handed back to its owner,
 * whose pipeline re-reads its source and rewrites it.
 */
export async function migrateKeyPrefixes(registry: Registry, store: StateStore): Promise<KeyPrefixMigration[]> {
  // One worker migrates, others starting at once wait and then find the prefix recorded.
  return store.withLock('key-prefixes', () => migrateUnlocked(registry, store));
}

async function migrateUnlocked(registry: Registry, store: StateStore): Promise<KeyPrefixMigration[]> {
  const done: KeyPrefixMigration[] = [];
  for (const p of registry.pipelines.values()) {
    const prefix = registry.systems.get(p.source.system)?.keyPrefix ?? '';
    const recorded = (await store.getMeta(metaKey(p.name))) ?? '';
    if (prefix === recorded) continue;
    const bindings = await store.listBindings(p.name);
    if (bindings.length > 0) done.push(await migrate(p, prefix, recorded, bindings, registry, store));
    await store.setMeta(metaKey(p.name), prefix);
  }
  return done;
}

async function migrate(
  p: Pipeline,
  prefix: string,
  previous: string,
  bindings: { sourceKey: string; targetKey: string }[],
  registry: Registry,
  store: StateStore,
): Promise<KeyPrefixMigration> {
  const out: KeyPrefixMigration = { pipeline: p.name, prefix, rekeyed: 0, reclaimed: 0, rereads: [] };
  const system = registry.systems.get(p.target.system)!;
  const config = system.config as SqlSystem;
  const entity = system.kind === 'sql' ? config.entities[p.target.entity] : undefined;
  if (!entity?.externalKeyColumn || config.dialect !== 'sqlite' || !config.path || !existsSync(config.path)) {
    out.skipped = `${p.target.system}.${p.target.entity} cannot be rekeyed in place; records written before keyPrefix "${prefix}" keep their old keys`;
    return out;
  }
  // Target records that pipelines of other sources bound: this pipeline must not keep them.
  const ownedBy = new Map<string, string>();
  for (const q of registry.pipelines.values()) {
    if (q.name === p.name || q.source.system === p.source.system) continue;
    if (q.target.system !== p.target.system || q.target.entity !== p.target.entity) continue;
    for (const b of await store.listBindings(q.name)) ownedBy.set(b.targetKey, q.name);
  }
  const mapping = registry.mappings.get(p.mapping)!;
  const refColumns = mapping.sourceKeyFields.filter((f) => f !== 'externalKey').flatMap((f) => (entity.fields?.[f] ? [entity.fields[f]] : []));
  const q = (id: string) => `"${id}"`;
  const db = new Database(config.path);
  const reclaim = new Map<string, string[]>();
  const dropped: string[] = [];
  try {
    db.pragma('busy_timeout = 10000');
    const rekey = db.prepare(
      `UPDATE ${q(entity.table)} SET ${q(entity.externalKeyColumn)} = ? WHERE ${q(entity.keyColumn)} = ? AND ${q(entity.externalKeyColumn)} = ?` +
        ` AND NOT EXISTS (SELECT 1 FROM ${q(entity.table)} WHERE ${q(entity.externalKeyColumn)} = ?)`,
    );
    const refs = refColumns.map((c) =>
      db.prepare(`UPDATE ${q(entity.table)} SET ${q(c)} = ? || substr(${q(c)}, ?) WHERE ${q(entity.keyColumn)} = ? AND ${q(c)} IS NOT NULL AND substr(${q(c)}, 1, ?) <> ?`),
    );
    db.transaction(() => {
      for (const b of bindings) {
        const owner = ownedBy.get(b.targetKey);
        if (owner) {
          dropped.push(b.sourceKey);
          reclaim.set(owner, [...(reclaim.get(owner) ?? []), b.targetKey]);
          continue;
        }
        const target = entity.keyType === 'integer' ? Number(b.targetKey) : b.targetKey;
        out.rekeyed += rekey.run(prefix + b.sourceKey, target, previous + b.sourceKey, prefix + b.sourceKey).changes;
        for (const r of refs) r.run(prefix, previous.length + 1, target, prefix.length, prefix);
      }
    })();
  } finally {
    db.close();
  }
  out.reclaimed = dropped.length;
  await store.deleteBindings(p.name, dropped);
  for (const [owner, targets] of reclaim) {
    await store.invalidateBindings(owner, targets);
    await store.setCheckpoint(owner, null, 'key-prefix-migration');
    out.rereads.push(owner);
  }
  // This pipeline's references changed and some of its records lost their binding: re-read all.
  await store.setCheckpoint(p.name, null, 'key-prefix-migration');
  out.rereads.push(p.name);
  return out;
}
