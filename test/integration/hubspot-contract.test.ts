import { Client } from '@hubspot/api-client';
import {
  BatchResponseSimplePublicObject,
  BatchResponseSimplePublicUpsertObject,
  BatchResponseSimplePublicUpsertObjectWithErrors,
  CollectionResponseSimplePublicObjectWithAssociationsForwardPaging,
  CollectionResponseWithTotalSimplePublicObjectForwardPaging,
  FilterOperatorEnum,
  SimplePublicObject,
  SimplePublicObjectWithAssociations,
} from '@hubspot/api-client/lib/codegen/crm/objects';
import type { Filter } from '@hubspot/api-client/lib/codegen/crm/objects';
import { startHubSpotEmulator } from '../../emulators/hubspot';
import type { HubSpotEmulator } from '../../emulators/hubspot';

/**
 * Contract tests: every endpoint the HubSpot connector uses, called through the official
 * client against the emulator, so requests are built and responses parsed by the vendor's code.
 */

const TOKEN = 'pat-na1-contract-test';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface ApiError {
  code: number;
  body: Record<string, unknown>;
  headers: Record<string, string>;
}

async function failure(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (err) {
    return err as ApiError;
  }
  throw new Error('expected the call to fail');
}

const asc = (propertyName: string): string[] => [{ propertyName, direction: 'ASCENDING' }] as unknown as string[];

let emu: HubSpotEmulator;
let client: Client;

beforeAll(async () => {
  emu = await startHubSpotEmulator({ token: TOKEN });
  client = new Client({ accessToken: TOKEN, basePath: emu.baseUrl, numberOfApiCallRetries: 0 });
});
afterAll(async () => {
  await emu.stop();
});

