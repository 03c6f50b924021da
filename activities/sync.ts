/**
 * # One-way sync on links (design note)
 *
 * A one-way pipeline is a link space in which the source owns every field the pipeline's mapping
 * fills and only the target side is written. Each page is planned record by record with the pure
 * two-way planner (`planOneWay` in mappings/two-way/one-way.ts calls `planRecord`) against the
 * record's link: no link → create; a link → only the units whose canonical value differs from the
 * link's last synced value are patched (`PlanOp.changed`); nothing changed → no-op, nothing
 * written. The target is not read: the link's values are the target's state as far as this
 * pipeline knows it (as the bindings' hash was before). After each written batch the links get
 * the values written; the `bindings` table is no longer read or written here (kept for the
 * upgrade: workers/migrate-links.ts turns it into links at worker start).
 *
 * **Which link space.** Each one-way pipeline has its own link space, named after the pipeline,
 * with sides `source` and `target` (pipelines/link-space.ts); it is never shared with a pair or
 * another pipeline. A pair and a pipeline over the same records still do not duplicate them,
 * because both address records by external key: the pair's first-link rule (`externalKey`)
 * links what a pipeline wrote instead of creating it, and a pipeline's upsert by external key
 * finds what a pair created (one write, then the pipeline's link exists). Sharing the pair's
 * space was tried and refused: the pair's links then steer the pipeline's writes (an opposite
 * pipeline, e.g. hubspot-companies-to-erp after erp-customers-to-hubspot, would update the
 * ERP's own customers instead of keeping HubSpot's records in HubSpot's key space, which
 * test/integration/hubspot-key-spaces pins), and a pipeline's writes would move a pair's
 * baselines behind its back. For one business record synced both ways, use a pair. A one-way
 * pipeline compares only the units its mapping fills, plans no deletes, and records no
 * write-ledger entries (its link is updated with what was written; nothing reads its target).
 *
 * **Upgrade without a re-sync.** A migrated binding with kept values becomes per-field link
 * values; one without becomes a link with the binding's whole-record hash, which `planOneWay`
 * accepts as "the target holds this" when the record hash is unchanged (the first run then
 * stores the per-field values it learned, and writes nothing to the target).
 */
import { activityInfo, heartbeat, log } from '@temporalio/activity';
import { applyLookback, type Cursor } from '../contracts/cursor';
import { SyncError } from '../contracts/errors';
import { TASK_QUEUES, workerQueue, type PipelineFamily } from '../contracts/queues';
import type { ConnectorPool, Registry } from '../pipelines/load';
import type { Pipeline } from '../pipelines/schema';
import { stableHash, stableJson } from '../contracts/stable-json';
import { readPath, setPath } from '../mappings/record-path';
import { oneWayPolicy, planOneWay } from '../mappings/two-way/one-way';
import type { PairPolicy } from '../mappings/two-way/policy';
import { linkSpaceOf, type LinkSpace } from '../pipelines/link-space';
import type { SourceRecord } from '../connectors/types';
import type { Link, LinkField, LinkUpsert, QuarantineEntry, StateStore } from '../state/types';
import { withAttempt } from './attempt';
import { linksDigest, planFingerprint } from './hash';
import { saveRunEnd } from './run-end';
import { changeSamples } from './observe';
import { HeldPages } from './held-pages';
import { WriteChains } from './write-chain';
import { PagePrefetch } from './prefetch';
import type { MappedOne } from './map-records';
import { fromColumnar, toColumnar, type ColumnarPage } from './page-codec';
import { addQuarantineItems } from './plan-items';
import { planRisks } from './plan-risk';
import { inlineMapper, type Mapper } from './map-pool';
import { quarantineCopy } from './poison';
import { stallBudgetMs, watchProgress } from './progress-watch';
import { turn } from './turn';
import type {
  BeginSyncResult,
  FetchPageResult,
  FetchQuarantinedResult,
  MappedRecord,
  MapPageResult,
  PageRef,
  PlanOp,
  PlanPage,
  PlanPageResult,
  PreparePageResult,
  WritePageResult,
} from './sync-types';

