import { activityInfo, heartbeat, log } from '@temporalio/activity';
import { applyLookback, type Cursor } from '../contracts/cursor';
import { SyncError } from '../contracts/errors';
import { TASK_QUEUES, type PipelineFamily } from '../contracts/queues';
import type { ConnectorPool, Registry } from '../pipelines/load';
import type { Pipeline } from '../pipelines/schema';
import type { Binding, QuarantineEntry, StateStore } from '../state/types';
import { planFingerprint, recordHash } from './hash';
import { changeSamples } from './observe';
import { fromColumnar, toColumnar, type ColumnarPage } from './page-codec';
import { planRisks } from './plan-risk';
import { stallBudgetMs, watchProgress } from './progress-watch';
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
  WritePageResult,
} from './sync-types';

/** How often writePage heartbeats while a batch makes progress (heartbeat timeout 15 s, workflows/options.ts). */
const HEARTBEAT_EVERY_MS = 3000;

export interface SyncDeps {
  registry: Registry;
  connectors: ConnectorPool;
  store: StateStore;
}

/**
 * `fn`, heartbeating while it runs, so that a worker that dies during a fetch, map or plan is
 * noticed within the heartbeat timeout (workflows/options.ts) instead of the start-to-close timeout.
 */
function keptAlive<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args: A) => {
    heartbeat();
    const alive = setInterval(() => heartbeat(), HEARTBEAT_EVERY_MS);
    try {
      return await fn(...args);
    } finally {
      clearInterval(alive);
    }
  };
}

/** What an update's target last received, when its pipeline keeps it (for planRisks). */
const previousOf = (b: Binding | undefined): { previous?: Record<string, unknown> } => (b?.fields ? { previous: b.fields } : {});

/**
 * The steps of one sync. Each is an activity; each reads its input page from the state store
 * (claim check) and stages its output there, so workflow history holds ids and counts only.
 */