describe('basic object endpoints', () => {
  it('creates, reads by id and by unique property, updates, lists with after, archives', async () => {
    const api = client.crm.objects.basicApi;
    const created = await api.create('companies', { properties: { name: 'Acme', erp_customer_id: 'C-1' }, associations: [] });
    expect(created).toBeInstanceOf(SimplePublicObject);
    expect(created.createdAt).toBeInstanceOf(Date);
    expect(created.properties.hs_lastmodifieddate).toMatch(/\.\d{3}Z$/);

    const byId = await api.getById('companies', created.id, ['name', 'erp_customer_id']);
    expect(byId).toBeInstanceOf(SimplePublicObjectWithAssociations);
    expect(byId.properties).toMatchObject({ name: 'Acme', erp_customer_id: 'C-1' });
    const byKey = await api.getById('companies', 'C-1', ['name'], undefined, undefined, false, 'erp_customer_id');
    expect(byKey.id).toBe(created.id);

    const updated = await api.update('companies', created.id, { properties: { name: 'Acme AG' } });
    expect(updated.properties.name).toBe('Acme AG');
    expect(updated.updatedAt.getTime()).toBeGreaterThanOrEqual(created.updatedAt.getTime());

    await api.create('companies', { properties: { name: 'Beta' }, associations: [] });
    await api.create('companies', { properties: { name: 'Gamma' }, associations: [] });
    const page1 = await api.getPage('companies', 2);
    expect(page1).toBeInstanceOf(CollectionResponseSimplePublicObjectWithAssociationsForwardPaging);
    expect(page1.results).toHaveLength(2);
    const page2 = await api.getPage('companies', 2, page1.paging?.next?.after);
    expect(page2.results.map((o) => o.properties.name)).toEqual(['Gamma']);
    expect(page2.paging).toBeUndefined();

    await api.archive('companies', created.id);
    const missing = await failure(api.getById('companies', created.id));
    expect(missing.code).toBe(404);
    expect(missing.body).toMatchObject({ status: 'error', category: 'OBJECT_NOT_FOUND' });
    const archived = await api.getPage('companies', 10, undefined, undefined, undefined, undefined, true);
    expect(archived.results.map((o) => o.id)).toEqual([created.id]);
    expect(archived.results[0]?.archived).toBe(true);
  });

  it('answers an unknown property with HubSpot validation error body', async () => {
    const err = await failure(client.crm.objects.basicApi.create('companies', { properties: { name: 'X', nope: '1' }, associations: [] }));
    expect(err.code).toBe(400);
    expect(err.body).toMatchObject({ status: 'error', category: 'VALIDATION_ERROR' });
    expect(err.body.correlationId).toMatch(UUID);
    expect(err.body.message).toMatch(/^Property values were not valid: \[.*PROPERTY_DOESNT_EXIST/);
    expect((err.body.errors as { code: string }[])[0]?.code).toBe('PROPERTY_DOESNT_EXIST');
  });

  it('answers a missing token with 401 and HubSpot body', async () => {
    const anonymous = new Client({ basePath: emu.baseUrl, numberOfApiCallRetries: 0 });
    const err = await failure(anonymous.crm.objects.basicApi.getPage('companies'));
    expect(err.code).toBe(401);
    expect(err.body).toMatchObject({ status: 'error', category: 'INVALID_AUTHENTICATION' });
    expect(err.body.correlationId).toMatch(UUID);
  });
});

describe('batch endpoints', () => {
  const batch = (): Client['crm']['objects']['batchApi'] => client.crm.objects.batchApi;

  it('creates, reads, updates and archives in batches', async () => {
    const created = await batch().create('products', {
      inputs: [1, 2, 3].map((i) => ({ properties: { name: `P${i}`, erp_product_id: `P-${i}`, price: '9.50' }, associations: [] })),
    });
    expect(created).toBeInstanceOf(BatchResponseSimplePublicObject);
    expect(created.status).toBe('COMPLETE');
    expect(created.results).toHaveLength(3);
    const ids = created.results.map((r) => r.id);

    const read = await batch().read('products', { inputs: ids.map((id) => ({ id })), properties: ['name', 'price'], propertiesWithHistory: [] });
    expect(read.results.map((r) => r.properties.name).sort()).toEqual(['P1', 'P2', 'P3']);
    const byKey = await batch().read('products', { inputs: [{ id: 'P-2' }, { id: 'P-404' }], idProperty: 'erp_product_id', properties: ['erp_product_id'], propertiesWithHistory: [] });
    expect(byKey.results.map((r) => r.properties.erp_product_id)).toEqual(['P-2']);
    expect('errors' in byKey && byKey.errors?.[0]?.category).toBe('OBJECT_NOT_FOUND');

    const updated = await batch().update('products', { inputs: ids.map((id) => ({ id, properties: { price: '10' } })) });
    expect(updated.results.every((r) => r.properties.price === '10')).toBe(true);

    await batch().archive('products', { inputs: ids.map((id) => ({ id })) });
    const after = await batch().read('products', { inputs: ids.map((id) => ({ id })), properties: [], propertiesWithHistory: [] }, true);
    expect(after.results).toHaveLength(3);
  });

  it('upserts by a unique property with the new flag', async () => {
    const input = (key: string, name: string) => ({ id: key, idProperty: 'erp_customer_id', objectWriteTraceId: key, properties: { name } });
    const first = await batch().upsert('companies', { inputs: [input('U-1', 'One'), input('U-2', 'Two')] });
    expect(first).toBeInstanceOf(BatchResponseSimplePublicUpsertObject);
    expect(first.results.map((r) => r._new)).toEqual([true, true]);
    const second = await batch().upsert('companies', { inputs: [input('U-1', 'One!'), input('U-3', 'Three')] });
    expect(second.results.map((r) => [r.objectWriteTraceId, r._new, r.properties.name])).toEqual([
      ['U-1', false, 'One!'],
      ['U-3', true, 'Three'],
    ]);
    expect(second.results[0]?.id).toBe(first.results[0]?.id);
  });

  it('reports per-input failures with 207', async () => {
    const res = await batch().upsert('companies', {
      inputs: [
        { id: 'V-1', idProperty: 'erp_customer_id', objectWriteTraceId: 'V-1', properties: { name: 'ok' } },
        { id: 'V-2', idProperty: 'erp_customer_id', objectWriteTraceId: 'V-2', properties: { name: 'bad', erp_segment: 'huge' } },
      ],
    });
    expect(res).toBeInstanceOf(BatchResponseSimplePublicUpsertObjectWithErrors);
    const withErrors = res as BatchResponseSimplePublicUpsertObjectWithErrors;
    expect(withErrors.numErrors).toBe(1);
    expect(withErrors.results.map((r) => r.objectWriteTraceId)).toEqual(['V-1']);
    const error = withErrors.errors?.[0];
    expect(error).toMatchObject({ status: 'error', category: 'VALIDATION_ERROR', context: { objectWriteTraceId: ['V-2'] } });
    expect(error?.message).toContain('huge was not one of the allowed options');
    expect(error?.errors[0]?.context?.propertyName).toEqual(['erp_segment']);
  });

  it('refuses a batch of 101 inputs with 400', async () => {
    const inputs = Array.from({ length: 101 }, (_, i) => ({ id: `B-${i}`, idProperty: 'erp_customer_id', properties: { name: `B${i}` } }));
    const err = await failure(batch().upsert('companies', { inputs }));
    expect(err.code).toBe(400);
    expect(err.body).toMatchObject({ status: 'error', category: 'VALIDATION_ERROR', message: 'Too many inputs: 101. Max inputs: 100' });
    expect(err.body.correlationId).toMatch(UUID);
  });
});

describe('search', () => {
  beforeAll(() => {
    emu.store.transaction(() => {
      for (let i = 0; i < 10_050; i++) emu.store.create('contacts', { lastname: `L${i}`, erp_contact_id: `K-${i}`, ...(i % 2 ? { jobtitle: 'CTO' } : {}) }, 1_700_000_000_000 + i);
    });
  });

  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  const isSecondly = (e: unknown): boolean => (e as ApiError).code === 429 && (e as ApiError).body?.policyName === 'SECONDLY';
  // HubSpot allows 5 searches per second: a search the limit refuses is tried again once the
  // window has moved on (within 10 s), except where the limit is the subject (`unpaced`).
  const search = async (filters: Filter[], extra: { limit?: number; after?: string; sort?: string; unpaced?: boolean } = {}) => {
    const once = () =>
      client.crm.objects.searchApi.doSearch('contacts', {
        filterGroups: [{ filters }],
        sorts: asc(extra.sort ?? 'lastmodifieddate'),
        properties: ['lastname', 'jobtitle', 'lastmodifieddate'],
        limit: extra.limit ?? 200,
        after: extra.after ?? '0',
      });
    if (extra.unpaced) return once();
    for (const deadline = Date.now() + 10_000; ; ) {
      try {
        return await once();
      } catch (e) {
        if (!isSecondly(e) || Date.now() > deadline) throw e;
        await sleep(250); // the rolling second frees a slot only with time
      }
    }
  };
  const f = (propertyName: string, operator: FilterOperatorEnum, value?: string, values?: string[]): Filter => ({
    propertyName,
    operator,
    ...(value !== undefined ? { value } : {}),
    ...(values ? { values } : {}),
  });
  const t = (i: number): string => String(1_700_000_000_000 + i);

  it('filters with EQ, NEQ, GT, GTE, LT, LTE, HAS_PROPERTY and IN, sorted, paged by integer after', async () => {
    const eq = await search([f('lastmodifieddate', FilterOperatorEnum.Eq, t(5))]);
    expect(eq).toBeInstanceOf(CollectionResponseWithTotalSimplePublicObjectForwardPaging);
    expect(eq.results.map((r) => r.properties.lastname)).toEqual(['L5']);
    expect((await search([f('lastmodifieddate', FilterOperatorEnum.Gte, t(10_040))])).total).toBe(10);
    expect((await search([f('lastmodifieddate', FilterOperatorEnum.Gt, t(10_040))])).total).toBe(9);
    expect((await search([f('lastmodifieddate', FilterOperatorEnum.Lt, t(3))])).total).toBe(3);
    expect((await search([f('lastmodifieddate', FilterOperatorEnum.Lte, t(3))])).total).toBe(4);
    expect((await search([f('lastname', FilterOperatorEnum.Neq, 'L0'), f('lastmodifieddate', FilterOperatorEnum.Lt, t(3))])).total).toBe(2);
    expect((await search([f('jobtitle', FilterOperatorEnum.HasProperty), f('lastmodifieddate', FilterOperatorEnum.Lt, t(10))])).total).toBe(5);
    const inList = await search([f('lastname', FilterOperatorEnum.In, undefined, ['l1', 'l7'])]);
    expect(inList.results.map((r) => r.properties.lastname)).toEqual(['L1', 'L7']);
    const page = await search([f('lastmodifieddate', FilterOperatorEnum.Gte, t(0))], { limit: 100, after: '200' });
    expect(page.results[0]?.properties.lastname).toBe('L200');
    expect(page.paging?.next?.after).toBe('300');
  });

  it('answers a search past 10,000 results with 400', async () => {
    const last = await search([], { after: '9900', limit: 200 });
    expect(last.total).toBe(10_050);
    expect(last.results).toHaveLength(100);
    expect(last.paging?.next?.after).toBe('10000');
    const err = await failure(search([], { after: '10000', limit: 200 }));
    expect(err.code).toBe(400);
    expect(err.body).toMatchObject({ status: 'error', category: 'VALIDATION_ERROR' });
    expect(err.body.correlationId).toMatch(UUID);
    const tooBig = await failure(search([], { limit: 201 }));
    expect(tooBig.code).toBe(400);
  });

  it('throttles searches beyond 5 in one second with 429 SECONDLY', async () => {
    // Inherent wait: the emulator's rolling second empties only with time (no earlier search may count).
    await sleep(1100);
    // Ten at once: the first five to arrive are let through; on a busy machine arrivals can
    // spread out, so more may pass, but ten sent together never all fit in one second's five.
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => search([], { limit: 1, unpaced: true })));
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(results.length - rejected.length).toBeGreaterThanOrEqual(5);
    expect(rejected.length).toBeGreaterThanOrEqual(1);
    expect(rejected.filter((r) => !isSecondly(r.reason))).toEqual([]);
    const err = rejected[0]?.reason as ApiError;
    expect(err.code).toBe(429);
    expect(err.body).toMatchObject({ status: 'error', errorType: 'RATE_LIMIT', policyName: 'SECONDLY', message: 'You have reached your secondly limit.' });
  });
});

