import { SyncError } from '../../contracts/errors';
import type { SourceRecord } from '../types';
import type { LabelMap } from './batch';
import { decimalFromMinor, minorFromDecimal, TrytonDecimal } from './codec';
import { keyedEntity, type EntityDeps, type EntityHandler } from './entity';
import { bool, ids, modifiedAt, nested, plain, str, type Row } from './values';

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
    const active = f.active === undefined ? true : Boolean(f.active);
    // Tryton's domains: an inactive template has only inactive variants (and an active variant
    // needs an active template), so an inactive product is created inactive on both.
    const variant: Record<string, unknown> = { suffix_code: key, ...(active ? {} : { active: false }) };
    if (f.description !== undefined) variant.description = f.description;
    return {
      name: f.name, type: SERVICE_UNITS.has(unit) ? 'service' : 'goods', default_uom: uom, sale_uom: uom, salable: true,
      list_price: (await listPrice(f)) ?? new TrytonDecimal('0'), account_category: await lookups.accountCategory(),
      active,
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

    ...keyedEntity({
      client, model: 'product.product', writeModel: 'product.template', fields: FIELDS, context: ALL, labels: LABELS, toRecord,
      byKeys: byCodes,
      async plan(r, cur) {
        if (!cur) return { create: await createValues(r.externalKey, r.fields) };
        const values = await changedValues(r.fields, cur);
        if (Object.keys(values).length === 0) return { unchanged: cur.id };
        // The template is written; the target key stays the variant id.
        const template = typeof cur.template === 'number' ? cur.template : 0;
        return { write: values, id: template, timestamp: str(nested(cur, 'template')?._timestamp), target: cur.id };
      },
    }),

    /** Products are archived (template and variant inactive, as Tryton's domains require): sales refer to them. */
    async delete(targetKeys) {
      const rows = await client.model<Row[]>('product.product', 'search_read', [[['id', 'in', ids(targetKeys)]], 0, null, null, ['template']], ALL);
      const args: unknown[] = [];
      for (const r of rows) if (typeof r.template === 'number') args.push([r.template], { active: false, products: [['write', [r.id], { active: false }]] });
      if (args.length) await client.model('product.template', 'write', args);
    },
  };
}
