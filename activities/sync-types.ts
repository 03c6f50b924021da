import type { ApprovalPolicy } from '../contracts/approval';
import type { Cursor } from '../contracts/cursor';
import type { LinkField } from '../contracts/link';

/** Arguments and results of the sync activities: ids, counts and cursors only (claim checks). */

/** The attempt that produced a result, when it was a retry (absent on a first attempt). */
export interface Attempted {
  attempt?: number;
}
export interface PageRef {
  pipeline: string;
  syncId: string;
  /** Page number within the whole sync (across continue-as-new). */
  seq: number;
}

export interface BeginSyncResult {
  pipeline: string;
  family: string;
  sourceEntity: string;
  targetEntity: string;
  mode: 'incremental' | 'full';
  pageSize: number;
  pagesPerRun: number;
  /** Where this run reads from: the checkpoint minus lookback, or null for a full read. */
  startCursor: Cursor | null;
  /** Records the source says are waiting, when it can count them cheaply. */
  estimatedTotal: number | null;
  /** Who decides when a page's plan crosses the pipeline's approval limits (null: no gate). */
  approvalPolicy: ApprovalPolicy | null;
}

export interface FetchPageResult extends Attempted {
  pageId: string;
  count: number;
  nextCursor: Cursor | null;
  hasMore: boolean;
}

export interface MapPageResult extends Attempted {
  mappedPageId: string;
  valid: number;
  quarantined: number;
}

export interface PlanPageResult extends Attempted {
  planPageId: string;
  creates: number;
  updates: number;
  unchanged: number;
  /** Content hash of the staged plan: what an approver approves and writePage verifies. */
  planHash: string;
  /** Why this plan needs approval (empty: it does not, or the pipeline has no approval policy). */
  approvalReasons: string[];
}

export interface WritePageResult extends Attempted {
  created: number;
  updated: number;
  quarantined: number;
  /**
   * `throughput-v2`: nothing was written, because a record of the page had its link changed
   * after the page was planned (an earlier page in flight wrote it): the page must be prepared again.
   */
  stale?: true;
}

export interface MappedRecord {
  sourceKey: string;
  fields: Record<string, unknown>;
  hash: string;
}

export interface PlanOp {
  /** Index of the record in the mapped page. */
  index: number;
  sourceKey: string;
  hash: string;
  op: 'create' | 'update';
  targetKey?: string;
  /** Canonical units that changed (an update): what a target that takes partial updates writes. */
  changed?: string[];
  /** The record's link, when it has one. */
  linkId?: string;
  /** The link's soft-deleted sides, kept as they are (a one-way pipeline plans no deletes). */
  deletedSides?: string[];
  /** The link's fields once this write is durable. */
  linkFields?: Record<string, LinkField>;
  /** The link as the plan saw it: none (null), else the hash of the record it recorded ('' none). */
  was?: string | null;
}

/**
 * A staged plan. Before `throughput-v1` it refers to the mapped page (`mappedPageId`, ops by
 * `index`); a plan prepared by preparePage carries the fields it writes, `fields[i]` for `ops[i]`.
 */
export interface PlanPage {
  mappedPageId?: string;
  ops: PlanOp[];
  fields?: Record<string, unknown>[];
  /**
   * `throughput-v2`: the keys of the valid records the plan leaves unchanged and a digest of their
   * links as the plan saw them (ops carry theirs in `was`), so that the write can tell whether an
   * earlier page written meanwhile changed one of them.
   */
  seen?: { keys: string[]; digest: string };
}

/** preparePage: a page fetched, mapped, validated and planned in one step. */
export interface PreparePageResult extends Attempted {
  count: number;
  nextCursor: Cursor | null;
  hasMore: boolean;
  valid: number;
  quarantined: number;
  /** Null when nothing on the page was valid (or the page was empty). planPageId '' when nothing is to be written. */
  plan: Omit<PlanPageResult, 'attempt'> | null;
  /** The task queue of the worker that holds the plan in memory (absent: none; write on the family's queue). */
  heldBy?: string;
}

/** A page of quarantined records re-read by key (replay). */
export interface FetchQuarantinedResult extends FetchPageResult {
  /** Open entries selected for this page. */
  selected: number;
  /** Selected keys the source no longer has. */
  missing: number;
  /** The last selected key: the next page starts after it. */
  lastKey: string | null;
}