describe('associations v4', () => {
  it('creates and reads default company-contact associations', async () => {
    const company = await client.crm.objects.basicApi.create('companies', { properties: { name: 'Assoc' }, associations: [] });
    const contact = await client.crm.objects.basicApi.create('contacts', { properties: { lastname: 'Doe' }, associations: [] });
    const res = await client.crm.associations.v4.basicApi.createDefault('companies', company.id, 'contacts', contact.id);
    expect(res.status).toBe('COMPLETE');
    expect(res.results[0]?.associationSpec.associationTypeId).toBe(280);
    const back = await client.crm.associations.v4.basicApi.getPage('contacts', contact.id, 'companies');
    expect(back.results.map((r) => String(r.toObjectId))).toEqual([company.id]);
    expect(back.results[0]?.associationTypes[0]?.typeId).toBe(279);
  });
});

describe('properties', () => {
  it('registers a custom property with unique values, then accepts it', async () => {
    const prop = await client.crm.properties.coreApi.create('deals', {
      name: 'erp_invoice_id', label: 'ERP invoice', type: 'string' as never, fieldType: 'text' as never, groupName: 'erp', hasUniqueValue: true,
    });
    expect(prop.hasUniqueValue).toBe(true);
    await client.crm.objects.basicApi.create('deals', { properties: { dealname: 'D', erp_invoice_id: 'I-1' }, associations: [] });
    const dup = await failure(client.crm.objects.basicApi.create('deals', { properties: { dealname: 'E', erp_invoice_id: 'I-1' }, associations: [] }));
    expect(dup.code).toBe(409);
    expect(dup.body).toMatchObject({ status: 'error', category: 'CONFLICT' });
  });
});

