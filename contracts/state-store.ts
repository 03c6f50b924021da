import type { Cursor } from './cursor';
import type { LedgerEntry, Link, LinkField, LinkLedger } from './link';

export type { LedgerEntry, Link, LinkField, LinkLedger };

/** One side of a link: which record of which system. */
export interface LinkKey {
  side: string;
  system: string;
  entity: string;
  key: string;
}

/** A link to create or update (after the writes it describes are durable). */
export interface LinkUpsert {
  /** Omit for a new link: the store finds it by any of its side keys, or creates it. */
  linkId?: string;
  keys: LinkKey[];
  fields: Record<string, LinkField>;
  /** @default [] */
  deletedSides?: string[];
  /** Hash of the whole record, for links migrated from bindings without field values. */
  recordHash?: string;
}

export interface Binding {
  /** Target system's key of the record written for this source key. */
  targetKey: string;
  /** Hash of the canonical record last written: equal hash = nothing to write. */
  hash: string;
  /** The canonical record last written, kept only for pipelines that watch field changes. */
  fields?: Record<string, unknown>;
}

export interface QuarantineEntry {
  pipeline: string;
  syncId: string;
  sourceKey: string;
  /** `map` (mapping or validation refused it) or `write` (the target refused it). */
  stage: 'map' | 'write';
  field: string | null;
  rule: string;
  reason: string;
  /** The raw source record, so it can be fixed and replayed. */
  record: unknown;
}

export interface QuarantineRow extends QuarantineEntry {
  firstSeenAt: string;
  lastSeenAt: string;
  attempts: number;
}

/** A row a reconciliation collects while it reads both sides (drift items, natural keys, records to repair). */
export interface ReconRow {
  /** What the row is, e.g. `drift:field`, `natural`, `unlinked`, `repair:crm`. */
  kind: string;
  side: string;
  key: string;
  /** A value rows are grouped by (a natural key), or null. */
  value?: string | null;
  payload?: unknown;
}

/** Which open quarantine entries to list (all given conditions hold). */
export interface QuarantineFilter {
  rule?: string;
  field?: string;
  /** Only these source keys. */
  keys?: string[];
  /** Only keys after this one, in key order (paging through a replay); without it, newest first. */
  afterKey?: string;
}

export interface RunReport {
  pipeline: string;
  syncId: string;
  status: string;
  startedAt: string;
  finishedAt: string;
  totals: Record<string, number>;
}

/**
 * What a sync did, step by step, for its run report (`crm-erp-sync report`): kept in the state
 * store beside the report, never in workflow history. `change` samples hold field values (maybe
 * personal data): they stay on the operator's side like the quarantine's raw records.
 */
export interface RunEvent {
  /**
   * `page`: one step of one page (`step`, `seq`, `side?`, `startedAt`, `ms`, `count?`);
   * `change`: before/after of an update's fields (`sourceKey`, `op`, `fields: {field, before, after}[]`);
   * `retry`: an activity attempt after the first (`step`, `attempt`, `system?`);
   * `approval`: a decision at an approval gate (as the workflow recorded it);
   * `conflict`: a field both sides changed (`keys`, `field`, `values`, `resolution`).
   */
  kind: 'page' | 'change' | 'retry' | 'approval' | 'conflict';
  at: string;
  data: Record<string, unknown>;
}

/**
 * A dry run's stored plan (`mode: "dry-run"`; applied by the `applyPlan` workflow). The header:
 * what was planned, its hash once sealed, its counts; `meta` holds the rest (the checkpoint the
 * plan started from, the cursor it ended on, approval reasons, the apply's result).
 */
export interface StoredPlan {
  planId: string;
  /** `pipeline` (a one-way syncPipeline dry run) or `pair`. */
  kind: 'pipeline' | 'pair';
  /** The pipeline's or pair's name. */
  name: string;
  /** The dry run's sync id. */
  syncId: string;
  /** `planning` → `ready` (sealed, hash known) → `applying` → `applied`. */
  status: 'planning' | 'ready' | 'applying' | 'applied';
  planHash: string | null;
  counts: Record<string, number>;
  meta: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

/** One planned operation of a stored plan, in plan order (`seq`). */
export interface PlanItem {
  seq: number;
  /** The source key of the record. */
  key: string;
  /** `quarantine`: a record the dry run's mapping or validation refused (quarantined when applied). */
  op: 'create' | 'update' | 'delete' | 'conflict' | 'quarantine';
  /** Field-level before/after, the target's "before" hash, the record to write (activities/plan-store.ts). */
  data: Record<string, unknown>;
}

/**
 * Everything a sync remembers between activities and runs. SQLite is the embedded default
 * (one worker host); PostgreSQL implements the same interface for several workers.
 */
export interface StateStore {
  getCheckpoint(pipeline: string): Promise<Cursor | null>;
  setCheckpoint(pipeline: string, cursor: Cursor | null, syncId: string): Promise<void>;

  /** Claim check: store a page's payload, get a small id to pass through workflow history. */
  stagePage(syncId: string, name: string, payload: unknown): Promise<string>;
  loadPage<T>(pageId: string): Promise<T>;
  /** Drop a sync's staged pages, or only those whose name starts with `prefix` (e.g. `12/`). */
  dropPages(syncId: string, prefix?: string): Promise<number>;

