/**
 * Dotted paths into plain records ("name", "address.countryCode"). Pure and dependency-free, so
 * workflow code (reconcilePair through mappings/two-way/drift) can use it without pulling the
 * mapping transforms' phone and country libraries into the workflow bundle.
 */

/** The value at a dotted path, or undefined when any step is missing or not an object. */
export function readPath(record: Record<string, unknown>, path: string): unknown {
  if (!path.includes('.')) return record[path];
  let cur: unknown = record;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/**
 * Set the value at a dotted path, copying every object on the way (records shared with a caller
 * are never changed in place) and creating the missing ones. With `omitEmpty`, a null or undefined
 * value removes the member instead.
 */
export function setPath(target: Record<string, unknown>, path: string, value: unknown, options: { omitEmpty?: boolean } = {}): void {
  const parts = path.split('.');
  let cur = target;
  for (const part of parts.slice(0, -1)) {
    const next = cur[part];
    cur[part] = next !== null && typeof next === 'object' ? { ...(next as Record<string, unknown>) } : {};
    cur = cur[part] as Record<string, unknown>;
  }
  const last = parts[parts.length - 1]!;
  if (options.omitEmpty && (value === null || value === undefined)) delete cur[last];
  else cur[last] = value;
}
