import { SyncError } from '../../contracts/errors';
import type { SourceRecord, WriteOutcome, WriteRequest } from '../types';
import { createMany, refusal, writeMany, type CreateItem, type LabelMap, type WriteItem } from './batch';
import type { EntityDeps, EntityHandler } from './entity';
import { inOrder, uniqueByKey } from './entity';
import { bool, ids, modifiedAt, plain, str, type Row } from './values';

/**
 * Contacts (people at a customer) ⇄ `party.contact_mechanism` records of the customer's party.
 *
 * Tryton 6.0 (without `party_relationship`) models the people of a company as named contact
 * mechanisms of its party: one mechanism per channel, each with the person's `name`. A contact
 * becomes up to two mechanisms, `email` and `phone`, on the party whose code is
 * `<customerCodePrefix><customerExternalKey>`.
 *
 * External key: the first line of the mechanism's `comment`, `[crm-contact:<key>]` (the job
 * title, if any, follows on the next line). Mechanisms have no code field; the comment is
 * visible in the party form and searchable. The target key is the lowest mechanism id.
 *
 * Tryton refuses to move a contact mechanism to another party ("You cannot change the party of
 * contact mechanism"), so a contact moved to another account in the CRM comes back as a
 * refusal on `customerExternalKey` and is quarantined for an operator, never silently copied.
 * A channel that disappears in the CRM (phone removed) is left in Tryton.
 */
const FIELDS = ['type', 'value', 'name', 'comment', 'party', 'party.code', 'active', '_timestamp', 'create_date', 'write_date'];
const CHANNELS = [['email', 'email'], ['phone', 'phone']] as const;
const LABELS: LabelMap = { Value: 'email', 'E-Mail': 'email', Name: 'lastName', Party: 'customerExternalKey' };
const ALL = { active_test: false };

const marker = (key: string): string => `[crm-contact:${key}]`;
function keyOfComment(comment: unknown): string | undefined {
  const first = str(comment)?.split('\n')[0];
  const m = first ? /^\[crm-contact:(.+)\]$/.exec(first) : null;
  return m?.[1];
}

/** The party of a mechanism cannot change in Tryton: name the canonical field that did. */
function withField(o: WriteOutcome): WriteOutcome {
  if (!o.ok && !o.error.field && /change the party of contact mechanism/i.test(o.error.message)) {
    return { ...o, error: { ...o.error, field: 'customerExternalKey' } };
  }
  return o;
}

