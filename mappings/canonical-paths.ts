import type { z } from 'zod';

/**
 * Field paths of the canonical zod object schemas ("name", "address.countryCode"). Pure.
 */

/** Unwrap optional / default / nullable to the schema underneath. */
function unwrap(schema: z.ZodType): z.ZodType {
  let cur = schema;
  for (;;) {
    const def = (cur as unknown as { def: { type: string; innerType?: z.ZodType } }).def;
    if ((def.type === 'optional' || def.type === 'default' || def.type === 'nullable') && def.innerType) cur = def.innerType;
    else return cur;
  }
}

function shapeOf(schema: z.ZodType): Record<string, z.ZodType> | undefined {
  return (unwrap(schema) as unknown as { shape?: Record<string, z.ZodType> }).shape;
}

/** The schema at a dotted path, or undefined when the path names no field. */
export function schemaAt(schema: z.ZodType, path: string): z.ZodType | undefined {
  let cur: z.ZodType = schema;
  for (const part of path.split('.')) {
    const shape = shapeOf(cur);
    if (!shape || !(part in shape)) return undefined;
    cur = shape[part]!;
  }
  return cur;
}

/** Does `path` name a field of the object schema? */
export function hasCanonicalPath(schema: z.ZodType, path: string): boolean {
  return schemaAt(schema, path) !== undefined;
}

/** Field names directly under `path` ("" for the top level); empty for a leaf. */
export function childFields(schema: z.ZodType, path = ''): string[] {
  const at = path === '' ? schema : schemaAt(schema, path);
  const shape = at ? shapeOf(at) : undefined;
  return shape ? Object.keys(shape) : [];
}