  getBindings(pipeline: string, sourceKeys: string[]): Promise<Map<string, Binding>>;
  putBindings(pipeline: string, items: (Binding & { sourceKey: string })[]): Promise<void>;
  /** Every binding of a pipeline (migrations and reports; not used on the sync path). */
  listBindings(pipeline: string): Promise<(Binding & { sourceKey: string })[]>;
  deleteBindings(pipeline: string, sourceKeys: string[]): Promise<void>;
  /** Forget what was written to these target records, so the next read of their source rewrites them. */
  invalidateBindings(pipeline: string, targetKeys: string[]): Promise<number>;

  /** Links of a pair by one side's record keys (side key → link); tombstoned links included. */
  findLinks(pair: string, side: string, keys: string[]): Promise<Map<string, Link>>;
  /**
   * What `findLinks` finds, as each link's record hash only ('' for a link without one): a cheap
   * check that links have not moved since a plan read them (writePage), without their fields.
   */
  findLinkStamps(pair: string, side: string, keys: string[]): Promise<Map<string, string>>;
  /**
   * What `findLinks` finds, as each link's `linkVersion` (contracts/link) only: a cheap check that
   * no write touched these links since a plan read them (writePairPage), without their fields.
   */
  findLinkVersions(pair: string, side: string, keys: string[]): Promise<Map<string, string>>;
  /** Create or update links with their synced values; returns the link ids in input order. */
  upsertLinks(pair: string, links: LinkUpsert[]): Promise<string[]>;
  /** A pair's links in link id order, a page at a time (reconciliation, reports, migrations). */
  listLinks(pair: string, options?: { afterLinkId?: string; limit?: number }): Promise<Link[]>;
  /** Mark business records as gone (the link stays, so a later read of the other side is not re-created). */
  tombstoneLinks(pair: string, items: { linkId: string; side: string; at: string }[]): Promise<number>;
  /** Remember what was written where (latest per link, side and field), once the writes are durable. */
  recordWrites(entries: LedgerEntry[]): Promise<void>;
  /** The write ledger of these links (link id → side → field → value hash). */
  getLedger(linkIds: string[]): Promise<Map<string, LinkLedger>>;

  /** Small named values the store keeps for migrations (e.g. which key prefix a pipeline wrote with). */
  getMeta(key: string): Promise<string | null>;
  setMeta(key: string, value: string): Promise<void>;
  /**
   * Run `fn` while holding the store-wide lock `name`, exclusive across every process on this
   * state (worker-start migrations: bindings → links, key prefixes). SQLite: a BEGIN IMMEDIATE
   * transaction on the store's connection, so `fn` must be the only user of this store object
   * while it runs (worker start), and every name shares SQLite's one write lock; PostgreSQL: a
   * session advisory lock per name. Waits for another holder.
   */
  withLock<T>(name: string, fn: () => Promise<T>): Promise<T>;

  /** Add or refresh quarantine entries (one open entry per pipeline and source key). */
  quarantine(entries: QuarantineEntry[]): Promise<void>;
  /** Close open entries of records that have now synced. */
  releaseQuarantine(pipeline: string, sourceKeys: string[]): Promise<void>;
  listQuarantine(pipeline: string, limit?: number, filter?: QuarantineFilter): Promise<QuarantineRow[]>;
  /**
   * Close open entries a person has looked at and let go, with why. A dismissed entry stays
   * closed while its source record is the same; a changed record that fails again reopens it.
   * Returns how many entries were closed.
   */
  dismissQuarantine(pipeline: string, sourceKeys: string[], reason: string, by: string): Promise<number>;

  /** Reconciliation scratch rows of one run (`reconId`), filled page by page. */
  addReconRows(reconId: string, rows: ReconRow[]): Promise<void>;
  /** Rows of one kind in insertion order, a page at a time after `afterSeq`. */
  listReconRows(reconId: string, kind: string, options?: { afterSeq?: number; limit?: number }): Promise<(ReconRow & { seq: number })[]>;
  /** Rows of one kind that share side and value with another row (e.g. natural-key duplicates), grouped; at most `limit` groups. */
  groupReconRows(reconId: string, kind: string, limit?: number): Promise<{ side: string; value: string; keys: string[] }[]>;
  dropReconRows(reconId: string): Promise<number>;

  saveRunReport(report: RunReport): Promise<void>;
  listRunReports(pipeline: string, limit?: number): Promise<RunReport[]>;
  /** One sync's report by its sync id, or by its workflow id (the newest sync of that id). */
  getRunReport(syncIdOrWorkflowId: string): Promise<RunReport | null>;
  /** Append step timings, change samples, retries, approvals, conflicts of a sync (see RunEvent). */
  addRunEvents(syncId: string, events: RunEvent[]): Promise<void>;
  /** A sync's run events in the order they were added. */
  listRunEvents(syncId: string): Promise<RunEvent[]>;

  /** Create or replace a plan's header (createdAt is kept from the first save). */
  savePlan(plan: Omit<StoredPlan, 'createdAt' | 'updatedAt'>): Promise<void>;
  getPlan(planId: string): Promise<StoredPlan | null>;
  /** Add a plan's items; an item with a seq already stored replaces it (a retried page adds nothing twice). */
  addPlanItems(planId: string, items: PlanItem[]): Promise<void>;
  /** A plan's items in seq order, a page at a time after `afterSeq`. */
  listPlanItems(planId: string, options?: { afterSeq?: number; limit?: number }): Promise<PlanItem[]>;

  /**
   * Drop run events whose `at` is before `before` (ISO-8601), of every sync; returns how many.
   * The stores call it themselves with their retention (state/retention.ts) at open and hourly.
   */
  pruneRunEvents(before: string): Promise<number>;
  close(): Promise<void>;
}
