import { notFound, validationError } from './errors';
import { asObject, methodNotAllowed } from './http-types';
import type { EmulatorRequest, EmulatorResponse } from './http-types';
import { associationTarget, defaultAssociationTypeId } from './schema';
import type { ObjectType } from './schema';
import type { HubSpotStore, StoredObject } from './store';
import { propertyList, toPublic } from './view';

/** Basic object endpoints: list, get, create, update, archive. */

const LIST_MAX = 100;

/** Creates one object with its inline associations (`associations: [{to:{id}, types:[…]}]`). */
export function createObject(store: HubSpotStore, type: ObjectType, input: { properties?: unknown; associations?: unknown }, at = Date.now()): StoredObject {
  const links = Array.isArray(input.associations) ? input.associations.map(asObject) : [];
  const resolved = links.flatMap((link) => {
    const toId = Number(asObject(link.to).id);
    const types = Array.isArray(link.types) ? link.types.map(asObject) : [];
    return types.map((t) => {
      const typeId = Number(t.associationTypeId);
      const toType = associationTarget(type, typeId);
      if (!toType) throw validationError(`Association type id ${typeId} is not valid from ${type}`);
      if (!store.get(toType, toId)) throw notFound(`No ${toType} with id ${toId} to associate`, { id: [String(toId)] });
      return { toType, toId, typeId };
    });
  });
  const o = store.create(type, asObject(input.properties), at);
  for (const r of resolved) store.associate(type, o.id, r.toType, r.toId, r.typeId, defaultAssociationTypeId(r.toType, type), at);
  return o;
}

export function handleObjects(store: HubSpotStore, type: ObjectType, id: string | undefined, req: EmulatorRequest): EmulatorResponse {
  const q = req.query;
  const requested = propertyList(q.getAll('properties'));
  const archived = q.get('archived') === 'true';
  if (id === undefined) {
    if (req.method === 'GET') {
      const limit = Math.min(Math.max(Number(q.get('limit') ?? '10') || 10, 1), LIST_MAX);
      const after = q.get('after');
      const afterId = after && /^\d+$/.test(after) ? Number(after) : 0;
      const rows = store.list(type, afterId, limit + 1, archived);
      const page = rows.slice(0, limit);
      const body: Record<string, unknown> = { results: page.map((o) => toPublic(o, requested)) };
      const last = page[page.length - 1];
      if (rows.length > limit && last) body.paging = { next: { after: String(last.id), link: `?after=${last.id}` } };
      return { status: 200, body };
    }
    if (req.method === 'POST') return { status: 201, body: toPublic(createObject(store, type, asObject(req.body))) };
  } else {
    const idProperty = q.get('idProperty') ?? undefined;
    const o = store.find(type, id, idProperty, req.method === 'GET' && archived);
    if (!o) {
      if (req.method === 'DELETE') return { status: 204 };
      throw notFound('Object not found.  objectId are usually numeric.', { id: [id] });
    }
    if (req.method === 'GET') return { status: 200, body: toPublic(o, requested) };
    if (req.method === 'PATCH') {
      return { status: 200, body: toPublic(store.update(type, o.id, asObject(asObject(req.body).properties)), requested) };
    }
    if (req.method === 'DELETE') {
      store.archive(type, o.id);
      return { status: 204 };
    }
  }
  return methodNotAllowed(req.method);
}
