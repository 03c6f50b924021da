import type { PoolClient, QueryResult, QueryResultRow } from 'pg';
import type { Link, LinkField, LinkLedger, LinkUpsert, StateStore } from './types';
import { linkVersion } from '../contracts/link';

export type Query = <R extends QueryResultRow = QueryResultRow>(sql: string, params?: unknown[]) => Promise<QueryResult<R>>;
export type Transaction = <T>(fn: (c: PoolClient) => Promise<T>) => Promise<T>;

type LinkMethods = Pick<StateStore, 'findLinks' | 'findLinkStamps' | 'findLinkVersions' | 'upsertLinks' | 'listLinks' | 'tombstoneLinks' | 'recordWrites' | 'getLedger'>;
type ReconMethods = Pick<StateStore, 'addReconRows' | 'listReconRows' | 'groupReconRows' | 'dropReconRows'>;

interface LinkRow {
  link_id: string;
  pair: string;
  fields: string;
  deleted_sides: string;
  record_hash: string | null;
  tombstone_side: string | null;
  deleted_at: string | null;
  updated_at: string;
}

const linkOf = (r: LinkRow): Link => ({
  linkId: r.link_id,
  pair: r.pair,
  keys: {},
  fields: JSON.parse(r.fields) as Record<string, LinkField>,
  deletedSides: JSON.parse(r.deleted_sides) as string[],
  tombstone: r.tombstone_side ? { side: r.tombstone_side, at: r.deleted_at ?? r.updated_at } : null,
  ...(r.record_hash ? { recordHash: r.record_hash } : {}),
  updatedAt: r.updated_at,
});

/**
 * Links and the write ledger on PostgreSQL, as in state/sqlite-links.ts: side keys in
 * `link_keys` (unique per pair, side and key; one per link and side). An upsert resolves every
 * link id in memory first, in input order, exactly as one statement after the other would (a
 * later item finds a link an earlier one created), then writes the whole batch in a few
 * set-based statements inside one transaction.
 */
