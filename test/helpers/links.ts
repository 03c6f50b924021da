import type { Registry } from '../../pipelines/load';
import { linkSpaceOf } from '../../pipelines/link-space';
import type { StateStore } from '../../state/types';

/**
 * The target records a one-way pipeline wrote for these source keys, as its links record them
 * (source key → target key). Only linked keys are in the map.
 */
export async function linkedTargets(store: StateStore, registry: Pick<Registry, 'pipelines' | 'pairs' | 'mappings'>, pipeline: string, sourceKeys: string[]): Promise<Map<string, { targetKey: string }>> {
  const p = registry.pipelines.get(pipeline);
  if (!p) throw new Error(`unknown pipeline ${pipeline}`);
  const space = linkSpaceOf(p, registry);
  const links = await store.findLinks(space.space, space.sourceSide, sourceKeys);
  const out = new Map<string, { targetKey: string }>();
  for (const [k, l] of links) {
    const t = l.keys[space.targetSide];
    if (t !== undefined) out.set(k, { targetKey: t });
  }
  return out;
}
