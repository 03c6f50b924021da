import { SyncError } from '../../contracts/errors';
import type { SourceRecord, WriteOutcome, WriteRequest } from '../types';
import { createMany, refusal, writeMany, type CreateItem, type LabelMap, type WriteItem } from './batch';
import { decimalFromMinor, minorFromDecimal, TrytonDecimal } from './codec';
import type { EntityDeps, EntityHandler } from './entity';
import { inOrder, uniqueByKey } from './entity';
import { fetchIncremental } from './incremental';
import { bool, ids, modifiedAt, nested, plain, type Row } from './values';

/**
 * Products ⇄ `product.template` + its single variant `product.product`.
 * External key: the variant's `code` (= template code + suffix_code; we set `suffix_code` to
 * the external key and leave the template code empty). List prices are in the company currency.
 */
const FIELDS = [
  'code', 'active', 'description', 'template', '_timestamp', 'create_date', 'write_date',
  'template.name', 'template.list_price', 'template.type', 'template.default_uom', 'template.sale_uom',
  'template.salable', 'template.active', 'template.account_category', 'template._timestamp',
];
const LABELS: LabelMap = { Name: 'name', 'List Price': 'listPrice', 'Sale UOM': 'unit', 'Default UOM': 'unit', Code: 'externalKey', 'Suffix Code': 'externalKey' };
const ALL = { active_test: false };
const SERVICE_UNITS = new Set(['hour', 'day', 'license']);

interface Money { amountMinor: number; currency: string }

