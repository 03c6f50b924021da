import { notFound, validationError } from './errors';
import { asObject } from './http-types';
import type { EmulatorRequest, EmulatorResponse } from './http-types';
import { defaultAssociationTypeId, resolveObjectType } from './schema';
import type { ObjectType } from './schema';
import type { HubSpotStore } from './store';

/** Associations v4: default and labelled links, paged reads, removal. */

function typeOf(raw: string | undefined): ObjectType {
  const t = raw === undefined ? undefined : resolveObjectType(raw);
  if (!t) throw validationError(`Unknown object type ${String(raw)}`);
  return t;
}

function idOf(store: HubSpotStore, type: ObjectType, raw: string | undefined): number {
  const id = Number(raw);
  if (!Number.isInteger(id) || !store.get(type, id)) throw notFound(`No ${type} with id ${String(raw)}`, { id: [String(raw)] });
  return id;
}

/** segments after `crm/v4/objects`: [from, fromId, 'associations', ...rest]. */
export function handleAssociations(store: HubSpotStore, s: string[], req: EmulatorRequest): EmulatorResponse {
  const from = typeOf(s[0]);
  const fromId = idOf(store, from, s[1]);
  const startedAt = new Date().toISOString();
  if (s[3] === 'default' && req.method === 'PUT') {
    const to = typeOf(s[4]);
    const toId = idOf(store, to, s[5]);
    const forward = defaultAssociationTypeId(from, to);
    const backward = defaultAssociationTypeId(to, from);
    if (forward === undefined || backward === undefined) throw validationError(`No default association between ${from} and ${to}`);
    store.associate(from, fromId, to, toId, forward, backward);
    const spec = (id: number) => ({ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: id });
    return {
      status: 200,
      body: {
        status: 'COMPLETE',
        results: [
          { from: { id: String(fromId) }, to: { id: String(toId) }, associationSpec: spec(forward) },
          { from: { id: String(toId) }, to: { id: String(fromId) }, associationSpec: spec(backward) },
        ],
        startedAt,
        completedAt: new Date().toISOString(),
      },
    };
  }
  const to = typeOf(s[3]);
  if (s[4] === undefined && req.method === 'GET') {
    const limit = Math.min(Number(req.query.get('limit') ?? '500') || 500, 500);
    const after = Number(req.query.get('after') ?? '0') || 0;
    const rows = store.associations(from, fromId, to, after, limit + 1);
    const page = rows.slice(0, limit);
    const body: Record<string, unknown> = {
      results: page.map((r) => ({
        toObjectId: r.toId,
        associationTypes: r.typeIds.map((typeId) => ({ category: 'HUBSPOT_DEFINED', typeId, label: null })),
      })),
    };
    const last = page[page.length - 1];
    if (rows.length > limit && last) body.paging = { next: { after: String(last.toId) } };
    return { status: 200, body };
  }
  const toId = idOf(store, to, s[4]);
  if (req.method === 'PUT') {
    const specs = Array.isArray(req.body) ? req.body.map(asObject) : [];
    if (specs.length === 0) throw validationError('Association specs are required');
    for (const spec of specs) {
      const typeId = Number(spec.associationTypeId);
      const back = defaultAssociationTypeId(to, from);
      store.associate(from, fromId, to, toId, typeId, back);
    }
    return {
      status: 201,
      body: { fromObjectTypeId: from, fromObjectId: fromId, toObjectTypeId: to, toObjectId: toId, labels: [] },
    };
  }
  if (req.method === 'DELETE') {
    store.dissociate(from, fromId, to, toId);
    return { status: 204 };
  }
  return { status: 405, body: { status: 'error', message: `Method ${req.method} not allowed`, category: 'VALIDATION_ERROR' } };
}
