import { notFound, validationError } from './errors';
import { asObject, methodNotAllowed } from './http-types';
import type { EmulatorRequest, EmulatorResponse } from './http-types';
import type { ObjectType, PropertyDefinition, PropertyType } from './schema';
import type { HubSpotStore } from './store';

/** GET/POST /crm/v3/properties/{type}: the registry that decides which properties exist. */

const TYPES: readonly PropertyType[] = ['string', 'number', 'datetime', 'enumeration', 'bool'];

function toPublic(def: PropertyDefinition): Record<string, unknown> {
  return {
    name: def.name,
    label: def.name,
    type: def.type,
    fieldType: def.type === 'enumeration' ? 'select' : def.type === 'bool' ? 'booleancheckbox' : def.type === 'number' ? 'number' : 'text',
    groupName: 'erp',
    description: '',
    hasUniqueValue: def.hasUniqueValue,
    options: (def.options ?? []).map((o, i) => ({ label: o, value: o, displayOrder: i, hidden: false })),
    modificationMetadata: { readOnlyValue: def.readOnly === true, readOnlyDefinition: def.readOnly === true, archivable: true },
  };
}

export function handleProperties(store: HubSpotStore, type: ObjectType, req: EmulatorRequest, name?: string): EmulatorResponse {
  if (name !== undefined) {
    const current = store.property(type, name);
    if (!current) throw notFound(`Property ${name} does not exist`);
    if (req.method === 'GET') return { status: 200, body: toPublic(current) };
    if (req.method === 'PATCH') {
      const b = asObject(req.body);
      const options = Array.isArray(b.options) ? b.options.map((o) => String(asObject(o).value)) : undefined;
      return { status: 200, body: toPublic(store.updateProperty(type, name, options ? { options } : {})) };
    }
    return methodNotAllowed(req.method);
  }
  if (req.method === 'GET') return { status: 200, body: { results: store.properties(type).map(toPublic) } };
  if (req.method === 'POST') {
    const b = asObject(req.body);
    const name = typeof b.name === 'string' ? b.name : '';
    const ptype = b.type as PropertyType;
    if (!/^[a-z][a-z0-9_]*$/.test(name)) throw validationError(`Invalid property name '${name}'`);
    if (!TYPES.includes(ptype)) throw validationError(`Invalid property type '${String(b.type)}'`);
    const options = Array.isArray(b.options) ? b.options.map((o) => String(asObject(o).value)) : undefined;
    const def: PropertyDefinition = { name, type: ptype, hasUniqueValue: b.hasUniqueValue === true, ...(options ? { options } : {}) };
    return { status: 201, body: toPublic(store.defineProperty(type, def)) };
  }
  return methodNotAllowed(req.method);
}