export function createContacts(deps: EntityDeps): EntityHandler {
  const { client, customerCodePrefix: prefix } = deps;

  function toRecord(row: Row): SourceRecord {
    const data = {
      id: row.id, externalKey: keyOfComment(row.comment) ?? null, type: row.type, value: row.value, name: row.name ?? null,
      comment: row.comment ?? null, party: row.party, active: bool(row.active), create_date: row.create_date, write_date: row.write_date,
    };
    return { key: String(row.id), modifiedAt: modifiedAt(row).toISOString(), data: plain(data) as Record<string, unknown> };
  }

  /** Mechanisms carrying these contact keys, by key. */
  async function byKeys(keys: string[]): Promise<Map<string, Row[]>> {
    const out = new Map<string, Row[]>();
    if (keys.length === 0) return out;
    const clauses = keys.map((k) => ['comment', 'like', `${marker(k)}%`]);
    const domain = clauses.length === 1 ? clauses : [['OR', ...clauses]];
    const rows = await client.model<Row[]>('party.contact_mechanism', 'search_read', [domain, 0, null, [['id', 'ASC']], FIELDS], ALL);
    const wanted = new Set(keys);
    for (const r of rows) {
      const k = keyOfComment(r.comment); // `like` may over-match (`_`): keep exact keys only
      if (k === undefined || !wanted.has(k)) continue;
      out.set(k, [...(out.get(k) ?? []), r]);
    }
    return out;
  }

  async function partiesByCustomerKey(keys: string[]): Promise<Map<string, number>> {
    const codes = [...new Set(keys)].map((k) => prefix + k);
    if (codes.length === 0) return new Map();
    const rows = await client.model<Row[]>('party.party', 'search_read', [[['code', 'in', codes]], 0, null, null, ['code']], ALL);
    return new Map(rows.map((r) => [String(r.code).slice(prefix.length), r.id]));
  }

  return {
    description: { name: 'contacts', canonical: 'Contact', canRead: false, canWrite: true, canDelete: true, incremental: false },

    fetchChanges: () => {
      throw new SyncError('ConfigError', 'the Tryton connector writes contacts but does not read their changes (use customers)');
    },

    async read(keys) {
      const rows = await client.model<Row[]>('party.contact_mechanism', 'search_read', [[['id', 'in', ids(keys)]], 0, null, null, FIELDS], ALL);
      return rows.map(toRecord);
    },

    async findByExternalKeys(externalKeys) {
      const found = await byKeys(externalKeys);
      return new Map([...found].map(([k, rows]) => [k, String(rows[0]!.id)]));
    },

    async upsert(batch: WriteRequest[]): Promise<WriteOutcome[]> {
      const requests = uniqueByKey(batch);
      const parties = await partiesByCustomerKey(requests.map((r) => String(r.fields.customerExternalKey ?? '')));
      const existing = await byKeys(requests.map((r) => r.externalKey));
      const outcomes = new Map<string, WriteOutcome>();
      const creates: CreateItem[] = [];
      const writes: WriteItem[] = [];
      const parts = new Map<string, string[]>(); // contact key → item keys
      const item = (key: string, type: string): string => `${key}\u0000${type}`;

      for (const r of requests) {
        const f = r.fields;
        const party = parties.get(String(f.customerExternalKey ?? ''));
        if (party === undefined) {
          outcomes.set(r.externalKey, refusal(r.externalKey, new SyncError('NotFound', `customer "${String(f.customerExternalKey)}" is not in Tryton (sync customers first)`, { field: 'customerExternalKey' })));
          continue;
        }
        const name = [f.firstName, f.lastName].filter((s) => typeof s === 'string' && s !== '').join(' ');
        const comment = typeof f.jobTitle === 'string' && f.jobTitle !== '' ? `${marker(r.externalKey)}\n${f.jobTitle}` : marker(r.externalKey);
        const have = existing.get(r.externalKey) ?? [];
        const mine: string[] = [];
        for (const [field, type] of CHANNELS) {
          const value = f[field];
          if (typeof value !== 'string' || value === '') continue;
          const cur = have.find((m) => m.type === type);
          if (!cur) {
            creates.push({ externalKey: item(r.externalKey, type), values: { party, type, value, name, comment } });
          } else {
            const v: Record<string, unknown> = {};
            if (cur.value !== value) v.value = value;
            if ((cur.name ?? '') !== name) v.name = name;
            if ((cur.comment ?? '') !== comment) v.comment = comment;
            if (cur.party !== party) v.party = party; // Tryton refuses this: quarantined
            if (!bool(cur.active)) v.active = true;
            if (Object.keys(v).length === 0) continue;
            writes.push({ externalKey: item(r.externalKey, type), id: cur.id, values: v, timestamp: str(cur._timestamp) });
          }
          mine.push(item(r.externalKey, type));
        }
        if (mine.length === 0 && have.length === 0) {
          outcomes.set(r.externalKey, refusal(r.externalKey, new SyncError('ValidationError', 'a Tryton contact needs an email or a phone', { field: 'email' })));
          continue;
        }
        parts.set(r.externalKey, mine);
      }

      const done = new Map<string, WriteOutcome>();
      for (const [k, v] of await createMany(client, 'party.contact_mechanism', creates, LABELS)) done.set(k, v);
      for (const [k, v] of await writeMany(client, 'party.contact_mechanism', writes, LABELS)) done.set(k, v);
      for (const [key, items] of parts) {
        const results = items.map((i) => done.get(i)).filter((o): o is WriteOutcome => o !== undefined);
        const failed = results.find((o) => !o.ok);
        if (failed && !failed.ok) {
          outcomes.set(key, withField({ externalKey: key, ok: false, error: failed.error }));
          continue;
        }
        const idsNow = [...(existing.get(key) ?? []).map((m) => m.id), ...results.flatMap((o) => (o.ok ? [Number(o.targetKey)] : []))];
        const hadAny = (existing.get(key) ?? []).length > 0;
        outcomes.set(key, { externalKey: key, ok: true, targetKey: String(Math.min(...idsNow)), action: hadAny ? 'updated' : 'created' });
      }
      return inOrder(batch, outcomes);
    },

    /** Deactivates every mechanism of the contacts whose target key (a mechanism id) is given. */
    async delete(targetKeys) {
      const rows = await client.model<Row[]>('party.contact_mechanism', 'search_read', [[['id', 'in', ids(targetKeys)]], 0, null, null, ['comment']], ALL);
      const keys = rows.map((r) => keyOfComment(r.comment)).filter((k): k is string => k !== undefined);
      const all = [...(await byKeys(keys)).values()].flat().map((r) => r.id);
      if (all.length) await client.model('party.contact_mechanism', 'write', [all, { active: false }]);
    },
  };
}