describe('rate limits', () => {
  it('answers the 101st request in 10 s with 429, HubSpot body and X-HubSpot-RateLimit headers', async () => {
    const limited = await startHubSpotEmulator({ token: TOKEN, rateLimitPer10s: 100 });
    try {
      const c = new Client({ accessToken: TOKEN, basePath: limited.baseUrl, numberOfApiCallRetries: 0 });
      const ok = await c.crm.objects.basicApi.getPageWithHttpInfo('companies', 1);
      expect(ok.headers['x-hubspot-ratelimit-max']).toBe('100');
      expect(ok.headers['x-hubspot-ratelimit-remaining']).toBe('99');
      expect(ok.headers['x-hubspot-ratelimit-interval-milliseconds']).toBe('10000');
      for (let i = 0; i < 99; i++) await c.crm.objects.basicApi.getPage('companies', 1);
      const err = await failure(c.crm.objects.basicApi.getPage('companies', 1));
      expect(err.code).toBe(429);
      expect(err.body).toMatchObject({ status: 'error', errorType: 'RATE_LIMIT', policyName: 'TEN_SECONDLY_ROLLING' });
      expect(err.body.correlationId).toMatch(UUID);
      expect(typeof err.body.message).toBe('string');
      expect(err.headers['x-hubspot-ratelimit-remaining']).toBe('0');
      expect(err.headers['x-hubspot-ratelimit-max']).toBe('100');
      expect(err.headers['x-hubspot-ratelimit-daily-remaining']).toBeDefined();
    } finally {
      await limited.stop();
    }
  });
});

describe('persistence', () => {
  it('keeps objects and unique values across a restart on the same SQLite file', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'hubspot-emu-'));
    try {
      const first = await startHubSpotEmulator({ token: TOKEN, dbPath: join(dir, 'hs.db') });
      const c1 = new Client({ accessToken: TOKEN, basePath: first.baseUrl, numberOfApiCallRetries: 0 });
      const made = await c1.crm.objects.basicApi.create('products', { properties: { name: 'Kept', erp_product_id: 'K-1' }, associations: [] });
      await first.stop();
      const second = await startHubSpotEmulator({ token: TOKEN, dbPath: join(dir, 'hs.db') });
      const c2 = new Client({ accessToken: TOKEN, basePath: second.baseUrl, numberOfApiCallRetries: 0 });
      const back = await c2.crm.objects.basicApi.getById('products', 'K-1', ['name'], undefined, undefined, false, 'erp_product_id');
      expect(back.id).toBe(made.id);
      await second.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
