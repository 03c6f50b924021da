import type { TrytonClient } from '../../connectors/tryton/client';
import { createTrytonConnector, type TrytonConnector } from '../../connectors/tryton/connector';
import { startTryton, type TrytonInstance } from '../../scripts/tryton';
import { adminClient } from '../../scripts/tryton/admin-helpers';
import { germanVat } from '../helpers/vat';

/**
 * The Tryton `parties` entity (a side of two-way pairs) against a real trytond: flat native
 * fields, VAT as an `eu_vat` identifier, external keys in the code or `TRY-<id>`, archived
 * parties read through `active`, partial patches, and a retried insert that finds its party.
 */

jest.setTimeout(180_000);

let tryton: TrytonInstance;
let conn: TrytonConnector;
let admin: TrytonClient;

beforeAll(async () => {
  tryton = await startTryton();
  conn = createTrytonConnector({ url: tryton.url, database: tryton.database, user: tryton.user, password: tryton.password });
  admin = adminClient(tryton);
});

afterAll(async () => {
  await conn?.close();
  await admin?.logout();
  await tryton?.stop();
});

const full = (key: string) => ({
  external_key: key,
  name: `Party ${key}`,
  email: `${key.toLowerCase()}@example.test`,
  phone: '+4930123456',
  website: `${key.toLowerCase()}.example`,
  street: '1 Main St',
  city: 'Berlin',
  postal_code: '10115',
  country: 'DE',
  vat: germanVat(1),
  active: true,
});

async function one(key: string) {
  const [r] = await conn.read('parties', [key]);
  if (!r) throw new Error(`party ${key} not readable`);
  return r;
}

describe('Tryton parties (real trytond)', () => {
  test('insertNative creates a party with every native field; it reads back the same, keyed by its code', async () => {
    const [out] = await conn.insertNative('parties', [{ ref: 'link-1', values: full('HS-1') }]);
    expect(out).toMatchObject({ externalKey: 'link-1', ok: true, action: 'created' });
    const id = out!.ok ? out!.targetKey : '';
    const r = await one(id);
    expect(r.data).toMatchObject({ ...full('HS-1'), code: 'CRM-HS-1' });
    expect(await conn.findByExternalKeys('parties', ['HS-1', 'HS-404'])).toEqual(new Map([['HS-1', id]]));
  });

  test('a retried insert (same external key) finds the party of its first attempt: no second party', async () => {
    const again = await conn.insertNative('parties', [{ ref: 'link-1-retry', values: { ...full('HS-1'), city: 'Hamburg' } }]);
    const first = await conn.findByExternalKeys('parties', ['HS-1']);
    expect(again).toEqual([{ externalKey: 'link-1-retry', ok: true, targetKey: first.get('HS-1'), action: 'created' }]);
    const codes = await admin.model<unknown[]>('party.party', 'search', [[['code', '=', 'CRM-HS-1']], 0, null, null], { active_test: false });
    expect(codes).toHaveLength(1);
    expect((await one(first.get('HS-1')!)).data.city).toBe('Hamburg');
  });

  test('the same external key twice in one insert call: one party, two outcomes naming it', async () => {
    const out = await conn.insertNative('parties', [
      { ref: 'a', values: { ...full('HS-2'), name: 'First' } },
      { ref: 'b', values: { ...full('HS-2'), name: 'Second' } },
    ]);
    expect(out.map((o) => [o.externalKey, o.ok])).toEqual([
      ['a', true],
      ['b', true],
    ]);
    const [a, b] = out.map((o) => (o.ok ? o.targetKey : ''));
    expect(a).toBe(b);
    expect((await one(a!)).data.name).toBe('Second');
  });

  test('patchNative changes only the named fields; null clears a mechanism, the address city, the VAT number', async () => {
    const id = (await conn.findByExternalKeys('parties', ['HS-1'])).get('HS-1')!;
    const before = (await one(id)).data;
    const [p] = await conn.patchNative('parties', [{ key: id, values: { name: 'Renamed', vat: germanVat(2), country: 'FR' } }]);
    expect(p).toMatchObject({ externalKey: id, ok: true });
    const mid = (await one(id)).data;
    expect(mid).toEqual({ ...before, name: 'Renamed', vat: germanVat(2), country: 'FR', write_date: mid.write_date });
    expect(mid.write_date).not.toBe(before.write_date);

    await conn.patchNative('parties', [{ key: id, values: { phone: null, city: null, vat: null } }]);
    expect((await one(id)).data).toMatchObject({ phone: null, city: null, vat: null, email: before.email, street: before.street });
  });

  test('refusals are per record and name the native field: an invalid VAT number, an unknown country', async () => {
    const id = (await conn.findByExternalKeys('parties', ['HS-1'])).get('HS-1')!;
    const out = await conn.patchNative('parties', [
      { key: id, values: { vat: 'DE123' } },
      { key: id, values: { country: 'XX' } },
      { key: id, values: { name: 'Still Writable' } },
    ]);
    expect(out.map((o) => (o.ok ? 'ok' : `${o.error.type}:${o.error.field}`))).toEqual(['ValidationError:vat', 'ValidationError:country', 'ok']);
    expect((await one(id)).data).toMatchObject({ name: 'Still Writable', vat: null });
  });

  test("a party made in Tryton is keyed TRY-<id>; archived parties are read and fetched with active: false", async () => {
    const [made] = await admin.model<number[]>('party.party', 'create', [[{ name: 'Made In Tryton' }]], {});
    const key = `TRY-${made}`;
    expect(await conn.findByExternalKeys('parties', [key, 'TRY-999999'])).toEqual(new Map([[key, String(made)]]));
    expect((await one(String(made))).data.external_key).toBe(key);

    const before = await conn.fetchChanges('parties', { after: null, limit: 1000 });
    const cursor = before.nextCursor;
    await admin.model('party.party', 'write', [[made], { active: false }], {});
    expect((await one(String(made))).data.active).toBe(false);
    const after = await conn.fetchChanges('parties', { after: cursor, limit: 1000, includeDeleted: true });
    expect(after.records.map((r) => [r.key, r.data.active])).toEqual([[String(made), false]]);
    // Keys that are not party ids are absent, not an error.
    expect(await conn.read('parties', ['HS-5', key])).toEqual([]);
  });

  test('a mapping write section naming an unknown native field is a ConfigError for the call', async () => {
    await expect(conn.patchNative('parties', [{ key: '1', values: { credit_limit: 5 } }])).rejects.toMatchObject({ type: 'ConfigError' });
    await expect(conn.insertNative('customers', [{ ref: 'x', values: { name: 'x' } }])).rejects.toMatchObject({ type: 'ConfigError' });
  });
});
