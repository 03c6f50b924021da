import type { StoredObject } from './store';
import { columnFor, DEFAULT_RETURNED } from './schema';

/** The JSON shape of SimplePublicObject (dates as ISO strings with milliseconds). */
export interface PublicObject {
  id: string;
  properties: Record<string, string | null>;
  createdAt: string;
  updatedAt: string;
  archived: boolean;
  archivedAt?: string;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export function propertyValue(o: StoredObject, name: string): string | null {
  const column = columnFor(o.type, name);
  if (column === 'id') return String(o.id);
  if (column === 'created_at') return iso(o.createdAt);
  if (column === 'updated_at') return iso(o.updatedAt);
  return o.props[name] ?? null;
}

export function toPublic(o: StoredObject, requested?: string[]): PublicObject {
  const names = requested && requested.length > 0 ? requested : DEFAULT_RETURNED[o.type];
  const properties: Record<string, string | null> = {};
  for (const name of [...names, 'hs_object_id', 'createdate', 'hs_lastmodifieddate']) properties[name] = propertyValue(o, name);
  const out: PublicObject = {
    id: String(o.id),
    properties,
    createdAt: iso(o.createdAt),
    updatedAt: iso(o.updatedAt),
    archived: o.archived,
  };
  if (o.archivedAt !== null) out.archivedAt = iso(o.archivedAt);
  return out;
}

/** `properties` arrives as a query list (`a,b` or repeated) or a body array. */
export function propertyList(raw: unknown): string[] | undefined {
  if (raw === undefined || raw === null) return undefined;
  const parts = (Array.isArray(raw) ? raw : [raw]).flatMap((v) => String(v).split(','));
  const names = parts.map((p) => p.trim()).filter((p) => p !== '');
  return names.length > 0 ? names : undefined;
}
