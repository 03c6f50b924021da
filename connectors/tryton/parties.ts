import { SyncError } from '../../contracts/errors';
import type { NativeInsert, NativePatch, SourceRecord, WriteOutcome } from '../types';
import { createMany, isRecordRefusal, refusal, writeMany, type CreateItem, type LabelMap, type WriteItem } from './batch';
import type { EntityDeps, EntityHandler } from './entity';
import { fetchIncremental } from './incremental';
import { bool, ids, modifiedAt, nested, nestedList, plain, str, type Row } from './values';

/**
 * Parties (`party.party`) as flat native records, for a side of a two-way pair: read by id,
 * written field by field (`insertNative` / `patchNative`). The one-way `customers` entity
 * covers the same model with its own planner; both keep the external key in the party `code`.
 *
 * Native fields (what a mapping's `write` section names, and what `SourceRecord.data` holds):
 * `external_key`, `name`, `active`, `email`, `phone`, `website` (the party's own first active
 * contact mechanism of that type; mechanisms of contact persons, marked `[crm-contact:…]`, are
 * not the party's), `street`, `city`, `postal_code`, `country` (ISO code; first active
 * address), `vat` (the party identifier of type `eu_vat`, checked by Tryton). Read-only:
 * `id`, `code`, `create_date`, `write_date`.
 *
 * External key: a party whose code is `<customerCodePrefix><key>` (default `CRM-`, as the
 * customers entity writes it) has the key `<key>`; any other party (made in Tryton, its code
 * from the party sequence) has `TRY-<id>`: the id never changes, and the prefix keeps Tryton's
 * own parties apart from HubSpot's `HS-` keys and from CRM ids. A created party with an
 * `external_key` gets the code `<customerCodePrefix><external_key>`.
 *
 * Soft deletes are the `active` field (archived parties are read too: every search runs with
 * `active_test: false`); a pair side names it with `"softDelete": {"field": "active", "equals": false}`.
 */
const FIELDS = [
  'name', 'code', 'active', 'create_date', 'write_date',
  'addresses.street', 'addresses.city', 'addresses.postal_code', 'addresses.country.code', 'addresses.active',
  'contact_mechanisms.type', 'contact_mechanisms.value', 'contact_mechanisms.active', 'contact_mechanisms.comment',
  'identifiers.type', 'identifiers.code',
];
const ALL = { active_test: false };
/** The prefix of the external key of a party made in Tryton (its id follows). */
export const TRYTON_PARTY_KEY_PREFIX = 'TRY-';
const VAT_TYPE = 'eu_vat';
const MECHANISMS = ['email', 'phone', 'website'] as const;
const ADDRESS = ['street', 'city', 'postal_code', 'country'] as const;
/** Every native field a write may name. */
export const PARTY_NATIVE_FIELDS = ['external_key', 'name', 'active', ...MECHANISMS, ...ADDRESS, 'vat'] as const;
const WRITABLE = new Set<string>(PARTY_NATIVE_FIELDS);
const LABELS: LabelMap = { Name: 'name', Code: 'external_key', code: 'external_key', Value: 'email', Street: 'street', City: 'city', 'Postal Code': 'postal_code', Country: 'country' };

