/**
 * Source values no mapping should see: a field too large to be a field (a runaway blob, a
 * 10 MB text) and text a decoder already damaged (U+FFFD, what SQLite, JSON and HTTP decoders
 * put where the source held invalid UTF-8). Such a record is quarantined with the field and the
 * reason, never mapped, never written (a write would store the damage as if it were data).
 */

/** Largest source field value the sync accepts (UTF-8 bytes of a string, or bytes of a blob). */
export const MAX_FIELD_BYTES = 1024 * 1024;

export interface Poison {
  field: string;
  rule: 'fieldTooLarge' | 'invalidUtf8';
  reason: string;
}

/** The first poisoned field of a source record (top-level and nested values), or null. */
export function poisonOf(record: Record<string, unknown>): Poison | null {
  const stack: [string, unknown][] = Object.entries(record);
  while (stack.length) {
    const [field, v] = stack.pop()!;
    if (typeof v === 'string') {
      // length is UTF-16 units: at most 3 bytes each, at least 1; measure only when it may be over
      if (v.length * 3 > MAX_FIELD_BYTES) {
        const bytes = Buffer.byteLength(v, 'utf8');
        if (bytes > MAX_FIELD_BYTES) return tooLarge(field, bytes);
      }
      const at = v.indexOf('\uFFFD');
      if (at >= 0) {
        return {
          field,
          rule: 'invalidUtf8',
          reason: `${field}: invalid UTF-8 in the source (a replacement character U+FFFD at character ${at}); fix the encoding at the source`,
        };
      }
    } else if (v instanceof Uint8Array) {
      if (v.byteLength > MAX_FIELD_BYTES) return tooLarge(field, v.byteLength);
    } else if (v !== null && typeof v === 'object') {
      for (const [k, c] of Object.entries(v as Record<string, unknown>)) stack.push([`${field}.${k}`, c]);
    }
  }
  return null;
}

function tooLarge(field: string, bytes: number): Poison {
  return { field, rule: 'fieldTooLarge', reason: `${field}: ${bytes} bytes, above the limit of ${MAX_FIELD_BYTES} bytes per field` };
}

/** The record as quarantine keeps it: an oversized value replaced by its size (the rest as is). */
export function quarantineCopy(record: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record)) {
    const size = typeof v === 'string' ? (v.length * 3 > MAX_FIELD_BYTES ? Buffer.byteLength(v, 'utf8') : 0) : v instanceof Uint8Array ? v.byteLength : 0;
    out[k] = size > MAX_FIELD_BYTES ? `<${size} bytes, not kept>` : v;
  }
  return out;
}
