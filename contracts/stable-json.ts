/**
 * Order-independent JSON (object keys sorted, undefined members left out), for content hashes.
 * Pure and dependency-free: used by workflows (contracts/approval planHash) and activities
 * (activities/hash recordHash) alike.
 */
export function stableJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`).join(',')}}`;
}
