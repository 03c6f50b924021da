import { createHash } from 'node:crypto';
import { stableJson } from '../contracts/stable-json';

/** Content hash of a canonical record, independent of key order. */
export function recordHash(fields: unknown): string {
  return createHash('sha1').update(stableJson(fields)).digest('base64url');
}

/**
 * Identity of a plan: each record's key, operation, target and content hash (which already
 * covers every field), so equal fingerprints mean exactly the same writes.
 */
export function planFingerprint(ops: { sourceKey: string; op: string; targetKey?: string; hash: string }[]): string {
  const h = createHash('sha1');
  for (const o of ops) h.update(`${o.sourceKey}\t${o.op}\t${o.targetKey ?? ''}\t${o.hash}\n`);
  return h.digest('base64url');
}