/** The party's own mechanisms (active, not a contact person's), by type, lowest id first. */
function ownMechanisms(row: Row): Row[] {
  return nestedList(row, 'contact_mechanisms').filter((m) => m.active !== false && m.active !== 0 && !/^\[crm-contact:/.test(str(m.comment) ?? ''));
}
const firstAddress = (row: Row): Row | undefined => nestedList(row, 'addresses').find((a) => a.active !== false && a.active !== 0);
const vatIdentifier = (row: Row): Row | undefined => nestedList(row, 'identifiers').find((i) => i.type === VAT_TYPE);

/** A Tryton refusal of a VAT number names no field: name it. */
function withVatField(o: WriteOutcome): WriteOutcome {
  if (!o.ok && !o.error.field && /VAT Number|identifier/i.test(o.error.message)) return { ...o, error: { ...o.error, field: 'vat' } };
  return o;
}

/** Items split so that no key repeats within one group (later repeats see the earlier writes), each at most `max` long. */
function distinctGroups<T>(items: T[], keyOf: (item: T, index: number) => string, max: number): { item: T; index: number }[][] {
  const groups: { item: T; index: number }[][] = [];
  const seen: Set<string>[] = [];
  items.forEach((item, index) => {
    const k = keyOf(item, index);
    let g = 0;
    while (g < groups.length && (seen[g]!.has(k) || groups[g]!.length >= max)) g++;
    if (g === groups.length) {
      groups.push([]);
      seen.push(new Set());
    }
    groups[g]!.push({ item, index });
    seen[g]!.add(k);
  });
  return groups;
}

export interface PartiesHandler extends EntityHandler {
  insertNative(rows: NativeInsert[]): Promise<WriteOutcome[]>;
  patchNative(patches: NativePatch[]): Promise<WriteOutcome[]>;
}

export function createParties(deps: EntityDeps & { maxBatchSize: number; customers: EntityHandler }): PartiesHandler {
  const { client, lookups, customerCodePrefix: prefix, maxBatchSize } = deps;
  const externalKeyOf = (row: Row): string => {
    const code = str(row.code);
    return code !== undefined && code.startsWith(prefix) ? code.slice(prefix.length) : `${TRYTON_PARTY_KEY_PREFIX}${row.id}`;
  };

  function toRecord(row: Row): SourceRecord {
    const mech = ownMechanisms(row);
    const first = (type: string) => str(mech.find((m) => m.type === type)?.value) ?? null;
    const addr = firstAddress(row);
    const data = {
      id: row.id, code: row.code ?? null, external_key: externalKeyOf(row), name: row.name, active: bool(row.active),
      email: first('email'), phone: first('phone'), website: first('website'),
      street: addr?.street ?? null, city: addr?.city ?? null, postal_code: addr?.postal_code ?? null, country: (addr && nested(addr, 'country')?.code) ?? null,
      vat: str(vatIdentifier(row)?.code) ?? null,
      create_date: row.create_date, write_date: row.write_date,
    };
    return { key: String(row.id), modifiedAt: modifiedAt(row).toISOString(), data: plain(data) as Record<string, unknown> };
  }

  const search = (domain: unknown[]) => client.model<Row[]>('party.party', 'search_read', [domain, 0, null, [['id', 'ASC']], FIELDS], ALL);

  function checkFields(values: Record<string, unknown>): void {
    const unknown = Object.keys(values).filter((f) => !WRITABLE.has(f));
    if (unknown.length) {
      throw new SyncError('ConfigError', `Tryton parties have no writable field ${unknown.map((f) => `"${f}"`).join(', ')}; a mapping's write section may name ${PARTY_NATIVE_FIELDS.join(', ')}`);
    }
  }

  const countryCodes = (values: Record<string, unknown>[]) => values.flatMap((v) => (typeof v.country === 'string' ? [v.country] : []));
  function countryId(code: unknown, countries: Map<string, number>): number | null {
    if (code === null || code === undefined) return null;
    const id = countries.get(String(code));
    if (id === undefined) throw new SyncError('ValidationError', `country "${String(code)}" is not defined in Tryton`, { field: 'country' });
    return id;
  }
  const present = (v: Record<string, unknown>, f: string) => Object.prototype.hasOwnProperty.call(v, f);
  const given = (v: unknown) => v !== null && v !== undefined;

  /** Party values that create a new party from native values (null values are left unset). */
  function createValues(v: Record<string, unknown>, countries: Map<string, number>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    if (given(v.name)) out.name = v.name;
    if (given(v.external_key)) out.code = `${prefix}${String(v.external_key)}`;
    if (given(v.active)) out.active = Boolean(v.active);
    const mechs = MECHANISMS.filter((m) => given(v[m])).map((type) => ({ type, value: String(v[type]) }));
    if (mechs.length) out.contact_mechanisms = [['create', mechs]];
    if (ADDRESS.some((f) => given(v[f]))) {
      const a: Record<string, unknown> = {};
      for (const f of ADDRESS) if (given(v[f])) a[f] = f === 'country' ? countryId(v[f], countries) : v[f];
      out.addresses = [['create', [a]]];
    }
    if (given(v.vat)) out.identifiers = [['create', [{ type: VAT_TYPE, code: String(v.vat) }]]];
    return out;
  }

  /** Party write values that change only what `v` names and what differs from `current`; null clears. */
  function patchValues(current: Row, v: Record<string, unknown>, countries: Map<string, number>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    if (given(v.external_key) && externalKeyOf(current) !== String(v.external_key)) {
      out.code = `${prefix}${String(v.external_key)}`;
    }
    if (present(v, 'name') && v.name !== current.name) out.name = v.name;
    if (given(v.active) && Boolean(v.active) !== bool(current.active)) out.active = Boolean(v.active);
    const mechActions: unknown[] = [];
    const mechCreates: Record<string, unknown>[] = [];
    const own = ownMechanisms(current);
    for (const type of MECHANISMS) {
      if (!present(v, type)) continue;
      const have = own.find((m) => m.type === type);
      const want = given(v[type]) ? String(v[type]) : null;
      if (want === null) {
        // Deactivated, not deleted, as the contacts entity does with a removed channel.
        if (have) mechActions.push(['write', [have.id], { active: false }]);
      } else if (!have) mechCreates.push({ type, value: want });
      else if (have.value !== want) mechActions.push(['write', [have.id], { value: want }]);
    }
    if (mechCreates.length) mechActions.push(['create', mechCreates]);
    if (mechActions.length) out.contact_mechanisms = mechActions;
    if (ADDRESS.some((f) => present(v, f))) {
      const have = firstAddress(current);
      const a: Record<string, unknown> = {};
      for (const f of ADDRESS) {
        if (!present(v, f)) continue;
        const want = f === 'country' ? countryId(v[f], countries) : given(v[f]) ? v[f] : null;
        const now = f === 'country' ? ((have && nested(have, 'country')?.id) ?? null) : (have?.[f] ?? null);
        if (want !== now) a[f] = want;
      }
      if (Object.keys(a).length) out.addresses = have ? [['write', [have.id], a]] : [['create', [a]]];
    }
    if (present(v, 'vat')) {
      const have = vatIdentifier(current);
      const want = given(v.vat) ? String(v.vat) : null;
      if (want === null) {
        if (have) out.identifiers = [['delete', [have.id]]];
      } else if (!have) out.identifiers = [['create', [{ type: VAT_TYPE, code: want }]]];
      else if (have.code !== want) out.identifiers = [['write', [have.id], { code: want }]];
    }
    return out;
  }

  /** Parties by external key (codes with the prefix, or `TRY-<id>` for Tryton's own). */
  async function byExternalKeys(keys: string[]): Promise<Map<string, Row>> {
    const wanted = [...new Set(keys)];
    if (wanted.length === 0) return new Map();
    const native = ids(wanted.filter((k) => k.startsWith(TRYTON_PARTY_KEY_PREFIX)).map((k) => k.slice(TRYTON_PARTY_KEY_PREFIX.length)));
    const byCode: unknown[] = [['code', 'in', wanted.map((k) => `${prefix}${k}`)]];
    const rows = await search(native.length ? [['OR', ...byCode, ['id', 'in', native]]] : byCode);
    const want = new Set(wanted);
    const out = new Map<string, Row>();
    for (const r of rows) {
      const k = externalKeyOf(r);
      if (want.has(k) && !out.has(k)) out.set(k, r);
    }
    return out;
  }

  async function insertGroup(group: { item: NativeInsert; index: number }[]): Promise<Map<number, WriteOutcome>> {
    const out = new Map<number, WriteOutcome>();
    const keyOf = (v: Record<string, unknown>) => (given(v.external_key) ? String(v.external_key) : null);
    // A retried insert finds the party its first attempt made (by its code) and writes it again instead.
    const existing = await byExternalKeys(group.flatMap(({ item }) => (keyOf(item.values) === null ? [] : [keyOf(item.values)!])));
    const countries = await lookups.countryIds(countryCodes(group.map(({ item }) => item.values)));
    const creates: CreateItem[] = [];
    const writes: WriteItem[] = [];
    for (const { item, index } of group) {
      const tag = String(index);
      try {
        const current = keyOf(item.values) === null ? undefined : existing.get(keyOf(item.values)!);
        if (current) writes.push({ externalKey: tag, id: current.id, values: patchValues(current, item.values, countries) });
        else creates.push({ externalKey: tag, values: createValues(item.values, countries) });
      } catch (err) {
        if (!isRecordRefusal(err)) throw err;
        out.set(index, refusal(item.ref, err, LABELS));
      }
    }
    const made = await createMany(client, 'party.party', creates, LABELS);
    const rewritten = await writeMany(client, 'party.party', writes.filter((w) => Object.keys(w.values).length > 0), LABELS);
    for (const w of writes) if (!rewritten.has(w.externalKey)) rewritten.set(w.externalKey, { externalKey: w.externalKey, ok: true, targetKey: String(w.id), action: 'updated' });
    for (const [tag, o] of [...made, ...rewritten]) {
      const ref = group.find((g) => String(g.index) === tag)!.item.ref;
      out.set(Number(tag), withVatField(o.ok ? { ...o, externalKey: ref, action: 'created' } : { ...o, externalKey: ref }));
    }
    return out;
  }

  async function patchGroup(group: { item: NativePatch; index: number }[]): Promise<Map<number, WriteOutcome>> {
    const out = new Map<number, WriteOutcome>();
    const rows = new Map((await search([['id', 'in', ids(group.map(({ item }) => item.key))]])).map((r) => [String(r.id), r]));
    const countries = await lookups.countryIds(countryCodes(group.map(({ item }) => item.values)));
    const writes: WriteItem[] = [];
    for (const { item, index } of group) {
      const current = rows.get(item.key);
      if (!current) {
        out.set(index, { externalKey: item.key, ok: false, error: { type: 'NotFound', message: `Tryton has no party with id "${item.key}"` } });
        continue;
      }
      try {
        const values = patchValues(current, item.values, countries);
        if (Object.keys(values).length === 0) out.set(index, { externalKey: item.key, ok: true, targetKey: item.key, action: 'updated' });
        else writes.push({ externalKey: String(index), id: current.id, values });
      } catch (err) {
        if (!isRecordRefusal(err)) throw err;
        out.set(index, refusal(item.key, err, LABELS));
      }
    }
    for (const [tag, o] of await writeMany(client, 'party.party', writes, LABELS)) {
      const key = group.find((g) => String(g.index) === tag)!.item.key;
      out.set(Number(tag), withVatField({ ...o, externalKey: key }));
    }
    return out;
  }

  return {
    description: { name: 'parties', canonical: 'Customer', canRead: true, canWrite: true, canDelete: true, incremental: true },

    fetchChanges: (request) => fetchIncremental(client, { model: 'party.party', fields: FIELDS, context: ALL, toRecord }, request),

    /** Parties by id, archived ones included; keys that are not party ids are simply absent. */
    async read(keys) {
      const list = ids(keys);
      return list.length ? (await search([['id', 'in', list]])).map(toRecord) : [];
    },

    async findByExternalKeys(externalKeys) {
      return new Map([...(await byExternalKeys(externalKeys))].map(([k, r]) => [k, String(r.id)]));
    },

    /** Canonical upserts go through the customers entity (same parties, same codes). */
    upsert: (batch) => deps.customers.upsert(batch),

    /** Parties are archived (active = false), never deleted: sales and invoices refer to them. */
    async delete(targetKeys) {
      const list = ids(targetKeys);
      if (list.length) await client.model('party.party', 'write', [list, { active: false }], ALL);
    },

    async insertNative(rows) {
      rows.forEach((r) => checkFields(r.values));
      const outcomes = new Array<WriteOutcome>(rows.length);
      const groups = distinctGroups(rows, (r, i) => (given(r.values.external_key) ? `k:${String(r.values.external_key)}` : `i:${i}`), maxBatchSize);
      for (const g of groups) for (const [i, o] of await insertGroup(g)) outcomes[i] = o;
      return outcomes.map((o, i) => o ?? { externalKey: rows[i]!.ref, ok: false, error: { type: 'Transient', message: 'the party was not processed' } });
    },

    async patchNative(patches) {
      patches.forEach((p) => checkFields(p.values));
      const outcomes = new Array<WriteOutcome>(patches.length);
      for (const g of distinctGroups(patches, (p) => p.key, maxBatchSize)) for (const [i, o] of await patchGroup(g)) outcomes[i] = o;
      return outcomes.map((o, i) => o ?? { externalKey: patches[i]!.key, ok: false, error: { type: 'Transient', message: 'the party was not processed' } });
    },
  };
}