export function createSyncActivities({ registry, connectors, store }: SyncDeps) {
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

  /** What every key of a pipeline's source carries into its target (systems.json `keyPrefix`). */
  const keyPrefixOf = (p: Pipeline): string => registry.systems.get(p.source.system)?.keyPrefix ?? '';

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
      const mapping = registry.mappings.get(p.mapping)!;
      const records = fromColumnar(await store.loadPage<ColumnarPage>(ref.pageId));
      const valid: MappedRecord[] = [];
      const bad: QuarantineEntry[] = [];
      const options = { keyPrefix: keyPrefixOf(p) };
      for (const r of records) {
        const res = mapping.apply(r.data, options);
        if (res.ok) {
          valid.push({ sourceKey: r.key, fields: res.value, hash: recordHash(res.value) });
        } else {
          const first = res.issues[0]!;
          bad.push({
            pipeline: p.name,
            syncId: ref.syncId,
            sourceKey: r.key,
            stage: 'map',
            field: first.field,
            rule: first.rule,
            reason: res.issues.map((i) => `${i.field}: ${i.message} (${i.rule})`).join('; '),
            record: r.data,
          });
        }
      }
      await store.quarantine(bad);
      const mappedPageId = await store.stagePage(ref.syncId, `${ref.seq}/mapped`, valid);
      return { mappedPageId, valid: valid.length, quarantined: bad.length };
    },

    /** Compare with what was last written (bindings + content hash): create, update or no-op. */
    async planPage(ref: PageRef & { mappedPageId: string }): Promise<PlanPageResult> {
      const p = pipelineOf(ref.pipeline);
      const records = await store.loadPage<MappedRecord[]>(ref.mappedPageId);
      const bindings = await store.getBindings(p.name, records.map((r) => r.sourceKey));
      const ops: PlanOp[] = [];
      let unchanged = 0;
      const unchangedKeys: string[] = [];
      records.forEach((r, index) => {
        const b = bindings.get(r.sourceKey);
        if (!b) ops.push({ index, sourceKey: r.sourceKey, hash: r.hash, op: 'create' });
        else if (b.hash !== r.hash) ops.push({ index, sourceKey: r.sourceKey, hash: r.hash, op: 'update', targetKey: b.targetKey });
        else {
          unchanged++;
          unchangedKeys.push(r.sourceKey);
        }
      });
      await store.releaseQuarantine(p.name, unchangedKeys);
      await store.addRunEvents(ref.syncId, changeSamples(ops, records, bindings));
      const page: PlanPage = { mappedPageId: ref.mappedPageId, ops };
      const planPageId = await store.stagePage(ref.syncId, `${ref.seq}/plan`, page);
      const creates = ops.filter((w) => w.op === 'create').length;
      const approvalReasons = p.approval
        ? planRisks(
            ops.map((w) => ({
              sourceKey: w.sourceKey,
              op: w.op,
              fields: records[w.index]!.fields,
              ...previousOf(bindings.get(w.sourceKey)),
            })),
            p.approval,
          )
        : [];
      return { planPageId, creates, updates: ops.length - creates, unchanged, planHash: planFingerprint(ops), approvalReasons };
    },

    /**
     * Write the plan in batches, idempotently (upsert by external key), recording bindings after
     * each batch. Heartbeats the batch reached, so a retry resumes there instead of rewriting.
     */
    async writePage(ref: PageRef & { planPageId: string; planHash?: string }): Promise<WritePageResult> {
      const p = pipelineOf(ref.pipeline);
      const target = connectors.get(p.target.system);
      const { mappedPageId, ops } = await store.loadPage<PlanPage>(ref.planPageId);
      if (ref.planHash !== undefined && planFingerprint(ops) !== ref.planHash) {
        throw new SyncError('Conflict', `staged plan ${ref.planPageId} no longer matches the approved plan ${ref.planHash}; nothing was written`);
      }
      const mapped = await store.loadPage<MappedRecord[]>(mappedPageId);
      const plan = ops.map((o) => ({ ...o, fields: mapped[o.index]!.fields }));
      const keepFields = (p.approval?.watchFields.length ?? 0) > 0;
      const { maxBatchSize, requestTimeoutMs } = target.describe();
      const batchSize = Math.max(1, maxBatchSize);
      // The key the target knows the record by carries the source system's prefix, so two
      // sources writing into one entity never address the same record (bindings keep source keys).
      const keyPrefix = keyPrefixOf(p);
      type Progress = { next: number } & WritePageResult;
      const resumed = activityInfo().heartbeatDetails as Progress | undefined;
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
            batch.map((w) => ({ externalKey: keyPrefix + w.sourceKey, ...(w.targetKey ? { targetKey: w.targetKey } : {}), fields: w.fields })),
          );
        });
        const byKey = new Map(batch.map((w) => [keyPrefix + w.sourceKey, w]));
        const bindings: { sourceKey: string; targetKey: string; hash: string; fields?: Record<string, unknown> }[] = [];
        const failed: QuarantineEntry[] = [];
        for (const o of outcomes) {
          const w = byKey.get(o.externalKey)!;
          if (o.ok) {
            bindings.push({ sourceKey: w.sourceKey, targetKey: o.targetKey, hash: w.hash, ...(keepFields ? { fields: w.fields } : {}) });
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
        await store.putBindings(p.name, bindings);
        await store.quarantine(failed);
        await store.releaseQuarantine(p.name, bindings.map((b) => b.sourceKey));
        acc.next = i + batch.length;
        heartbeat({ ...acc });
      }
      return { created: acc.created, updated: acc.updated, quarantined: acc.quarantined };
    },

    /** Advance the checkpoint: only called after the page's writes are durable. */
    async commitCheckpoint(input: { pipeline: string; syncId: string; seq: number; cursor: Cursor | null }): Promise<void> {
      await store.setCheckpoint(input.pipeline, input.cursor, input.syncId);
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
      await store.addRunEvents(input.syncId, (input.approvals ?? []).map((a) => ({ kind: 'approval', at: String(a.at ?? new Date().toISOString()), data: a })));
      await store.saveRunReport({
        pipeline: input.pipeline,
        syncId: input.syncId,
        status: input.status,
        startedAt: new Date(input.startedAtMs).toISOString(),
        finishedAt: new Date().toISOString(),
        totals: input.totals,
      });
      return { droppedPages: await store.dropPages(input.syncId) };
    },

    /** Drop pages already processed (called at continue-as-new). */
    async dropStagedPages(input: { syncId: string }): Promise<number> {
      return store.dropPages(input.syncId);
    },
  };
  return { ...steps, fetchPage: keptAlive(steps.fetchPage), fetchQuarantined: keptAlive(steps.fetchQuarantined), mapPage: keptAlive(steps.mapPage), planPage: keptAlive(steps.planPage) };
}

export type SyncActivities = ReturnType<typeof createSyncActivities>;