export function createPgLinkStore(q: Query, tx: Transaction, now: () => string): LinkMethods & ReconMethods {
  const loadLinks = async (ids: string[], run: Query = q): Promise<Map<string, Link>> => {
    const out = new Map<string, Link>();
    if (ids.length === 0) return out;
    const unique = [...new Set(ids)];
    for (const r of (await run<LinkRow>('SELECT * FROM links WHERE link_id = ANY($1::text[])', [unique])).rows) out.set(r.link_id, linkOf(r));
    for (const k of (await run<{ link_id: string; side: string; key: string }>('SELECT link_id, side, key FROM link_keys WHERE link_id = ANY($1::text[])', [unique])).rows) {
      const l = out.get(k.link_id);
      if (l) l.keys[k.side] = k.key;
    }
    return out;
  };

  const upsert = (pair: string, items: LinkUpsert[]) =>
    tx(async (c) => {
      const t = now();
      const run: Query = (sql, params) => c.query(sql, params);
      // Serialise concurrent upserts of one pair (two workers linking the same record at once).
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`links:${pair}`]);
      const sides = items.flatMap((i) => i.keys.map((k) => k.side));
      const keys = items.flatMap((i) => i.keys.map((k) => k.key));
      // (side, key) → link id, and link id → side → key, as the table holds them now.
      const byKey = new Map<string, string>();
      const byLink = new Map<string, Map<string, string>>();
      const sk = (side: string, key: string) => `${side}\u0000${key}`;
      const setKey = (side: string, key: string, id: string) => {
        const prev = byKey.get(sk(side, key));
        if (prev !== undefined) byLink.get(prev)?.delete(side);
        const old = byLink.get(id)?.get(side);
        if (old !== undefined) byKey.delete(sk(side, old));
        byKey.set(sk(side, key), id);
        if (!byLink.has(id)) byLink.set(id, new Map());
        byLink.get(id)!.set(side, key);
      };
      if (keys.length) {
        const found = await c.query<{ side: string; key: string; link_id: string }>(
          'SELECT side, key, link_id FROM link_keys WHERE pair = $1 AND (side, key) IN (SELECT * FROM unnest($2::text[], $3::text[]))',
          [pair, sides, keys],
        );
        for (const r of found.rows) setKey(r.side, r.key, r.link_id);
      }
      const ids = items.map((item) => {
        const first = item.keys[0];
        if (!first) throw new Error(`a link of pair ${pair} needs at least one side key`);
        let id = item.linkId;
        for (const k of item.keys) {
          if (id) break;
          id = byKey.get(sk(k.side, k.key));
        }
        // A new link's id is derived from its first key, so a retried upsert finds the same link.
        id ??= `${pair}:${first.side}:${first.key}`;
        for (const k of item.keys) setKey(k.side, k.key, id);
        return id;
      });
      // Final link rows: the last item of each id wins (as the last UPDATE would).
      const last = new Map<string, LinkUpsert>();
      items.forEach((item, i) => {
        last.delete(ids[i]!);
        last.set(ids[i]!, item);
      });
      const linkIds = [...last.keys()];
      await run(
        `INSERT INTO links (link_id, pair, fields, deleted_sides, record_hash, updated_at)
         SELECT id, $1, f, d, h, $6 FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS u(id, f, d, h)
         ON CONFLICT (link_id) DO UPDATE SET fields = excluded.fields, deleted_sides = excluded.deleted_sides,
           record_hash = excluded.record_hash, updated_at = excluded.updated_at`,
        [
          pair,
          linkIds,
          linkIds.map((id) => JSON.stringify(last.get(id)!.fields)),
          linkIds.map((id) => JSON.stringify(last.get(id)!.deletedSides ?? [])),
          linkIds.map((id) => last.get(id)!.recordHash ?? null),
          t,
        ],
      );
      // Side keys: every (link, side) the batch touched ends as the in-memory map says.
      const touched = new Map<string, { id: string; side: string; system: string; entity: string }>();
      items.forEach((item, i) => item.keys.forEach((k) => touched.set(`${ids[i]}\u0000${k.side}`, { id: ids[i]!, side: k.side, system: k.system, entity: k.entity })));
      const cleared = [...touched.values()];
      // A key a later item took over leaves its earlier link without a key on that side.
      const finalKeys = cleared.flatMap((v) => {
        const key = byLink.get(v.id)?.get(v.side);
        return key === undefined ? [] : [{ ...v, key }];
      });
      await run('DELETE FROM link_keys WHERE (link_id, side) IN (SELECT * FROM unnest($1::text[], $2::text[]))', [cleared.map((k) => k.id), cleared.map((k) => k.side)]);
      await run('DELETE FROM link_keys WHERE pair = $1 AND (side, key) IN (SELECT * FROM unnest($2::text[], $3::text[]))', [pair, finalKeys.map((k) => k.side), finalKeys.map((k) => k.key)]);
      await run(
        `INSERT INTO link_keys (pair, side, key, link_id, system, entity)
         SELECT $1, s, k, id, sy, e FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) AS u(s, k, id, sy, e)`,
        [pair, finalKeys.map((k) => k.side), finalKeys.map((k) => k.key), finalKeys.map((k) => k.id), finalKeys.map((k) => k.system), finalKeys.map((k) => k.entity)],
      );
      return ids;
    });

  return {
    async findLinks(pair, side, keys) {
      const out = new Map<string, Link>();
      if (keys.length === 0) return out;
      const r = await q<{ key: string; link_id: string }>('SELECT key, link_id FROM link_keys WHERE pair = $1 AND side = $2 AND key = ANY($3::text[])', [pair, side, [...new Set(keys)]]);
      const links = await loadLinks(r.rows.map((row) => row.link_id));
      for (const row of r.rows) {
        const l = links.get(row.link_id);
        if (l) out.set(row.key, l);
      }
      return out;
    },
    async findLinkStamps(pair, side, keys) {
      const out = new Map<string, string>();
      if (keys.length === 0) return out;
      const r = await q<{ key: string; record_hash: string | null }>(
        'SELECT k.key, l.record_hash FROM link_keys k JOIN links l ON l.link_id = k.link_id WHERE k.pair = $1 AND k.side = $2 AND k.key = ANY($3::text[])',
        [pair, side, [...new Set(keys)]],
      );
      for (const row of r.rows) out.set(row.key, row.record_hash ?? '');
      return out;
    },
    async findLinkVersions(pair, side, keys) {
      const out = new Map<string, string>();
      if (keys.length === 0) return out;
      const r = await q<{ key: string; link_id: string; updated_at: string }>(
        'SELECT k.key, l.link_id, l.updated_at FROM link_keys k JOIN links l ON l.link_id = k.link_id WHERE k.pair = $1 AND k.side = $2 AND k.key = ANY($3::text[])',
        [pair, side, [...new Set(keys)]],
      );
      for (const row of r.rows) out.set(row.key, linkVersion({ linkId: row.link_id, updatedAt: row.updated_at }));
      return out;
    },
    async upsertLinks(pair, items) {
      return items.length ? upsert(pair, items) : [];
    },
    async listLinks(pair, options) {
      const r = await q<LinkRow>('SELECT * FROM links WHERE pair = $1 AND link_id > $2 ORDER BY link_id LIMIT $3', [pair, options?.afterLinkId ?? '', options?.limit ?? 1000]);
      const links = await loadLinks(r.rows.map((row) => row.link_id));
      return r.rows.map((row) => links.get(row.link_id)!);
    },
    async tombstoneLinks(pair, items) {
      if (items.length === 0) return 0;
      return tx(async (c) => {
        const t = now();
        let n = 0;
        for (const i of items) {
          n += (await c.query('UPDATE links SET tombstone_side = $1, deleted_at = $2, updated_at = $3 WHERE pair = $4 AND link_id = $5', [i.side, i.at, t, pair, i.linkId])).rowCount ?? 0;
        }
        return n;
      });
    },
    async recordWrites(entries) {
      const rows = [...new Map(entries.map((e) => [`${e.linkId}\u0000${e.side}\u0000${e.field}`, e])).values()];
      if (rows.length === 0) return;
      await q(
        `INSERT INTO write_ledger (link_id, side, field, hash, written_at)
         SELECT l, s, f, h, $5 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS u(l, s, f, h)
         ON CONFLICT (link_id, side, field) DO UPDATE SET hash = excluded.hash, written_at = excluded.written_at`,
        [rows.map((e) => e.linkId), rows.map((e) => e.side), rows.map((e) => e.field), rows.map((e) => e.hash), now()],
      );
    },
    async getLedger(linkIds) {
      const out = new Map<string, LinkLedger>();
      if (linkIds.length === 0) return out;
      const r = await q<{ link_id: string; side: string; field: string; hash: string }>(
        'SELECT link_id, side, field, hash FROM write_ledger WHERE link_id = ANY($1::text[])',
        [[...new Set(linkIds)]],
      );
      for (const row of r.rows) {
        const ledger = out.get(row.link_id) ?? {};
        (ledger[row.side] ??= {})[row.field] = row.hash;
        out.set(row.link_id, ledger);
      }
      return out;
    },

    // Reconciliation scratch rows (see state/sqlite-recon.ts): added once per run, kind, side, key and value.
    async addReconRows(reconId, rows) {
      if (rows.length === 0) return;
      await q(
        `INSERT INTO recon_rows (recon_id, kind, side, key, value, payload)
         SELECT $1, k, s, key, v, p FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY AS u(k, s, key, v, p, n)
         ORDER BY n
         ON CONFLICT (recon_id, kind, side, key, value) DO NOTHING`,
        [
          reconId,
          rows.map((r) => r.kind),
          rows.map((r) => r.side),
          rows.map((r) => r.key),
          rows.map((r) => r.value ?? ''),
          rows.map((r) => (r.payload === undefined ? null : JSON.stringify(r.payload))),
        ],
      );
    },
    async listReconRows(reconId, kind, options) {
      const r = await q<{ seq: string; kind: string; side: string; key: string; value: string; payload: string | null }>(
        'SELECT seq, kind, side, key, value, payload FROM recon_rows WHERE recon_id = $1 AND kind = $2 AND seq > $3 ORDER BY seq LIMIT $4',
        [reconId, kind, options?.afterSeq ?? 0, options?.limit ?? 1000],
      );
      return r.rows.map((row) => ({
        seq: Number(row.seq),
        kind: row.kind,
        side: row.side,
        key: row.key,
        value: row.value === '' ? null : row.value,
        ...(row.payload !== null ? { payload: JSON.parse(row.payload) as unknown } : {}),
      }));
    },
    async groupReconRows(reconId, kind, limit = 10_000) {
      const r = await q<{ side: string; value: string; keys: string[] }>(
        `SELECT side, value, array_agg(key ORDER BY seq) AS keys FROM recon_rows WHERE recon_id = $1 AND kind = $2 AND value <> ''
         GROUP BY side, value HAVING count(*) > 1 ORDER BY side, min(key) LIMIT $3`,
        [reconId, kind, limit],
      );
      return r.rows.map((row) => ({ side: row.side, value: row.value, keys: row.keys }));
    },
    async dropReconRows(reconId) {
      return (await q('DELETE FROM recon_rows WHERE recon_id = $1', [reconId])).rowCount ?? 0;
    },
  };
}