export function createProducts(deps: EntityDeps): EntityHandler {
  const { client, lookups } = deps;

  function toRecord(row: Row): SourceRecord {
    const t = nested(row, 'template') ?? ({ id: 0 } as Row);
    const data = {
      id: row.id, code: row.code, active: bool(row.active), description: row.description ?? null, template: row.template,
      name: t.name, list_price: t.list_price, type: t.type, default_uom: t.default_uom, sale_uom: t.sale_uom,
      salable: bool(t.salable), account_category: t.account_category ?? null, create_date: row.create_date, write_date: row.write_date,
    };
    return { key: String(row.id), modifiedAt: modifiedAt(row).toISOString(), data: plain(data) as Record<string, unknown> };
  }

  async function byCodes(codes: string[]): Promise<Map<string, Row>> {
    const rows = await client.model<Row[]>('product.product', 'search_read', [[['code', 'in', codes]], 0, null, null, FIELDS], ALL);
    return new Map(rows.map((r) => [String(r.code), r]));
  }

  async function listPrice(f: Record<string, unknown>): Promise<TrytonDecimal | undefined> {
    const money = f.listPrice as Money | undefined;
    if (money === undefined) return undefined;
    const company = await lookups.companyCurrencyCode();
    if (money.currency !== company) {
      throw new SyncError('ValidationError', `list price must be in the company currency ${company}, got ${money.currency}`, { field: 'listPrice.currency' });
    }
    const cur = await lookups.currency(company);
    return decimalFromMinor(money.amountMinor, cur?.digits ?? 2);
  }

  async function createValues(key: string, f: Record<string, unknown>): Promise<Record<string, unknown>> {
    const unit = typeof f.unit === 'string' ? f.unit : 'unit';
    const uom = await lookups.uom(unit);
    const variant: Record<string, unknown> = { suffix_code: key };
    if (f.description !== undefined) variant.description = f.description;
    return {
      name: f.name, type: SERVICE_UNITS.has(unit) ? 'service' : 'goods', default_uom: uom, sale_uom: uom, salable: true,
      list_price: (await listPrice(f)) ?? new TrytonDecimal('0'), account_category: await lookups.accountCategory(),
      active: f.active === undefined ? true : Boolean(f.active),
      products: [['create', [variant]]],
    };
  }

  /** Template values that changed (with a nested write of the variant when it changed). */
  async function changedValues(f: Record<string, unknown>, cur: Row): Promise<Record<string, unknown>> {
    const t = nested(cur, 'template') ?? ({ id: 0 } as Row);
    const v: Record<string, unknown> = {};
    if (f.name !== undefined && f.name !== t.name) v.name = f.name;
    const price = await listPrice(f);
    const digits = 4;
    if (price && (!(t.list_price instanceof TrytonDecimal) || minorFromDecimal(price, digits) !== minorFromDecimal(t.list_price, digits))) v.list_price = price;
    if (f.active !== undefined && Boolean(f.active) !== bool(t.active)) v.active = Boolean(f.active);
    if (typeof f.unit === 'string') {
      const uom = await lookups.uom(f.unit);
      if (uom !== t.sale_uom) v.sale_uom = uom;
      if (uom !== t.default_uom) v.default_uom = uom;
    }
    const variant: Record<string, unknown> = {};
    if (f.description !== undefined && f.description !== (cur.description ?? undefined)) variant.description = f.description;
    if (f.active !== undefined && Boolean(f.active) !== bool(cur.active)) variant.active = Boolean(f.active);
    if (Object.keys(variant).length) v.products = [['write', [cur.id], variant]];
    return v;
  }

  return {
    description: { name: 'products', canonical: 'Product', canRead: true, canWrite: true, canDelete: true, incremental: true },

    fetchChanges: (request) => fetchIncremental(client, { model: 'product.product', fields: FIELDS, context: ALL, toRecord }, request),

    async read(keys) {
      const rows = await client.model<Row[]>('product.product', 'search_read', [[['id', 'in', ids(keys)]], 0, null, null, FIELDS], ALL);
      return rows.map(toRecord);
    },

    async findByExternalKeys(externalKeys) {
      const found = await byCodes(externalKeys);
      return new Map([...found].map(([k, r]) => [k, String(r.id)]));
    },

    async upsert(batch: WriteRequest[]): Promise<WriteOutcome[]> {
      const requests = uniqueByKey(batch);
      const existing = await byCodes(requests.map((r) => r.externalKey));
      const outcomes = new Map<string, WriteOutcome>();
      const creates: CreateItem[] = [];
      const writes: WriteItem[] = [];
      const variantOf = new Map<string, number>();
      for (const r of requests) {
        const cur = existing.get(r.externalKey);
        try {
          if (!cur) {
            creates.push({ externalKey: r.externalKey, values: await createValues(r.externalKey, r.fields) });
            continue;
          }
          const values = await changedValues(r.fields, cur);
          const tpl = typeof cur.template === 'number' ? cur.template : 0;
          variantOf.set(r.externalKey, cur.id);
          if (Object.keys(values).length === 0) outcomes.set(r.externalKey, { externalKey: r.externalKey, ok: true, targetKey: String(cur.id), action: 'updated' });
          else writes.push({ externalKey: r.externalKey, id: tpl, values, timestamp: nested(cur, 'template')?._timestamp as string | undefined });
        } catch (err) {
          if (!(err instanceof SyncError)) throw err;
          outcomes.set(r.externalKey, refusal(r.externalKey, err, LABELS));
        }
      }
      const made = await createMany(client, 'product.template', creates, LABELS);
      const written = await writeMany(client, 'product.template', writes, LABELS);
      // Target keys are variant ids; created templates report template ids, so resolve them.
      const newVariants = await byCodes([...made].filter(([, o]) => o.ok).map(([k]) => k));
      for (const [k, o] of made) {
        const variant = newVariants.get(k);
        outcomes.set(k, o.ok && variant ? { ...o, targetKey: String(variant.id) } : o);
      }
      for (const [k, o] of written) {
        const variant = variantOf.get(k);
        outcomes.set(k, o.ok && variant !== undefined ? { ...o, targetKey: String(variant) } : o);
      }
      return inOrder(batch, outcomes);
    },

    /** Products are archived (template and variant inactive): sales refer to them. */
    async delete(targetKeys) {
      const rows = await client.model<Row[]>('product.product', 'search_read', [[['id', 'in', ids(targetKeys)]], 0, null, null, ['template']], ALL);
      const templates = rows.map((r) => r.template).filter((t): t is number => typeof t === 'number');
      if (templates.length) await client.model('product.template', 'write', [templates, { active: false }]);
    },
  };
}
