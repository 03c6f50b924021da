import { SyncError } from '../../contracts/errors';
import type { TrytonClient } from './client';
import type { Row } from './values';

/** Canonical product units → Tryton UoM names (shipped by the product module). */
const UNIT_UOM: Record<string, string> = {
  unit: 'Unit', hour: 'Hour', day: 'Day', kg: 'Kilogram', license: 'Unit',
};

/**
 * Reference data the connector resolves by code and caches for its lifetime: countries,
 * currencies, units of measure, the product account category and the company currency.
 */
export class Lookups {
  private countries = new Map<string, number>();
  private currencies = new Map<string, { id: number; digits: number }>();
  private uoms: Map<string, number> | null = null;
  private category: number | null = null;
  private companyCurrency: string | null = null;

  constructor(private readonly client: TrytonClient, private readonly categoryName?: string) {}

  /** Country ids by ISO code; unknown codes are absent. */
  async countryIds(codes: string[]): Promise<Map<string, number>> {
    const missing = [...new Set(codes)].filter((c) => !this.countries.has(c));
    if (missing.length > 0) {
      const rows = await this.client.model<Row[]>('country.country', 'search_read', [[['code', 'in', missing]], 0, null, null, ['code']]);
      for (const r of rows) if (typeof r.code === 'string') this.countries.set(r.code, r.id);
    }
    return this.countries;
  }

  async currency(code: string): Promise<{ id: number; digits: number } | undefined> {
    if (!this.currencies.has(code)) {
      const rows = await this.client.model<Row[]>('currency.currency', 'search_read', [[['code', '=', code]], 0, 1, null, ['code', 'digits']]);
      const r = rows[0];
      if (r) this.currencies.set(code, { id: r.id, digits: typeof r.digits === 'number' ? r.digits : 2 });
    }
    return this.currencies.get(code);
  }

  async currencyCodeById(id: number): Promise<string | undefined> {
    for (const [code, c] of this.currencies) if (c.id === id) return code;
    const rows = await this.client.model<Row[]>('currency.currency', 'read', [[id], ['code', 'digits']]);
    const r = rows[0];
    if (!r || typeof r.code !== 'string') return undefined;
    this.currencies.set(r.code, { id: r.id, digits: typeof r.digits === 'number' ? r.digits : 2 });
    return r.code;
  }

  async uom(unit: string): Promise<number> {
    if (!this.uoms) {
      const rows = await this.client.model<Row[]>('product.uom', 'search_read', [[['name', 'in', Object.values(UNIT_UOM)]], 0, null, null, ['name']]);
      this.uoms = new Map(rows.map((r) => [String(r.name), r.id]));
    }
    const id = this.uoms.get(UNIT_UOM[unit] ?? '');
    if (id === undefined) throw new SyncError('ValidationError', `unit "${unit}" has no Tryton unit of measure`, { field: 'unit' });
    return id;
  }

  /** The accounting product category new products get (configured name, else the first one). */
  async accountCategory(): Promise<number> {
    if (this.category === null) {
      const domain: unknown[] = [['accounting', '=', true]];
      if (this.categoryName) domain.push(['name', '=', this.categoryName]);
      const found = await this.client.model<number[]>('product.category', 'search', [domain, 0, 1, [['id', 'ASC']]]);
      if (found[0] === undefined) {
        throw new SyncError('ConfigError', `Tryton has no accounting product category${this.categoryName ? ` named "${this.categoryName}"` : ''}`);
      }
      this.category = found[0];
    }
    return this.category;
  }

  /** ISO code of the user's company currency (product list prices are in it). */
  async companyCurrencyCode(): Promise<string> {
    if (this.companyCurrency === null) {
      const ctx = await this.client.context();
      if (typeof ctx.company !== 'number') throw new SyncError('ConfigError', 'the Tryton user has no company');
      const rows = await this.client.model<Row[]>('company.company', 'read', [[ctx.company], ['currency']]);
      const cur = rows[0]?.currency;
      const code = typeof cur === 'number' ? await this.currencyCodeById(cur) : undefined;
      if (!code) throw new SyncError('ConfigError', 'the Tryton company has no currency');
      this.companyCurrency = code;
    }
    return this.companyCurrency;
  }
}
