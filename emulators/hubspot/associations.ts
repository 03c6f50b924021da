import { randomUUID } from 'node:crypto';
import { notFound, validationError } from './errors';
import { envelope } from './batch';
import { asObject, methodNotAllowed } from './http-types';
import type { EmulatorRequest, EmulatorResponse } from './http-types';
import { defaultAssociationTypeId, resolveObjectType } from './schema';
import type { ObjectType } from './schema';
import type { HubSpotStore } from './store';

/** Associations v4: default and labelled links, paged reads, removal. */

const spec = (associationTypeId: number) => ({ associationCategory: 'HUBSPOT_DEFINED', associationTypeId });

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

/** The default association type ids of from → to and back. */
function defaultTypes(from: ObjectType, to: ObjectType): { forward: number; backward: number } {
  const forward = defaultAssociationTypeId(from, to);
  const backward = defaultAssociationTypeId(to, from);
  if (forward === undefined || backward === undefined) throw validationError(`No default association between ${from} and ${to}`);
  return { forward, backward };
}

/** segments after `crm/v4/objects`: [from, fromId, 'associations', ...rest]. */
export function handleAssociations(store: HubSpotStore, s: string[], req: EmulatorRequest): EmulatorResponse {
  const from = typeOf(s[0]);
  const fromId = idOf(store, from, s[1]);
  const startedAt = new Date().toISOString();
  if (s[3] === 'default' && req.method === 'PUT') {
    const to = typeOf(s[4]);
    const toId = idOf(store, to, s[5]);
    const { forward, backward } = defaultTypes(from, to);
    store.associate(from, fromId, to, toId, forward, backward);
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
    const back = defaultAssociationTypeId(to, from);
    for (const input of specs) store.associate(from, fromId, to, toId, Number(input.associationTypeId), back);
    return {
      status: 201,
      body: { fromObjectTypeId: from, fromObjectId: fromId, toObjectTypeId: to, toObjectId: toId, labels: [] },
    };
  }
  if (req.method === 'DELETE') {
    store.dissociate(from, fromId, to, toId);
    return { status: 204 };
  }
  return methodNotAllowed(req.method);
}

/** Largest `inputs` array the v4 association batch endpoints take. */
export const MAX_ASSOCIATION_INPUTS = 2000;

/**
 * POST /crm/v4/associations/{from}/{to}/batch/associate/default: default associations for many
 * pairs. Valid pairs are linked (both directions, keeping `associatedcompanyid` in step like the
 * single PUT); a pair naming a missing record is a per-input error in a 207 envelope.
 */
export function handleBatchAssociateDefault(store: HubSpotStore, fromRaw: string | undefined, toRaw: string | undefined, req: EmulatorRequest): EmulatorResponse {
  const from = typeOf(fromRaw);
  const to = typeOf(toRaw);
  const { forward, backward } = defaultTypes(from, to);
  const raw = asObject(req.body).inputs;
  if (!Array.isArray(raw)) throw validationError("Invalid input JSON: 'inputs' is required and must be an array");
  if (raw.length > MAX_ASSOCIATION_INPUTS) throw validationError(`Too many inputs: ${raw.length}. Max inputs: ${MAX_ASSOCIATION_INPUTS}`);
  const startedAt = new Date().toISOString();
  const results: unknown[] = [];
  const errors: object[] = [];
  const exists = (type: ObjectType, id: string): boolean => /^\d+$/.test(id) && store.get(type, Number(id)) !== undefined;
  store.transaction(() => {
    for (const input of raw.map(asObject)) {
      const fromId = String(asObject(input.from).id ?? '');
      const toId = String(asObject(input.to).id ?? '');
      const missing = [...(exists(from, fromId) ? [] : [`${from} ${fromId}`]), ...(exists(to, toId) ? [] : [`${to} ${toId}`])];
      if (missing.length > 0) {
        errors.push({
          status: 'error',
          category: 'VALIDATION_ERROR',
          subCategory: 'crm.associations.INVALID_OBJECT_IDS',
          message: `Could not find objects: ${missing.join(', ')}`,
          context: { fromObjectId: [fromId], toObjectId: [toId] },
          errors: [],
          links: {},
          correlationId: randomUUID(),
        });
        continue;
      }
      store.associate(from, Number(fromId), to, Number(toId), forward, backward);
      results.push(
        { from: { id: fromId }, to: { id: toId }, associationSpec: spec(forward) },
        { from: { id: toId }, to: { id: fromId }, associationSpec: spec(backward) },
      );
    }
  });
  return envelope(200, startedAt, results, errors);
}
