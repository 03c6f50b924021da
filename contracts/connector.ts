/**
 * The connector seam: what every external system client offers (Connector) and the small
 * capability interfaces a two-way pair side adds (NativeWriter). Pure types and guards.
 */
import type { Cursor } from './cursor';
import type { ErrorType } from './errors';

/**
 * The connector contract. A connector is a plain client of one external system: it knows that
 * system's transport, paging, batch limits and error shapes, and translates its errors into
 * `SyncError`s of the shared vocabulary (contracts/errors.ts). It never imports @temporalio/*.
 */

/** One record read from a source, as the source spells it (mapped later by mappings/). */
export interface SourceRecord {
  /** The source system's key of the record (stringified). */
  key: string;
  /** ISO-8601 UTC timestamp of the last change, used for the incremental cursor. */
  modifiedAt: string;
  /** Raw fields, keyed by the source's field names. */
  data: Record<string, unknown>;
  /**
   * Soft-deleted (archived) by the system's own account, e.g. a HubSpot record read with
   * `archived=true`. Absent for live records; systems whose deletes are a column leave it out.
   */
  deleted?: boolean;
}

export interface FetchRequest {
  /** Read records strictly after this position; null = from the beginning. */
  after: Cursor | null;
  /** Maximum number of records to return. */
  limit: number;
  /**
   * Also return records soft-deleted (archived) after `after`, flagged `deleted: true`, in the
   * same (modifiedAt, key) order. Connectors whose soft deletes are an ordinary field ignore it.
   */
  includeDeleted?: boolean;
}

export interface FetchResult {
  /** Records ordered by (modifiedAt, key). */
  records: SourceRecord[];
  /** The cursor after the last record returned (unchanged `after` when no records). */
  nextCursor: Cursor | null;
  /** True when more records may follow `nextCursor`. */
  hasMore: boolean;
}

/** One record to write, already mapped to the target's canonical shape. */
export interface WriteRequest {
  /** The source key, stored in the target as its external key (idempotency). */
  externalKey: string;
  /** The target key if a binding already exists, so connectors can write by id. */
  targetKey?: string;
  /** Canonical fields (mappings/canonical.ts), not target columns. */
  fields: Record<string, unknown>;
  /**
   * Canonical paths (field units) that changed since the last write, for a record that exists.
   * A connector whose description says `partialUpdates` writes only the native fields of these
   * when it updates (and every field when it has to create the record); absent: write them all.
   */
  changed?: string[];
}

export type WriteOutcome =
  | { externalKey: string; ok: true; targetKey: string; action: 'created' | 'updated' }
  | {
      externalKey: string;
      ok: false;
      error: { type: ErrorType; message: string; field?: string };
    };

export interface EntityDescription {
  name: string;
  /** Canonical entity written or read (Customer, Contact, Product, …). */
  canonical?: string;
  canRead: boolean;
  canWrite: boolean;
  canDelete: boolean;
  incremental: boolean;
}

export interface ConnectorDescription {
  system: string;
  kind: string;
  entities: EntityDescription[];
  /** Largest batch `upsert` accepts in one call. */
  maxBatchSize: number;
  /** Requests per second the system tolerates, if it publishes a limit. */
  rateLimitPerSecond?: number;
  /**
   * The longest one request to the system may take before the connector gives up on it
   * (a `Transient` failure). Callers use it as the budget of "no progress" while a call runs.
   */
  requestTimeoutMs?: number;
  /** `upsert` honours `WriteRequest.changed`: an update writes only the changed fields. */
  partialUpdates?: boolean;
}

export interface Connector {
  describe(): ConnectorDescription;
  /** One page of changes after a cursor, ordered by (modifiedAt, key). */
  fetchChanges(entity: string, request: FetchRequest): Promise<FetchResult>;
  /** How many records `fetchChanges` would return after `after` in total, if cheap to know. */
  countChanges?(entity: string, after: Cursor | null): Promise<number>;
  /** Read records by source key (missing keys are simply absent). */
  read(entity: string, keys: string[]): Promise<SourceRecord[]>;
  /**
   * Create or update by external key; one outcome per request, in order. A record the target
   * refuses yields `ok: false` (quarantined by the caller); a failure of the whole call throws.
   */
  upsert(entity: string, batch: WriteRequest[]): Promise<WriteOutcome[]>;
  /** Look up target keys by external key (used to settle a crash between write and binding). */
  findByExternalKeys(entity: string, externalKeys: string[]): Promise<Map<string, string>>;
  /** Delete (or archive/deactivate) by target key. */
  delete(entity: string, targetKeys: string[]): Promise<void>;
  close(): Promise<void>;
}

/** A native record to create: `ref` names it in the outcome (e.g. the link it belongs to). */
export interface NativeInsert {
  ref: string;
  values: Record<string, unknown>;
}

/** Only these native fields of the record with this key change (a partial update). */
export interface NativePatch {
  key: string;
  values: Record<string, unknown>;
}

/**
 * Capability of a side of a two-way pair: write native field values (a mapping's `write`
 * output) by the record's own key. One outcome per request, in order; `externalKey` in an
 * outcome is the request's `ref` (insert) or `key` (patch); a record that no longer exists is
 * `ok: false` with `NotFound`.
 */
export interface NativeWriter {
  insertNative(entity: string, rows: NativeInsert[]): Promise<WriteOutcome[]>;
  patchNative(entity: string, patches: NativePatch[]): Promise<WriteOutcome[]>;
}

export function isNativeWriter(c: Connector): c is Connector & NativeWriter {
  return typeof (c as Partial<NativeWriter>).insertNative === 'function' && typeof (c as Partial<NativeWriter>).patchNative === 'function';
}

/**
 * Capability: read the records of an entity whose `field` holds one of `values` (children of a
 * parent record, e.g. Salesforce OpportunityLineItems by OpportunityId). Live records only,
 * ordered by key; `field` must be one the entity reads.
 */
export interface RelatedReader {
  readRelated(entity: string, field: string, values: string[]): Promise<SourceRecord[]>;
}

export function isRelatedReader(c: Connector): c is Connector & RelatedReader {
  return typeof (c as Partial<RelatedReader>).readRelated === 'function';
}

/**
 * Capability of a target whose records are not columns of a SQL table: the native field values
 * `upsert` writes for these canonical fields (e.g. HubSpot properties; a field left undefined is
 * left out). A dry run reads the target's records by key (`read`) and compares these fields, so
 * its plan shows the target's values before and after, field by field.
 */
export interface WriteView {
  nativeValuesOf(entity: string, fields: Record<string, unknown>): Record<string, unknown>;
}

export function hasWriteView(c: Connector): c is Connector & WriteView {
  return typeof (c as Partial<WriteView>).nativeValuesOf === 'function';
}
