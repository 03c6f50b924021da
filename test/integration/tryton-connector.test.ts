import { readFileSync } from 'node:fs';
import { createTrytonConnector, type TrytonConnector } from '../../connectors/tryton/connector';
import type { TrytonClient } from '../../connectors/tryton/client';
import type { Cursor } from '../../contracts/cursor';
import type { SourceRecord, WriteRequest } from '../../connectors/types';
import { startTryton, type TrytonInstance } from '../../scripts/tryton';
import { adminClient, payInvoice, postInvoices } from '../../scripts/tryton/admin-helpers';

jest.setTimeout(180_000);

let tryton: TrytonInstance;
let conn: TrytonConnector;
let admin: TrytonClient;

beforeAll(async () => {
  tryton = await startTryton({ log: (m) => console.log(`[tryton] ${m}`) });
  conn = createTrytonConnector({ url: tryton.url, database: tryton.database, user: tryton.user, password: tryton.password });
  admin = adminClient(tryton);
});

afterAll(async () => {
  await conn?.close();
  await admin?.logout();
  await tryton?.stop();
});

const eur = (amountMinor: number) => ({ amountMinor, currency: 'EUR' });
const customer = (key: string, extra: Record<string, unknown> = {}): WriteRequest => ({
  externalKey: key,
  fields: {
    externalKey: key, name: `Customer ${key}`, email: `${key}@example.test`, phone: '+4930123456',
    address: { street: '1 Main St', city: 'Berlin', postalCode: '10115', countryCode: 'DE' }, ...extra,
  },
});
const product = (key: string, extra: Record<string, unknown> = {}): WriteRequest => ({
  externalKey: key,
  fields: { externalKey: key, sku: key, name: `Product ${key}`, listPrice: eur(1250), unit: 'unit', ...extra },
});
const order = (key: string, customerKey: string, productKey: string): WriteRequest => ({
  externalKey: key,
  fields: {
    externalKey: key, customerExternalKey: customerKey, orderDate: new Date().toISOString().slice(0, 10), currency: 'EUR',
    reference: `CRM deal ${key}`, lines: [{ productExternalKey: productKey, quantity: 2, unitPrice: eur(1250), discountPercent: 0 }],
  },
});

async function drain(entity: string, after: Cursor | null, limit: number): Promise<{ records: SourceRecord[]; cursor: Cursor | null; pages: number }> {
  const records: SourceRecord[] = [];
  let cursor = after;
  let pages = 0;
  for (;;) {
    const page = await conn.fetchChanges(entity, { after: cursor, limit });
    pages += 1;
    records.push(...page.records);
    cursor = page.nextCursor;
    if (!page.hasMore) return { records, cursor, pages };
    if (pages > 200) throw new Error('fetchChanges does not progress');
  }
}

async function confirmedOrderWithInvoice(key: string): Promise<{ saleId: string; invoiceId: number }> {
  const [out] = await conn.upsert('salesOrders', [order(key, 'C-1', 'P-1')]);
  if (!out?.ok) throw new Error(`order not created: ${JSON.stringify(out)}`);
  await conn.quoteSalesOrders([out.targetKey]);
  const [confirmed] = await conn.confirmSalesOrders([out.targetKey]);
  expect(confirmed).toMatchObject({ ok: true, state: 'processing' });
  const [sale] = await conn.read('salesOrders', [out.targetKey]);
  const invoiceId = (sale?.data.invoices as number[])[0];
  if (invoiceId === undefined) throw new Error('no invoice created by processing');
  return { saleId: out.targetKey, invoiceId };
}

