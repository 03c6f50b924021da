import { SyncError } from '../../contracts/errors';
import type { SourceRecord } from '../types';
import type { LabelMap } from './batch';
import { keyedEntity, type EntityDeps, type EntityHandler } from './entity';
import { bool, ids, modifiedAt, nested, nestedList, plain, str, type Row } from './values';

/**
 * Customers ⇄ `party.party`, with the first address and the first email / phone / website
 * contact mechanisms.
 *
 * External key: the party `code`, as `<customerCodePrefix><externalKey>` (default prefix
 * `CRM-`). The code is unique in Tryton (an SQL constraint), indexed, visible to users, and an
 * explicit code skips the party sequence. The prefix keeps CRM keys apart from the numeric codes
 * Tryton's sequence gives parties created by hand, so they can never collide.
 */
const FIELDS = [
  'name', 'code', 'active', '_timestamp', 'create_date', 'write_date',
  'addresses.street', 'addresses.city', 'addresses.postal_code', 'addresses.country.code',
  'contact_mechanisms.type', 'contact_mechanisms.value',
];
const MECHANISMS = [['email', 'email'], ['phone', 'phone'], ['website', 'website']] as const;
const LABELS: LabelMap = { Name: 'name', Code: 'externalKey', code: 'externalKey', Value: 'email', Street: 'address.street', City: 'address.city', 'Postal Code': 'address.postalCode', Country: 'address.countryCode' };
/** Search inactive parties too, so an archived customer is updated, not duplicated. */
const ALL = { active_test: false };

interface Address { street?: string; city?: string; postalCode?: string; countryCode?: string }

export function createCustomers(deps: EntityDeps): EntityHandler {
  const { client, lookups, customerCodePrefix: prefix } = deps;
  const codeOf = (key: string): string => `${prefix}${key}`;
  const keyOf = (code: unknown): string | undefined =>
    typeof code === 'string' && code.startsWith(prefix) ? code.slice(prefix.length) : undefined;

  function toRecord(row: Row): SourceRecord {
    const addr = nestedList(row, 'addresses')[0];
    const mech = nestedList(row, 'contact_mechanisms');
    const first = (type: string): string | undefined => str(mech.find((m) => m.type === type)?.value);
    const data = {
      id: row.id, code: row.code, externalKey: keyOf(row.code) ?? null, name: row.name, active: bool(row.active),
      email: first('email') ?? null, phone: first('phone') ?? null, website: first('website') ?? null,
      address: addr ? { street: addr.street ?? null, city: addr.city ?? null, postal_code: addr.postal_code ?? null, country: nested(addr, 'country')?.code ?? null } : null,
      create_date: row.create_date, write_date: row.write_date,
    };
    return { key: String(row.id), modifiedAt: modifiedAt(row).toISOString(), data: plain(data) as Record<string, unknown> };
  }

  async function byCodes(keys: string[]): Promise<Map<string, Row>> {
    const rows = await client.model<Row[]>('party.party', 'search_read', [[['code', 'in', keys.map(codeOf)]], 0, null, null, FIELDS], ALL);
    return new Map(rows.flatMap((r) => { const k = keyOf(r.code); return k === undefined ? [] : [[k, r] as [string, Row]]; }));
  }

  function addressValues(a: Address, current: Row | undefined, countries: Map<string, number>): Record<string, unknown> {
    const v: Record<string, unknown> = {};
    if (a.street !== undefined && a.street !== (current?.street ?? undefined)) v.street = a.street;
    if (a.city !== undefined && a.city !== (current?.city ?? undefined)) v.city = a.city;
    if (a.postalCode !== undefined && a.postalCode !== (current?.postal_code ?? undefined)) v.postal_code = a.postalCode;
    if (a.countryCode !== undefined && a.countryCode !== (current ? nested(current, 'country')?.code : undefined)) {
      const id = countries.get(a.countryCode);
      if (id === undefined) throw new SyncError('ValidationError', `country "${a.countryCode}" is not defined in Tryton`, { field: 'address.countryCode' });
      v.country = id;
    }
    return v;
  }

  /** Values to create, or to write (only what changed) when `current` is given. */
  function partyValues(f: Record<string, unknown>, current: Row | undefined, countries: Map<string, number>): Record<string, unknown> {
    const v: Record<string, unknown> = {};
    if (f.name !== undefined && f.name !== current?.name) v.name = f.name;
    if (f.active !== undefined && (!current || Boolean(f.active) !== bool(current.active))) v.active = Boolean(f.active);
    const mechs = current ? nestedList(current, 'contact_mechanisms') : [];
    const mechActions: unknown[] = [];
    const toCreate: Record<string, unknown>[] = [];
    for (const [field, type] of MECHANISMS) {
      const want = f[field];
      if (want === undefined || want === null) continue;
      const have = mechs.find((m) => m.type === type);
      if (!have) toCreate.push({ type, value: want });
      else if (have.value !== want) mechActions.push(['write', [have.id], { value: want }]);
    }
    if (toCreate.length) mechActions.push(['create', toCreate]);
    if (mechActions.length) v.contact_mechanisms = mechActions;
    const addr = f.address as Address | undefined;
    if (addr && typeof addr === 'object') {
      const have = current ? nestedList(current, 'addresses')[0] : undefined;
      const av = addressValues(addr, have, countries);
      if (Object.keys(av).length) v.addresses = have ? [['write', [have.id], av]] : [['create', [av]]];
    }
    return v;
  }

  return {
    description: { name: 'customers', canonical: 'Customer', canRead: true, canWrite: true, canDelete: true, incremental: true },

    ...keyedEntity({
      client, model: 'party.party', fields: FIELDS, context: ALL, labels: LABELS, toRecord, byKeys: byCodes,
      // Country ids for the whole batch in one search (cached by Lookups).
      prepare: (requests) => lookups.countryIds(requests.flatMap((r) => {
        const code = (r.fields.address as Address | null | undefined)?.countryCode;
        return typeof code === 'string' ? [code] : [];
      })),
      async plan(r, current, countries) {
        const values = partyValues(r.fields, current, countries);
        if (!current) return { create: { ...values, code: codeOf(r.externalKey) } };
        if (Object.keys(values).length === 0) return { unchanged: current.id };
        return { write: values, id: current.id, timestamp: str(current._timestamp) };
      },
    }),

    /** Parties are archived (active = false), never deleted: sales and invoices refer to them. */
    async delete(targetKeys) {
      const list = ids(targetKeys);
      if (list.length) await client.model('party.party', 'write', [list, { active: false }]);
    },
  };
}
