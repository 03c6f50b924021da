import { randomUUID } from 'node:crypto';
import { HttpError, notFound, validationError } from './errors';
import type { HubSpotErrorBody } from './errors';
import { asObject } from './http-types';
import type { EmulatorRequest, EmulatorResponse } from './http-types';
import type { ObjectType } from './schema';
import type { HubSpotStore, StoredObject } from './store';
import { createObject } from './objects';
import { propertyList, toPublic } from './view';

/** POST /crm/v3/objects/{type}/batch/{read|create|update|upsert|archive}. */

export const MAX_BATCH_INPUTS = 100;

interface Input {
  id?: unknown;
  idProperty?: unknown;
  properties?: unknown;
  objectWriteTraceId?: unknown;
  associations?: unknown;
}

/** One per-input failure inside a 207 envelope (HubSpot's StandardError). */
function standardError(err: unknown, input: Input): HubSpotErrorBody & { links: Record<string, string> } {
  const body: Partial<HubSpotErrorBody> =
    err instanceof HttpError ? (err.body as HubSpotErrorBody) : { category: 'INTERNAL_ERROR', message: String(err) };
  const context: Record<string, string[]> = { ...(body.context ?? {}) };
  if (typeof input.objectWriteTraceId === 'string') context.objectWriteTraceId = [input.objectWriteTraceId];
  if (input.id !== undefined) context.ids = [String(input.id)];
  return {
    status: 'error',
    category: body.category ?? 'VALIDATION_ERROR',
    message: body.message ?? 'error',
    correlationId: body.correlationId ?? randomUUID(),
    context,
    errors: body.errors ?? [],
    links: {},
  };
}

/** A batch response: `okStatus` when every input succeeded, else 207 with the per-input errors. */
export function envelope(okStatus: number, startedAt: string, results: unknown[], errors: object[]): EmulatorResponse {
  const body: Record<string, unknown> = {
    status: 'COMPLETE',
    results,
    requestedAt: startedAt,
    startedAt,
    completedAt: new Date().toISOString(),
  };
  if (errors.length === 0) return { status: okStatus, body };
  return { status: 207, body: { ...body, numErrors: errors.length, errors } };
}

function inputsOf(req: EmulatorRequest): Input[] {
  const raw = asObject(req.body).inputs;
  if (!Array.isArray(raw)) throw validationError("Invalid input JSON: 'inputs' is required and must be an array");
  if (raw.length > MAX_BATCH_INPUTS) {
    throw validationError(`Too many inputs: ${raw.length}. Max inputs: ${MAX_BATCH_INPUTS}`, [
      { message: `Batch input size ${raw.length} exceeds the limit of ${MAX_BATCH_INPUTS}`, code: 'TOO_MANY_INPUTS', in: 'inputs' },
    ]);
  }
  return raw.map(asObject) as Input[];
}

function withTrace(o: StoredObject, input: Input, requested?: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = { ...toPublic(o, requested) };
  if (typeof input.objectWriteTraceId === 'string') out.objectWriteTraceId = input.objectWriteTraceId;
  return out;
}

function requireDistinct(inputs: Input[], key: (i: Input) => string | undefined): void {
  const seen = new Set<string>();
  const dupes = new Set<string>();
  for (const i of inputs) {
    const k = key(i);
    if (k === undefined) continue;
    if (seen.has(k)) dupes.add(k);
    seen.add(k);
  }
  if (dupes.size > 0) throw validationError(`Duplicate IDs found in batch input: [${[...dupes].join(', ')}]. IDs must be unique`);
}

export function handleBatch(store: HubSpotStore, type: ObjectType, action: string, req: EmulatorRequest): EmulatorResponse {
  const inputs = inputsOf(req);
  const startedAt = new Date().toISOString();
  const at = Date.now();
  const results: unknown[] = [];
  const errors: ReturnType<typeof standardError>[] = [];
  const body = asObject(req.body);

  switch (action) {
    case 'read': {
      const requested = propertyList(body.properties);
      const idProperty = typeof body.idProperty === 'string' ? body.idProperty : undefined;
      const archived = req.query.get('archived') === 'true';
      const missing: string[] = [];
      for (const input of inputs) {
        const o = store.find(type, String(input.id), idProperty, archived);
        if (o) results.push(toPublic(o, requested));
        else missing.push(String(input.id));
      }
      if (missing.length > 0) {
        const err = notFound(`Could not get some ${type.toUpperCase()} objects, they may be deleted or not exist. Check that ids are valid.`, { ids: missing });
        errors.push(standardError(err, {}));
      }
      return envelope(200, startedAt, results, errors);
    }
    case 'create':
      store.transaction(() => {
        for (const input of inputs) {
          try {
            results.push(withTrace(createObject(store, type, input, at), input));
          } catch (err) {
            errors.push(standardError(err, input));
          }
        }
      });
      return envelope(201, startedAt, results, errors);
    case 'update':
      requireDistinct(inputs, (i) => (i.id === undefined ? undefined : String(i.id)));
      store.transaction(() => {
        for (const input of inputs) {
          try {
            const idProperty = typeof input.idProperty === 'string' ? input.idProperty : undefined;
            const o = store.find(type, String(input.id), idProperty);
            if (!o) throw notFound(`Object not found.  objectId are usually numeric.`, { id: [String(input.id)] });
            results.push(withTrace(store.update(type, o.id, asObject(input.properties), at), input));
          } catch (err) {
            errors.push(standardError(err, input));
          }
        }
      });
      return envelope(200, startedAt, results, errors);
    case 'upsert':
      requireDistinct(inputs, (i) => (i.id === undefined ? undefined : `${String(i.idProperty)}:${String(i.id)}`));
      store.transaction(() => {
        for (const input of inputs) {
          try {
            results.push(upsertOne(store, type, input, at));
          } catch (err) {
            errors.push(standardError(err, input));
          }
        }
      });
      return envelope(200, startedAt, results, errors);
    case 'archive':
      store.transaction(() => {
        for (const input of inputs) if (/^\d+$/.test(String(input.id))) store.archive(type, Number(input.id), at);
      });
      return { status: 204 };
    default:
      throw new HttpError(404, { status: 'error', message: `Unknown batch action ${action}`, correlationId: randomUUID(), category: 'OBJECT_NOT_FOUND' });
  }
}

function upsertOne(store: HubSpotStore, type: ObjectType, input: Input, at: number): Record<string, unknown> {
  if (typeof input.idProperty !== 'string' || input.idProperty === '') {
    throw validationError('idProperty is required for upsert and must name a property with unique values');
  }
  const idValue = String(input.id ?? '');
  if (idValue === '') throw validationError('id is required for upsert');
  const existing = store.find(type, idValue, input.idProperty);
  const properties = asObject(input.properties);
  const o = existing
    ? store.update(type, existing.id, properties, at)
    : store.create(type, { ...properties, [input.idProperty]: idValue }, at);
  return { ...withTrace(o, input), new: existing === undefined };
}
