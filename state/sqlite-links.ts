import type Database from 'better-sqlite3';
import type { Link, LinkField, LinkLedger, StateStore } from './types';
import { linkVersion } from '../contracts/link';

/** Most keys bound into one `IN (…)` list. */
const IN_CHUNK = 500;

type LinkMethods = Pick<StateStore, 'findLinks' | 'findLinkStamps' | 'findLinkVersions' | 'upsertLinks' | 'listLinks' | 'tombstoneLinks' | 'recordWrites' | 'getLedger'>;

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

/**
 * Links and the write ledger in the embedded SQLite store. A link's side keys live in
 * `link_keys` (one row per side, unique per pair, side and key, and indexed by system, entity
 * and key), so a link can later span more than two systems.
 */
export function createLinkStore(db: Database.Database, now: () => string): LinkMethods {
  const keysIn = (n: number) => db.prepare(`SELECT key, link_id FROM link_keys WHERE pair = ? AND side = ? AND key IN (${Array(n).fill('?').join(',')})`);
  const linksIn = (n: number) => db.prepare(`SELECT * FROM links WHERE link_id IN (${Array(n).fill('?').join(',')})`);
  const keysOfIn = (n: number) => db.prepare(`SELECT link_id, side, key FROM link_keys WHERE link_id IN (${Array(n).fill('?').join(',')})`);
  const stampsIn = (n: number) =>
    db.prepare(`SELECT k.key, l.record_hash FROM link_keys k JOIN links l ON l.link_id = k.link_id WHERE k.pair = ? AND k.side = ? AND k.key IN (${Array(n).fill('?').join(',')})`);
  const versionsIn = (n: number) =>
    db.prepare(`SELECT k.key, l.link_id, l.updated_at FROM link_keys k JOIN links l ON l.link_id = k.link_id WHERE k.pair = ? AND k.side = ? AND k.key IN (${Array(n).fill('?').join(',')})`);
  const ledgerIn = (n: number) => db.prepare(`SELECT link_id, side, field, hash FROM write_ledger WHERE link_id IN (${Array(n).fill('?').join(',')})`);
  const statements = new Map<string, Database.Statement>();
  const cached = (kind: string, n: number, make: (n: number) => Database.Statement) => {
    let st = statements.get(`${kind}:${n}`);
    if (!st) statements.set(`${kind}:${n}`, (st = make(n)));
    return st;
  };
  const findKey = db.prepare('SELECT link_id FROM link_keys WHERE pair = ? AND side = ? AND key = ?');
  const putLink = db.prepare(
    `INSERT INTO links (link_id, pair, fields, deleted_sides, record_hash, updated_at) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (link_id) DO UPDATE SET fields = excluded.fields, deleted_sides = excluded.deleted_sides,
       record_hash = excluded.record_hash, updated_at = excluded.updated_at`,
  );
  const dropSideKey = db.prepare('DELETE FROM link_keys WHERE link_id = ? AND side = ?');
  const sideKey = db.prepare('SELECT key, system, entity FROM link_keys WHERE link_id = ? AND side = ?');
  const putKey = db.prepare(
    `INSERT INTO link_keys (pair, side, key, link_id, system, entity) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (pair, side, key) DO UPDATE SET link_id = excluded.link_id, system = excluded.system, entity = excluded.entity`,
  );
  const tombstone = db.prepare('UPDATE links SET tombstone_side = ?, deleted_at = ?, updated_at = ? WHERE pair = ? AND link_id = ?');
  const putWrite = db.prepare(
    `INSERT INTO write_ledger (link_id, side, field, hash, written_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (link_id, side, field) DO UPDATE SET hash = excluded.hash, written_at = excluded.written_at`,
  );
  const listPage = db.prepare('SELECT * FROM links WHERE pair = ? AND link_id > ? ORDER BY link_id LIMIT ?');

  const chunks = <T>(xs: T[]): T[][] => {
    const out: T[][] = [];
    for (let i = 0; i < xs.length; i += IN_CHUNK) out.push(xs.slice(i, i + IN_CHUNK));
    return out;
  };

  /** Full links (with every side key) for these ids. */
  const loadLinks = (ids: string[]): Map<string, Link> => {
    const out = new Map<string, Link>();
    for (const chunk of chunks([...new Set(ids)])) {
      for (const r of cached('links', chunk.length, linksIn).all(...chunk) as LinkRow[]) {
        out.set(r.link_id, {
          linkId: r.link_id,
          pair: r.pair,
          keys: {},
          fields: JSON.parse(r.fields) as Record<string, LinkField>,
          deletedSides: JSON.parse(r.deleted_sides) as string[],
          tombstone: r.tombstone_side ? { side: r.tombstone_side, at: r.deleted_at ?? r.updated_at } : null,
          ...(r.record_hash ? { recordHash: r.record_hash } : {}),
          updatedAt: r.updated_at,
        });
      }
      for (const k of cached('keysOf', chunk.length, keysOfIn).all(...chunk) as { link_id: string; side: string; key: string }[]) {
        const l = out.get(k.link_id);
        if (l) l.keys[k.side] = k.key;
      }
    }
    return out;
  };

  const upsert = db.transaction((pair: string, items: Parameters<LinkMethods['upsertLinks']>[1]): string[] => {
    const t = now();
    return items.map((item) => {
      const first = item.keys[0];
      if (!first) throw new Error(`a link of pair ${pair} needs at least one side key`);
      let id = item.linkId;
      for (const k of item.keys) {
        if (id) break;
        id = (findKey.get(pair, k.side, k.key) as { link_id: string } | undefined)?.link_id;
      }
      // A new link's id is derived from its first key, so a retried upsert finds the same link.
      id ??= `${pair}:${first.side}:${first.key}`;
      putLink.run(id, pair, JSON.stringify(item.fields), JSON.stringify(item.deletedSides ?? []), item.recordHash ?? null, t);
      for (const k of item.keys) {
        // Most upserts update a link whose keys stay as they are: leave those rows alone.
        const cur = sideKey.get(id, k.side) as { key: string; system: string; entity: string } | undefined;
        if (cur && cur.key === k.key && cur.system === k.system && cur.entity === k.entity) continue;
        dropSideKey.run(id, k.side);
        putKey.run(pair, k.side, k.key, id, k.system, k.entity);
      }
      return id;
    });
  });
  const tombstoneMany = db.transaction((pair: string, items: { linkId: string; side: string; at: string }[]) => {
    const t = now();
    let n = 0;
    for (const i of items) n += tombstone.run(i.side, i.at, t, pair, i.linkId).changes;
    return n;
  });
  const writeMany = db.transaction((entries: Parameters<LinkMethods['recordWrites']>[0]) => {
    const t = now();
    for (const e of entries) putWrite.run(e.linkId, e.side, e.field, e.hash, t);
  });

  return {
    async findLinks(pair, side, keys) {
      const idByKey = new Map<string, string>();
      for (const chunk of chunks([...new Set(keys)])) {
        for (const r of cached('keys', chunk.length, keysIn).all(pair, side, ...chunk) as { key: string; link_id: string }[]) idByKey.set(r.key, r.link_id);
      }
      const links = loadLinks([...idByKey.values()]);
      const out = new Map<string, Link>();
      for (const [k, id] of idByKey) {
        const l = links.get(id);
        if (l) out.set(k, l);
      }
      return out;
    },
    async findLinkStamps(pair, side, keys) {
      const out = new Map<string, string>();
      for (const chunk of chunks([...new Set(keys)])) {
        for (const r of cached('stamps', chunk.length, stampsIn).all(pair, side, ...chunk) as { key: string; record_hash: string | null }[]) out.set(r.key, r.record_hash ?? '');
      }
      return out;
    },
    async findLinkVersions(pair, side, keys) {
      const out = new Map<string, string>();
      for (const chunk of chunks([...new Set(keys)])) {
        for (const r of cached('versions', chunk.length, versionsIn).all(pair, side, ...chunk) as { key: string; link_id: string; updated_at: string }[]) {
          out.set(r.key, linkVersion({ linkId: r.link_id, updatedAt: r.updated_at }));
        }
      }
      return out;
    },
    async upsertLinks(pair, items) {
      return items.length ? upsert(pair, items) : [];
    },
    async listLinks(pair, options) {
      const rows = listPage.all(pair, options?.afterLinkId ?? '', options?.limit ?? 1000) as LinkRow[];
      const links = loadLinks(rows.map((r) => r.link_id));
      return rows.map((r) => links.get(r.link_id)!);
    },
    async tombstoneLinks(pair, items) {
      return items.length ? tombstoneMany(pair, items) : 0;
    },
    async recordWrites(entries) {
      if (entries.length) writeMany(entries);
    },
    async getLedger(linkIds) {
      const out = new Map<string, LinkLedger>();
      for (const chunk of chunks([...new Set(linkIds)])) {
        for (const r of cached('ledger', chunk.length, ledgerIn).all(...chunk) as { link_id: string; side: string; field: string; hash: string }[]) {
          const ledger = out.get(r.link_id) ?? {};
          (ledger[r.side] ??= {})[r.field] = r.hash;
          out.set(r.link_id, ledger);
        }
      }
      return out;
    },
  };
}