describe('Tryton connector (real trytond)', () => {
  test('the test bed is the pinned Tryton LTS (8.0) on PostgreSQL', async () => {
    const pinned = (JSON.parse(readFileSync('toolchain.json', 'utf8')) as { tryton: { pip: Record<string, string> } }).tryton.pip.trytond!;
    expect(pinned).toMatch(/^8\.0\./);
    // the server answers its series (major.minor)
    expect(await admin.server<string>('common.server.version')).toBe(pinned.split('.').slice(0, 2).join('.'));
    // trytond's database is served by its own PostgreSQL postmaster (not a SQLite file)
    expect(readFileSync(`/proc/${tryton.postgresPid}/cmdline`, 'utf8').split('\0')[0]).toMatch(/postgres$/);
  });

  test('describe lists the entities', () => {
    expect(conn.describe().entities.map((e) => e.name)).toEqual(['customers', 'products', 'salesOrders', 'invoices', 'contacts', 'parties']);
  });

  test('customers: create, then idempotent re-upsert without duplicates or writes', async () => {
    const first = await conn.upsert('customers', [customer('C-1'), customer('C-2')]);
    expect(first).toEqual([
      expect.objectContaining({ externalKey: 'C-1', ok: true, action: 'created' }),
      expect.objectContaining({ externalKey: 'C-2', ok: true, action: 'created' }),
    ]);
    const again = await conn.upsert('customers', [customer('C-1'), customer('C-2')]);
    expect(again.map((o) => (o.ok ? [o.action, o.targetKey] : o))).toEqual(first.map((o) => (o.ok ? ['updated', o.targetKey] : o)));
    expect(await admin.model('party.party', 'search_count', [[['code', '=', 'CRM-C-1']]])).toBe(1);
    const [rec] = await conn.read('customers', [first[0]!.ok ? first[0]!.targetKey : '']);
    expect(rec?.data).toMatchObject({
      externalKey: 'C-1', code: 'CRM-C-1', name: 'Customer C-1', email: 'C-1@example.test', phone: '+4930123456',
      address: { street: '1 Main St', city: 'Berlin', postal_code: '10115', country: 'DE' },
    });
    // Never written after its creation (Tryton 8.0 stamps write_date = create_date on create).
    expect(rec?.data.write_date).toEqual(rec?.data.create_date);
    expect(await conn.findByExternalKeys('customers', ['C-1', 'nope'])).toEqual(new Map([['C-1', rec!.key]]));
  });

  test('customers: an update writes only the changed fields', async () => {
    const [before] = await admin.model<Array<{ contact_mechanisms: number[]; addresses: number[] }>>(
      'party.party', 'search_read', [[['code', '=', 'CRM-C-2']], 0, 1, null, ['contact_mechanisms', 'addresses']]);
    const [out] = await conn.upsert('customers', [{ externalKey: 'C-2', fields: { name: 'Customer C-2 GmbH', phone: '+4940111222' } }]);
    expect(out).toMatchObject({ ok: true, action: 'updated' });
    const [rec] = await conn.read('customers', [out!.ok ? out!.targetKey : '']);
    expect(rec?.data).toMatchObject({ name: 'Customer C-2 GmbH', phone: '+4940111222', email: 'C-2@example.test', address: { city: 'Berlin' } });
    const [after] = await admin.model<Array<{ contact_mechanisms: number[]; addresses: number[] }>>(
      'party.party', 'search_read', [[['code', '=', 'CRM-C-2']], 0, 1, null, ['contact_mechanisms', 'addresses']]);
    expect(after).toEqual(before); // same mechanism and address records, edited in place
  });

  test('customers: an unknown country is refused for that record only', async () => {
    const outs = await conn.upsert('customers', [customer('C-3'), customer('C-4', { address: { countryCode: 'ZZ' } })]);
    expect(outs[0]).toMatchObject({ ok: true, action: 'created' });
    expect(outs[1]).toMatchObject({ ok: false, error: { type: 'ValidationError', field: 'address.countryCode' } });
  });

  test('products: create with variant and list price, then update the price', async () => {
    const [out] = await conn.upsert('products', [product('P-1')]);
    expect(out).toMatchObject({ externalKey: 'P-1', ok: true, action: 'created' });
    const id = out!.ok ? out!.targetKey : '';
    expect((await conn.read('products', [id]))[0]?.data).toMatchObject({ code: 'P-1', name: 'Product P-1', salable: true });
    expect(Number((await conn.read('products', [id]))[0]?.data.list_price)).toBe(12.5);
    const [upd] = await conn.upsert('products', [product('P-1', { listPrice: eur(1399) })]);
    expect(upd).toEqual({ externalKey: 'P-1', ok: true, action: 'updated', targetKey: id });
    expect(Number((await conn.read('products', [id]))[0]?.data.list_price)).toBe(13.99);
  });

  test('products: an inactive product is created inactive on template and variant; archiving deactivates both', async () => {
    const [out] = await conn.upsert('products', [product('P-OFF', { active: false })]);
    expect(out).toMatchObject({ ok: true, action: 'created' });
    const flags = async (code: string) => {
      const [r] = await admin.model<Array<{ active: boolean | number; 'template.': { active: boolean | number } }>>(
        'product.product', 'search_read', [[['code', '=', code]], 0, 1, null, ['active', 'template.active']], { active_test: false });
      return { active: Boolean(r?.active), 'template.': { active: Boolean(r?.['template.'].active) } };
    };
    expect(await flags('P-OFF')).toMatchObject({ active: false, 'template.': { active: false } });
    const [on] = await conn.upsert('products', [product('P-OFF', { active: true })]);
    expect(on).toMatchObject({ ok: true, action: 'updated' });
    expect(await flags('P-OFF')).toMatchObject({ active: true, 'template.': { active: true } });
    await conn.delete('products', [on!.ok ? on!.targetKey : '']);
    expect(await flags('P-OFF')).toMatchObject({ active: false, 'template.': { active: false } });
  });

  test('customers: every country the demo CRM uses is defined in the test bed (JP included)', async () => {
    const outs = await conn.upsert('customers', (['DE', 'FR', 'GB', 'US', 'NL', 'CH', 'JP', 'ES'] as const).map((c) => customer(`C-${c}`, { address: { city: 'X', countryCode: c } })));
    expect(outs.map((o) => o.ok)).toEqual(outs.map(() => true));
  });

  test('sales order: an archived (churned) customer is found, as "ensure customer" finds it', async () => {
    await conn.upsert('customers', [customer('C-CHURN', { active: false })]);
    const [out] = await conn.upsert('salesOrders', [order('SO-CHURN', 'C-CHURN', 'P-1')]);
    expect(out).toMatchObject({ ok: true, action: 'created' });
    await conn.delete('salesOrders', [out!.ok ? out!.targetKey : '']);
  });

  test('a batch with one record Tryton refuses writes the others', async () => {
    const outs = await conn.upsert('products', [product('P-2'), product('P-BAD', { name: '' }), product('P-3')]);
    expect(outs.map((o) => o.ok)).toEqual([true, false, true]);
    expect(outs[1]).toEqual({
      externalKey: 'P-BAD', ok: false,
      error: { type: 'ValidationError', field: 'name', message: 'A value is required for field "Name" in record "" of "Product Template".' },
    });
    const found = await conn.findByExternalKeys('products', ['P-2', 'P-BAD', 'P-3']);
    expect([...found.keys()].sort()).toEqual(['P-2', 'P-3']);
  });

  test('customers: incremental fetch pages through equal timestamps without loss or repeats', async () => {
    await conn.upsert('customers', ['C-5', 'C-6', 'C-7', 'C-8'].map((k) => customer(k)));
    const all = await drain('customers', null, 1000);
    const paged = await drain('customers', null, 2);
    expect(paged.records.map((r) => r.key)).toEqual(all.records.map((r) => r.key));
    expect(new Set(paged.records.map((r) => r.key)).size).toBe(paged.records.length);
    expect(paged.pages).toBeGreaterThan(2);
    // nothing new after the last cursor; a change shows up again
    expect((await conn.fetchChanges('customers', { after: all.cursor, limit: 10 })).records).toEqual([]);
    // Inherent wait: the change must carry a write_date later than the cursor's (trytond stamps
    // it with its own clock); nothing observable says the clock has moved on but time itself.
    await new Promise((r) => setTimeout(r, 20));
    await conn.upsert('customers', [{ externalKey: 'C-5', fields: { name: 'Customer C-5 renamed' } }]);
    const next = await conn.fetchChanges('customers', { after: all.cursor, limit: 10 });
    expect(next.records.map((r) => r.data.externalKey)).toEqual(['C-5']);
  });

  test('sales order: create as draft (idempotent), quote, confirm to processing', async () => {
    const [created] = await conn.upsert('salesOrders', [order('SO-1', 'C-1', 'P-1')]);
    expect(created).toMatchObject({ ok: true, action: 'created' });
    const id = created!.ok ? created!.targetKey : '';
    const [again] = await conn.upsert('salesOrders', [order('SO-1', 'C-1', 'P-1')]);
    expect(again).toEqual({ externalKey: 'SO-1', ok: true, action: 'updated', targetKey: id });
    const [draft] = await conn.read('salesOrders', [id]);
    expect(draft?.data).toMatchObject({ state: 'draft', reference: 'SO-1', customerExternalKey: 'C-1', total_amount: '25.00', description: 'CRM deal SO-1' });
    expect(await conn.quoteSalesOrders([id])).toEqual([expect.objectContaining({ ok: true, state: 'quotation' })]);
    expect(await conn.confirmSalesOrders([id])).toEqual([expect.objectContaining({ ok: true, state: 'processing' })]);
    const [changed] = await conn.upsert('salesOrders', [{ ...order('SO-1', 'C-1', 'P-1'), fields: { ...order('SO-1', 'C-1', 'P-1').fields, reference: 'changed' } }]);
    expect(changed).toMatchObject({ ok: false, error: { type: 'Conflict' } });
    const [unknown] = await conn.upsert('salesOrders', [order('SO-X', 'C-404', 'P-1')]);
    expect(unknown).toMatchObject({ ok: false, error: { type: 'NotFound', field: 'customerExternalKey' } });
  });

  test('sales order: cancel and delete a draft', async () => {
    const [out] = await conn.upsert('salesOrders', [order('SO-DEL', 'C-1', 'P-2')]);
    expect(out).toMatchObject({ externalKey: 'SO-DEL', ok: true, action: 'created' });
    const id = out!.ok ? out!.targetKey : '';
    expect(await conn.findByExternalKeys('salesOrders', ['SO-DEL'])).toEqual(new Map([['SO-DEL', id]]));
    await conn.delete('salesOrders', [id]);
    expect(await conn.findByExternalKeys('salesOrders', ['SO-DEL'])).toEqual(new Map());
  });

  test('invoices: incremental fetch, then posting and payment are visible', async () => {
    const start = await drain('invoices', null, 100);
    const { invoiceId } = await confirmedOrderWithInvoice('SO-2');
    const created = await conn.fetchChanges('invoices', { after: start.cursor, limit: 10 });
    expect(created.records.map((r) => r.key)).toEqual([String(invoiceId)]);
    expect(created.records[0]?.data).toMatchObject({ state: 'draft', customerExternalKey: 'C-1', orderExternalKeys: ['SO-2'], total: eur(2500) });
    expect((await conn.fetchChanges('invoices', { after: created.nextCursor, limit: 10 })).records).toEqual([]);

    await postInvoices(admin, [invoiceId]);
    const posted = await conn.fetchChanges('invoices', { after: created.nextCursor, limit: 10 });
    expect(posted.records.map((r) => [r.key, r.data.state, r.data.amountDue])).toEqual([[String(invoiceId), 'posted', eur(2500)]]);
    expect(posted.records[0]?.data.number).toEqual(expect.stringMatching(/^INV\d{4}-/));

    await payInvoice(admin, invoiceId);
    const [paid] = await conn.read('invoices', [String(invoiceId)]);
    expect(paid?.data).toMatchObject({ state: 'paid', paid: true, total: eur(2500), amountDue: eur(0) });
    expect(paid?.data.reconciled).toEqual(expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/));
    const after = await conn.fetchChanges('invoices', { after: posted.nextCursor, limit: 10 });
    expect(after.records.map((r) => r.data.state)).toEqual(['paid']);
  });

  test('invoices: paging with limit 1 returns every invoice once', async () => {
    await confirmedOrderWithInvoice('SO-3');
    await confirmedOrderWithInvoice('SO-4');
    const all = await drain('invoices', null, 1000);
    const paged = await drain('invoices', null, 1);
    expect(all.records.length).toBeGreaterThanOrEqual(3);
    expect(paged.records.map((r) => r.key)).toEqual(all.records.map((r) => r.key));
  });

  test('wrong password is an AuthError without the secret', async () => {
    const bad = createTrytonConnector({ url: tryton.url, database: tryton.database, user: tryton.user, password: 'Wrong-Secret-123' });
    const err = await bad.read('customers', ['1']).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'SyncError', type: 'AuthError' });
    expect(String((err as Error).message)).not.toContain('Wrong-Secret-123');
  });
});
