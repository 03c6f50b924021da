import { createHash } from 'node:crypto';

function stable(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  const keys = Object.keys(v as object).filter((k) => (v as Record<string, unknown>)[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${stable((v as Record<string, unknown>)[k])}`).join(',')}}`;
}

/** Content hash of a canonical record, independent of key order. */
export function recordHash(fields: unknown): string {
  return createHash('sha1').update(stable(fields)).digest('base64url');
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