/** How often writePage heartbeats while a batch makes progress (heartbeat timeout 15 s, workflows/options.ts). */
const HEARTBEAT_EVERY_MS = 3000;
/** Prepared plans a worker keeps in memory (a sync holds up to six since `throughput-v3`: one written, one written ahead, two read ahead, two prepared in the background). */
const HELD_PAGES = 16;

/** A dry-run page: its plan and its place in it. */
interface DryPage {
  planId: string;
  seq: number;
}

export interface SyncDeps {
  registry: Registry;
  connectors: ConnectorPool;
  store: StateStore;
  /**
   * This worker process's id, naming its worker-specific task queues (contracts/queues.ts
   * `workerQueue`): a page prepared here is written here, from memory. Absent: no such queues
   * (plain loops, tests with one in-process worker), the write goes to the family's queue.
   */
  workerId?: string;
  /** Where pages are mapped: mapping threads (activities/map-pool.ts); default: the activity's own thread. */
  mapper?: Mapper;
}

/**
 * `fn`, heartbeating while it runs, so that a worker that dies during a fetch, map or plan is
 * noticed within the heartbeat timeout (workflows/options.ts) instead of the start-to-close timeout.
 */
function keptAlive<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args: A) => {
    // No heartbeat at the start: the heartbeat timeout already counts from the attempt's start,
    // and a page prepared within HEARTBEAT_EVERY_MS then costs the server no heartbeat at all.
    const alive = setInterval(() => heartbeat(), HEARTBEAT_EVERY_MS);
    try {
      return await fn(...args);
    } finally {
      clearInterval(alive);
    }
  };
}

/** The keys of the records a plan leaves unchanged (every valid one without an op), in page order. */
function unchangedOf(valid: MappedRecord[], ops: PlanOp[]): string[] {
  const written = new Set(ops.map((o) => o.index));
  return valid.filter((_, i) => !written.has(i)).map((v) => v.sourceKey);
}

/** What a plan sees of a record's link: none (null), else the hash of the record it last recorded. */
const stampOf = (link: Link | undefined): string | null => (link ? (link.recordHash ?? '') : null);

/** What an update's target last received, as far as its link keeps the values (for planRisks). */
function previousOf(link: Link | undefined): { previous?: Record<string, unknown> } {
  if (!link) return {};
  const previous: Record<string, unknown> = {};
  let any = false;
  for (const [path, f] of Object.entries(link.fields)) {
    if (f.value === undefined) continue;
    setPath(previous, path, f.value);
    any = true;
  }
  return any ? { previous } : {};
}

/** A record's units as link fields (a staged plan from before links kept them in the plan). */
function unitValues(space: LinkSpace, fields: Record<string, unknown>): Record<string, LinkField> {
  const out: Record<string, LinkField> = {};
  for (const u of space.units) {
    const v = readPath(fields, u);
    out[u] = space.valued?.includes(u) === false ? { hash: stableHash(v ?? null), origin: space.sourceSide } : { hash: stableHash(v ?? null), value: v ?? null, origin: space.sourceSide };
  }
  return out;
}

/** The link of one source record and the target record written for it. */
function linkUpsert(
  p: Pipeline,
  space: LinkSpace,
  linkId: string | undefined,
  sourceKey: string,
  targetKey: string,
  fields: Record<string, LinkField>,
  deletedSides: string[],
  recordHash: string,
): LinkUpsert {
  return {
    ...(linkId ? { linkId } : {}),
    keys: [
      { side: space.sourceSide, system: p.source.system, entity: p.source.entity, key: sourceKey },
      { side: space.targetSide, system: p.target.system, entity: p.target.entity, key: targetKey },
    ],
    fields,
    deletedSides,
    // The whole record as written: an unchanged record is recognised by it alone next time.
    recordHash,
  };
}

/**
 * The steps of one sync. Each is an activity; each reads its input page from the state store
 * (claim check) and stages its output there, so workflow history holds ids and counts only.
 */
