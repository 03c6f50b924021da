/**
 * Links: one business record across the sides of a pair (CRM account 42 ⇄ ERP customer 17),
 * independent of direction. Shared by the pure planner (mappings/two-way) and the state store.
 */

/** What a link remembers of one canonical field (a unit such as `name` or `address.city`). */
export interface LinkField {
  /** stableHash of the last synced canonical value (contracts/stable-json). */
  hash: string;
  /** The value itself; absent when only the hash is kept (e.g. migrated from a binding without fields). */
  value?: unknown;
  /** The side the value came from. */
  origin: string;
}

export interface Link {
  linkId: string;
  pair: string;
  /** Side name → that side's record key. */
  keys: Record<string, string>;
  /** Canonical field path → last synced value. A field not here has no baseline yet. */
  fields: Record<string, LinkField>;
  /** Sides whose record was soft-deleted (archived) at the last sync. */
  deletedSides: string[];
  /** Set when the business record is gone (hard delete, or deleted under the `delete` policy). */
  tombstone: { side: string; at: string } | null;
  /** Hash of the whole record from a migrated one-way binding (no per-field values). */
  recordHash?: string;
  updatedAt?: string;
}

/**
 * A link's version: its id and when it was last written (every upsert and tombstone sets
 * `updatedAt`). Equal versions mean the link has not been written since; what
 * `StateStore.findLinkVersions` answers for each key, without reading the link's fields.
 */
export const linkVersion = (l: Pick<Link, 'linkId' | 'updatedAt'>): string => `${l.linkId}@${l.updatedAt ?? ''}`;

/** A link's write ledger: side → canonical field path → stableHash of the value we last wrote there. */
export type LinkLedger = Record<string, Record<string, string>>;

/** One write ledger entry, recorded once the write is durable. */
export interface LedgerEntry {
  linkId: string;
  side: string;
  field: string;
  hash: string;
}
