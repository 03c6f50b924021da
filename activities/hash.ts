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

/**
 * What a page's plan saw of its records' links: per key, whether a link existed and the hash of
 * the record it last recorded. A write that finds another digest knows a link changed since.
 */
export function linksDigest(keys: string[], hashOf: (key: string) => string | null): string {
  const h = createHash('sha1');
  for (const k of keys) h.update(`${k}\t${hashOf(k) ?? '\u0000'}\n`);
  return h.digest('base64url');
}