export function createSyncActivities({ registry, connectors, store, workerId, mapper = inlineMapper }: SyncDeps) {
  /** Plans prepared by this worker and not yet written: the write reads them here, not from the store. */
  const held = new HeldPages<PlanPage>(HELD_PAGES);
  /** The next pages of a sync, prepared here in the background while the workflow takes this one. */
  const prefetch = new PagePrefetch<Omit<PreparePageResult, 'attempt'>>();
  /** Commits of the pages written here, in order: what a page written ahead waits for. */
  const chains = new WriteChains();

  const pipelineOf = (name: string): Pipeline => {
    const p = registry.pipelines.get(name);
    if (!p) {
      throw new SyncError('ConfigError', `unknown pipeline "${name}"; this worker knows ${[...registry.pipelines.keys()].join(', ')}`, {
        field: 'pipeline',
      });
    }
    return p;
  };

  /**
   * A pipeline runs only on its family's task queue: a worker serves the families it was given
   * credentials and connectors for, so a pipeline of another family started on its queue (e.g.
   * `tryton-customers` on crm-erp-sync.sql) is refused up front instead of failing later on a
   * missing secret. Queues outside the project's (tests) are not checked.
   */
  const checkQueue = (p: Pipeline): void => {
    let queue: string;
    try {
      queue = activityInfo().taskQueue;
    } catch {
      return; // called outside an activity (plain loops, benchmarks)
    }
    const expected = TASK_QUEUES[p.family as PipelineFamily];
    if (queue === expected || !(Object.values(TASK_QUEUES) as string[]).includes(queue)) return;
    throw new SyncError(
      'ConfigError',
      `pipeline "${p.name}" belongs to the ${p.family} family: start it on task queue ${expected} (served by a worker with WORKER_FAMILIES including ${p.family}), not ${queue}`,
      { field: 'pipeline' },
    );
  };

  const spaces = new Map<string, { space: LinkSpace; policy: PairPolicy }>();
  const compiled = (p: Pipeline) => {
    let c = spaces.get(p.name);
    if (!c) {
      const own = linkSpaceOf(p, registry);
      // Links keep the values of watched fields (approval limits compare with them), else hashes.
      const watched = p.approval?.watchFields ?? [];
      const space: LinkSpace = { ...own, valued: own.units.filter((u) => watched.some((w) => w === u || w.startsWith(`${u}.`) || u.startsWith(`${w}.`))) };
      spaces.set(p.name, (c = { space, policy: oneWayPolicy(space) }));
    }
    return c;
  };
  /** Where the pipeline's links live (pipelines/link-space.ts). */
  const spaceOf = (p: Pipeline): LinkSpace => compiled(p).space;
  const policyOf = (p: Pipeline): PairPolicy => compiled(p).policy;

  /** What every key of a pipeline's source carries into its target (systems.json `keyPrefix`). */
  const keyPrefixOf = (p: Pipeline): string => registry.systems.get(p.source.system)?.keyPrefix ?? '';

  /** Map and validate source records, on a mapping thread when the worker has them (activities/map-pool.ts). */
  const mapSource = (p: Pipeline, records: SourceRecord[]): Promise<MappedOne[]> =>
    mapper.map(
      registry.mappings.get(p.mapping)!,
      records.map((r) => r.data),
      { keyPrefix: keyPrefixOf(p), poison: true, hash: true },
    );

  /**
   * Map and validate records: invalid ones go to quarantine with their reasons, the rest go on.
   * In a dry run (`dry`) they go into the plan as quarantine items instead (activities/plan-items.ts).
   */
  const mapRecords = async (p: Pipeline, syncId: string, records: SourceRecord[], dry?: DryPage): Promise<{ valid: MappedRecord[]; quarantined: number }> => {
    const valid: MappedRecord[] = [];
    const bad: QuarantineEntry[] = [];
    const results = await mapSource(p, records);
    results.forEach((res, n) => {
      const r = records[n]!;
      if (res.ok) {
        valid.push({ sourceKey: r.key, fields: res.value, hash: res.hash! });
        return;
      }
      const first = res.issues[0]!;
      bad.push({
        pipeline: p.name,
        syncId,
        sourceKey: r.key,
        stage: 'map',
        field: first.field,
        rule: first.rule,
        // Poison (a huge field, damaged text) is never mapped: its quarantine copy leaves the oversized value out.
        reason: res.poisoned ? first.message : res.issues.map((i) => `${i.field}: ${i.message} (${i.rule})`).join('; '),
        record: res.poisoned ? quarantineCopy(r.data) : r.data,
      });
    });
    if (dry) await addQuarantineItems(store, dry.planId, dry.seq, bad);
    else await store.quarantine(bad);
    return { valid, quarantined: bad.length };
  };

  /**
   * Plan each mapped record against its link with the pure planner (mappings/two-way/one-way.ts):
   * create, update (only the changed units) or no-op. A migrated link that only vouches for the
   * whole record's hash learns its per-field values here when the record is unchanged. A dry run
   * (`dry`) only plans: no link refresh, no quarantine release, no run-report samples.
   */
  const planRecords = async (p: Pipeline, syncId: string, records: MappedRecord[], dry = false) => {
    const space = spaceOf(p);
    const links = await store.findLinks(space.space, space.sourceSide, records.map((r) => r.sourceKey));
    const policy = policyOf(p);
    const ops: PlanOp[] = [];
    let unchanged = 0;
    const unchangedKeys: string[] = [];
    const refreshed: LinkUpsert[] = [];
    const refreshedHash = new Map<string, string>();
    records.forEach((r, index) => {
      const link = links.get(r.sourceKey) ?? null;
      const plan = planOneWay(space, policy, { source: { key: r.sourceKey, fields: r.fields }, sourceHash: r.hash, link });
      if (plan.outcome === 'create' || plan.outcome === 'update') {
        const targetKey = plan.outcome === 'update' ? link!.keys[space.targetSide] : undefined;
        ops.push({
          index,
          sourceKey: r.sourceKey,
          hash: r.hash,
          op: plan.outcome,
          ...(targetKey !== undefined ? { targetKey } : {}),
          ...(plan.outcome === 'update' ? { changed: plan.changed } : {}),
          ...(link ? { linkId: link.linkId } : {}),
          ...(link?.deletedSides.length ? { deletedSides: link.deletedSides } : {}),
          linkFields: plan.fields,
          was: stampOf(link ?? undefined),
        });
        return;
      }
      unchanged++;
      unchangedKeys.push(r.sourceKey);
      if (plan.refresh && link) {
        refreshed.push(linkUpsert(p, space, link.linkId, r.sourceKey, link.keys[space.targetSide]!, plan.fields, link.deletedSides, r.hash));
        refreshedHash.set(r.sourceKey, r.hash);
      }
    });
    // The links of the records this plan leaves as they are (a refreshed one records the record's
    // hash): `throughput-v2` writes compare them, and each op's `was`, with the links at write time.
    const seenDigest = linksDigest(
      unchangedKeys,
      (k) => refreshedHash.get(k) ?? stampOf(links.get(k)),
    );
    if (!dry) {
      // The target already holds these records' values (the link vouched for them): remember them per field.
      await store.upsertLinks(space.space, refreshed);
      await store.releaseQuarantine(p.name, unchangedKeys);
      // Before/after samples for the run report, where the links keep the values (approval-watched fields).
      const previous = new Map(ops.map((w) => [w.sourceKey, previousOf(links.get(w.sourceKey)).previous] as const).filter(([, v]) => v !== undefined).map(([k, v]) => [k, { fields: v! }] as const));
      await store.addRunEvents(syncId, changeSamples(ops, records, previous));
    }
    const creates = ops.filter((w) => w.op === 'create').length;
    const approvalReasons = p.approval
      ? planRisks(
          ops.map((w) => ({
            sourceKey: w.sourceKey,
            op: w.op,
            fields: records[w.index]!.fields,
            ...previousOf(links.get(w.sourceKey)),
          })),
          p.approval,
        )
      : [];
    return { ops, creates, updates: ops.length - creates, unchanged, planHash: planFingerprint(ops), approvalReasons, seenDigest };
  };

  /** The fields of a plan staged before `throughput-v1` (it refers to the mapped page). */
  const mappedFields = async (mappedPageId: string, ops: PlanOp[]): Promise<(i: number) => Record<string, unknown>> => {
    const mapped = await store.loadPage<MappedRecord[]>(mappedPageId);
    return (i) => mapped[ops[i]!.index]!.fields;
  };

  /** writePage (below): the write and the commit, once the page it was written ahead of has committed (chains.run). */
  const writeOnePage = async (
    ref: PageRef & { planPageId: string; planHash?: string; commit?: { cursor: Cursor | null }; check?: boolean },
    chain: string,
  ): Promise<WritePageResult> => {
    const p = pipelineOf(ref.pipeline);
    const target = connectors.get(p.target.system);
    // From this worker's memory when it prepared the page, else from the claim check.
    const staged = held.get(ref.planPageId) ?? (await store.loadPage<PlanPage>(ref.planPageId));
    const { ops } = staged;
    if (ref.planHash !== undefined && planFingerprint(ops) !== ref.planHash) {
      throw new SyncError('Conflict', `staged plan ${ref.planPageId} no longer matches the approved plan ${ref.planHash}; nothing was written`);
    }
    const fieldsOf = staged.fields ? (i: number) => staged.fields![i]! : await mappedFields(staged.mappedPageId!, ops);
    const plan = ops.map((o, i) => ({ ...o, fields: fieldsOf(i) }));
    const space = spaceOf(p);
    const { maxBatchSize, requestTimeoutMs, partialUpdates } = target.describe();
    const partial = partialUpdates === true;
    const batchSize = Math.max(1, maxBatchSize);
    // The key the target knows the record by carries the source system's prefix, so two
    // sources writing into one entity never address the same record (links keep source keys).
    const keyPrefix = keyPrefixOf(p);
    type Progress = { next: number } & WritePageResult;
    const resumed = activityInfo().heartbeatDetails as Progress | undefined;
    // `throughput-v2`: the page was planned while earlier pages were still being written. If one
    // of them wrote a record of this page (it changed again during the sync), this plan compared
    // with a link that is gone: write nothing, commit nothing, the workflow prepares the page again.
    // (A retry that resumes after a written batch checked before its first batch.)
    if (ref.check && !resumed && staged.seen) {
      await turn();
      // The links' record hashes only (stampOf), not their fields: this runs once per page on the write path.
      const now = await store.findLinkStamps(space.space, space.sourceSide, [...staged.seen.keys, ...ops.map((o) => o.sourceKey)]);
      const stamp = (k: string): string | null => now.get(k) ?? null;
      // An op's link may also hold what this very plan wrote (a holder that died mid-page, a
      // retry after the commit): that is as planned, the write goes on (upserts are idempotent).
      const opsHold = ops.every((o) => {
        const s = stamp(o.sourceKey);
        return s === (o.was ?? s) || s === o.hash;
      });
      if (!opsHold || linksDigest(staged.seen.keys, stamp) !== staged.seen.digest) {
        log.info('writePage: a link of the page changed since it was planned; the page is prepared again', { pipeline: p.name, seq: ref.seq });
        return { created: 0, updated: 0, quarantined: 0, stale: true };
      }
    }
    const acc: Progress = resumed ?? { next: 0, created: 0, updated: 0, quarantined: 0 };
    if (resumed) log.info('writePage resuming', { pipeline: p.name, seq: ref.seq, from: resumed.next });
    const watch = { stallMs: stallBudgetMs(requestTimeoutMs), beatEveryMs: HEARTBEAT_EVERY_MS, beat: () => heartbeat({ ...acc }), what: `writing ${p.target.system}.${p.target.entity}` };
    for (let i = acc.next; i < plan.length; i += batchSize) {
      const batch = plan.slice(i, i + batchSize);
      // A slow target (one Tryton batch can take many seconds) must not look like a dead worker,
      // nor a hung request like a slow target: heartbeat the progress reached so far only while
      // the target's requests complete; a batch without progress past the request timeout fails.
      let outcomes: Awaited<ReturnType<typeof target.upsert>> = [];
      await watchProgress(watch, async () => {
        outcomes = await target.upsert(
          p.target.entity,
          batch.map((w) => ({
            externalKey: keyPrefix + w.sourceKey,
            ...(w.targetKey ? { targetKey: w.targetKey } : {}),
            fields: w.fields,
            // Only the changed fields, where the target can write part of a record.
            ...(partial && w.changed ? { changed: w.changed } : {}),
          })),
        );
      });
      const byKey = new Map(batch.map((w) => [keyPrefix + w.sourceKey, w]));
      const written: LinkUpsert[] = [];
      const writtenKeys: string[] = [];
      const failed: QuarantineEntry[] = [];
      for (const o of outcomes) {
        const w = byKey.get(o.externalKey)!;
        if (o.ok) {
          const fields = w.linkFields ?? unitValues(space, w.fields);
          written.push(linkUpsert(p, space, w.linkId, w.sourceKey, o.targetKey, fields, w.deletedSides ?? [], w.hash));
          writtenKeys.push(w.sourceKey);
          if (o.action === 'created') acc.created++;
          else acc.updated++;
        } else {
          failed.push({
            pipeline: p.name,
            syncId: ref.syncId,
            sourceKey: w.sourceKey,
            stage: 'write',
            field: o.error.field ?? null,
            rule: o.error.type,
            reason: o.error.message,
            record: w.fields,
          });
          acc.quarantined++;
        }
      }
      // The batch is durable in the target: its links now hold what was written there.
      await turn();
      await store.upsertLinks(space.space, written);
      await store.quarantine(failed);
      await store.releaseQuarantine(p.name, writtenKeys);
      acc.next = i + batch.length;
      // After the last batch the completion follows at once: a heartbeat there would only cost
      // the server a write per page (a retry that finds none redoes the last batch: upserts, links).
      if (acc.next < plan.length) heartbeat({ ...acc });
    }
    if (ref.commit) {
      await turn();
      // The page's writes are durable: its cursor moves, in the same activity (one round trip
      // less per page). A retry after this point writes nothing new (upserts, links) and commits
      // the same cursor again. The page before this one is done for good: drop its claim check.
      // (A late retry of a page whose successor, written ahead, has committed moves nothing back.)
      if (!chains.committedAfter(chain, ref.seq)) await store.setCheckpoint(p.name, ref.commit.cursor, ref.syncId);
      await store.dropPages(ref.syncId, `${ref.seq - 1}/`);
      held.delete(ref.planPageId);
    }
    return { created: acc.created, updated: acc.updated, quarantined: acc.quarantined };
  };

  /** A page's request to preparePage. */
  type PrepareRef = PageRef & { after: Cursor | null; limit: number; dryRunPlanId?: string; seen?: boolean };
  /** What makes two requests for the same page the same (activities/prefetch.ts). */
  const requestKey = (ref: PrepareRef): string => stableJson([ref.pipeline, ref.after ?? null, ref.limit]);
  /** preparePage (below): fetch, map and validate, plan and stage one page. */
  const prepareCore = async (ref: PrepareRef, onFetched?: (f: { hasMore: boolean; nextCursor: Cursor | null }) => void): Promise<Omit<PreparePageResult, 'attempt'>> => {
    const p = pipelineOf(ref.pipeline);
    const page = await connectors.get(p.source.system).fetchChanges(p.source.entity, { after: ref.after, limit: ref.limit });
    const fetched = { count: page.records.length, nextCursor: page.nextCursor, hasMore: page.hasMore };
    onFetched?.(fetched); // the background may fetch the next page while this one is mapped and planned
    if (page.records.length === 0) return { ...fetched, valid: 0, quarantined: 0, plan: null };
    const dry = ref.dryRunPlanId !== undefined ? { planId: ref.dryRunPlanId, seq: ref.seq } : undefined;
    const { valid, quarantined } = await mapRecords(p, ref.syncId, page.records, dry);
    if (valid.length === 0) return { ...fetched, valid: 0, quarantined, plan: null };
    await turn();
    const { ops, seenDigest, ...result } = await planRecords(p, ref.syncId, valid, dry !== undefined);
    await turn();
    // `seen` (throughput-v2, pages planned while earlier pages are still being written): even a
    // page with nothing to write is staged, with what it saw of its links, and goes through
    // writePage, which re-checks them before writing or committing anything.
    if (ops.length === 0 && !ref.seen) return { ...fetched, valid: valid.length, quarantined, plan: { planPageId: '', ...result } };
    const staged: PlanPage = {
      ops,
      fields: ops.map((o) => valid[o.index]!.fields),
      ...(ref.seen ? { seen: { keys: unchangedOf(valid, ops), digest: seenDigest } } : {}),
    };
    const planPageId = await store.stagePage(ref.syncId, `${ref.seq}/plan`, staged);
    held.put(planPageId, staged);
    return {
      ...fetched,
      valid: valid.length,
      quarantined,
      plan: { planPageId, ...result },
      ...(workerId ? { heldBy: workerQueue(p.family as PipelineFamily, workerId) } : {}),
    };
  };

  const steps = {
    /** `estimate: false` skips counting the source (a continued run keeps its first run's estimate). */
    async beginSync(input: {
      pipeline: string;
      mode?: 'incremental' | 'full';
      pageSize?: number;
      pagesPerRun?: number;
      estimate?: boolean;
    }): Promise<BeginSyncResult> {
      const p = pipelineOf(input.pipeline);
      checkQueue(p);
      const mode = input.mode ?? p.mode;
      const checkpoint = mode === 'full' ? null : await store.getCheckpoint(p.name);
      const startCursor = applyLookback(checkpoint, p.lookbackSeconds * 1000);
      const source = connectors.get(p.source.system);
      const estimatedTotal = source.countChanges && input.estimate !== false ? await source.countChanges(p.source.entity, startCursor) : null;
      return {
        pipeline: p.name,
        family: p.family,
        sourceEntity: `${p.source.system}.${p.source.entity}`,
        targetEntity: `${p.target.system}.${p.target.entity}`,
        mode,
        pageSize: input.pageSize ?? p.pageSize,
        pagesPerRun: input.pagesPerRun ?? p.pagesPerRun,
        startCursor,
        estimatedTotal,
        approvalPolicy: p.approval?.policy ?? null,
      };
    },

    async fetchPage(ref: PageRef & { after: Cursor | null; limit: number }): Promise<FetchPageResult> {
      const p = pipelineOf(ref.pipeline);
      const page = await connectors.get(p.source.system).fetchChanges(p.source.entity, { after: ref.after, limit: ref.limit });
      const pageId = await store.stagePage(ref.syncId, `${ref.seq}/raw`, toColumnar(page.records));
      return { pageId, count: page.records.length, nextCursor: page.nextCursor, hasMore: page.hasMore };
    },

    /**
     * Fetch, map, validate and plan one page in one activity (syncPipeline since `throughput-v1`).
     * Only the plan is staged (the claim check: the ops and the fields they write), once; the
     * plan also stays in this worker's memory, and `heldBy` names this worker's own task queue so
     * that the workflow routes the write here. A worker that dies with the page in memory costs a
     * schedule-to-start timeout, then another worker writes it from the claim check.
     * `dryRunPlanId` (a dry run, `dry-run-v2`): only the plan and the claim check are written.
     */
    async preparePage(ref: PrepareRef): Promise<PreparePageResult> {
      // Pages prepared in sequence (`seen`, no dry run): the page after this one is prepared here
      // in the background right away, so that its preparePage, when it comes to this worker, finds
      // it ready instead of starting only after a round trip through the server (activities/prefetch.ts).
      if (!ref.seen || ref.dryRunPlanId !== undefined) return prepareCore(ref);
      const early = prefetch.take(ref.syncId, ref.seq, requestKey(ref));
      const result = (early.page ? await early.page.catch(() => null) : null) ?? (await prepareCore(ref));
      if (early.ahead) {
        prefetch.runAhead(ref.syncId, ref.seq, result, (seq, after, onFetched) => prepareCore({ ...ref, seq, after }, onFetched), (seq, after) => requestKey({ ...ref, seq, after }));
      }
      return result;
    },

    /**
     * Replay: the next page of open quarantine entries (by key, after `afterKey`, filtered), their
     * source records re-read by key through the connector and staged like a fetched page. Keys the
     * source no longer has stay in quarantine and are counted as missing.
     */
    async fetchQuarantined(
      ref: PageRef & { afterKey: string; limit: number; keys?: string[]; rule?: string; field?: string },
    ): Promise<FetchQuarantinedResult> {
      const p = pipelineOf(ref.pipeline);
      const entries = await store.listQuarantine(p.name, ref.limit, {
        afterKey: ref.afterKey,
        ...(ref.keys ? { keys: ref.keys } : {}),
        ...(ref.rule ? { rule: ref.rule } : {}),
        ...(ref.field ? { field: ref.field } : {}),
      });
      const keys = entries.map((e) => e.sourceKey);
      const records = keys.length ? await connectors.get(p.source.system).read(p.source.entity, keys) : [];
      const found = new Set(records.map((r) => r.key));
      const pageId = await store.stagePage(ref.syncId, `${ref.seq}/raw`, toColumnar(records));
      return {
        pageId,
        count: records.length,
        nextCursor: null,
        hasMore: entries.length === ref.limit,
        selected: entries.length,
        missing: keys.filter((k) => !found.has(k)).length,
        lastKey: keys.at(-1) ?? null,
      };
    },

    /** Map and validate: invalid records go to quarantine with their reasons, the rest go on. */
    async mapPage(ref: PageRef & { pageId: string }): Promise<MapPageResult> {
      const p = pipelineOf(ref.pipeline);
      const valid = await mapRecords(p, ref.syncId, fromColumnar(await store.loadPage<ColumnarPage>(ref.pageId)));
      const mappedPageId = await store.stagePage(ref.syncId, `${ref.seq}/mapped`, valid.valid);
      return { mappedPageId, valid: valid.valid.length, quarantined: valid.quarantined };
    },

    /** Plan a staged mapped page (planRecords) and stage the plan. */
    async planPage(ref: PageRef & { mappedPageId: string }): Promise<PlanPageResult> {
      const p = pipelineOf(ref.pipeline);
      const records = await store.loadPage<MappedRecord[]>(ref.mappedPageId);
      const { ops, creates, updates, unchanged, planHash, approvalReasons } = await planRecords(p, ref.syncId, records);
      const page: PlanPage = { mappedPageId: ref.mappedPageId, ops };
      const planPageId = await store.stagePage(ref.syncId, `${ref.seq}/plan`, page);
      return { planPageId, creates, updates, unchanged, planHash, approvalReasons };
    },

    /**
     * Write the plan in batches, idempotently (upsert by external key), recording links after
     * each batch. Heartbeats the batch reached, so a retry resumes there instead of rewriting.
     */
    async writePage(
      ref: PageRef & { planPageId: string; planHash?: string; commit?: { cursor: Cursor | null }; check?: boolean; writeNo?: number; after?: { seq: number; writeNo: number } },
    ): Promise<WritePageResult> {
      const chain = `${ref.syncId}\u0000${ref.pipeline}`;
      return chains.run(chain, ref, () => writeOnePage(ref, chain), () => ({ created: 0, updated: 0, quarantined: 0, stale: true }));
    },
    /** Advance the checkpoint: only called after the page's writes are durable. */
    async commitCheckpoint(input: { pipeline: string; syncId: string; seq: number; cursor: Cursor | null }): Promise<void> {
      await store.setCheckpoint(input.pipeline, input.cursor, input.syncId);
      held.dropPrefix(`${input.syncId}/${input.seq}/`);
      // The page is written and its cursor committed: its claim checks are no longer needed.
      await store.dropPages(input.syncId, `${input.seq}/`);
    },

    /** Record the run report and drop the sync's staged pages. */
    async finishSync(input: {
      pipeline: string;
      syncId: string;
      status: string;
      startedAtMs: number;
      totals: Record<string, number>;
      /** The approval gate's decisions (who and when), for the run report. */
      approvals?: Record<string, unknown>[];
    }): Promise<{ droppedPages: number }> {
      await saveRunEnd(store, input);
      held.dropPrefix(`${input.syncId}/`);
      chains.drop(input.syncId);
      prefetch.drop(input.syncId);
      return { droppedPages: await store.dropPages(input.syncId) };
    },

    /** Drop pages already processed (called at continue-as-new). */
    async dropStagedPages(input: { syncId: string }): Promise<number> {
      held.dropPrefix(`${input.syncId}/`);
      chains.drop(input.syncId);
      prefetch.drop(input.syncId);
      return store.dropPages(input.syncId);
    },
  };
  return {
    ...steps,
    fetchPage: withAttempt(keptAlive(steps.fetchPage)),
    preparePage: withAttempt(keptAlive(steps.preparePage)),
    fetchQuarantined: keptAlive(steps.fetchQuarantined),
    mapPage: withAttempt(keptAlive(steps.mapPage)),
    planPage: withAttempt(keptAlive(steps.planPage)),
    writePage: withAttempt(steps.writePage),
  };
}

export type SyncActivities = ReturnType<typeof createSyncActivities>;
