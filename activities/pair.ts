import { activityInfo, heartbeat, log } from '@temporalio/activity';
import { randomUUID } from 'node:crypto';
import { isNativeWriter, type Connector, type NativeWriter, type SourceRecord, type WriteOutcome } from '../connectors/types';
import { ALL_CONFLICTS, type ApprovalPolicy, type ConflictChoice } from '../contracts/approval';
import type { Cursor } from '../contracts/cursor';
import { workerQueue, type PipelineFamily } from '../contracts/queues';
import { SyncError } from '../contracts/errors';
import { linkVersion, type Link, type LinkLedger } from '../contracts/link';
import { sideNamesOf, type Pair } from '../contracts/pair';
import { nothingWritten, pairCheckpoint, staleWrite, type PairNotice, type PairWriteCounts } from '../contracts/pair-sync';
import { stableHash, stableJson } from '../contracts/stable-json';
import type { CompiledMapping } from '../mappings/dsl/compile';
import { planRecord, type ConflictDecision, type RecordPlan, type SideSnapshot } from '../mappings/two-way/planner';
import { compilePairPolicy, IDENTITY_FIELD, type PairPolicy } from '../mappings/two-way/policy';
import type { QuarantineEntry, RunEvent } from '../state/types';
import { readPath, setPath } from '../mappings/record-path';
import { linksDigest, recordHash } from './hash';
import { inlineMapper } from './map-pool';
import { PagePrefetch } from './prefetch';
import { WriteChains } from './write-chain';
import { HeldPages } from './held-pages';
import { ABSENT } from './plan-items';
import { CHANGE_SAMPLES_PER_PAGE, fieldChanges, pairChangeSample } from './observe';
import { fromColumnar, toColumnar, type ColumnarPage } from './page-codec';
import { stallBudgetMs, watchProgress } from './progress-watch';
import { turn } from './turn';
import type { SyncDeps } from './sync';

/** How often a write keeps telling Temporal it is alive while a batch is in a side's hands. */
const HEARTBEAT_EVERY_MS = 3000;
/** Planned pages a worker keeps in memory until they are written. */
const HELD_PAGES = 16;

export interface BeginPairResult {
  pair: string;
  family: string;
  /** The two side names in config order; each side's changes are read in this order. */
  sides: [string, string];
  entities: Record<string, string>;
  mode: 'incremental' | 'full';
  pageSize: number;
  pagesPerRun: number;
  /** Where each side's reading starts (its checkpoint, or null for a full read). */
  cursors: Record<string, Cursor | null>;
  approvalPolicy: ApprovalPolicy | null;
}

export interface PairPageRef {
  pair: string;
  syncId: string;
  seq: number;
  /** The side whose changes this page holds. */
  side: string;
}

/** One record's writes, as staged between planning and writing (native values, ready to send). */
export interface StagedOp {
  /** Existing link id, or a new one for a first link or a create. */
  linkId: string;
  isNew: boolean;
  keys: Record<string, string>;
  patches: { side: string; values: Record<string, unknown> }[];
  create: { side: string; values: Record<string, unknown> } | null;
  deleteOn: string | null;
  link: RecordPlan['link'];
  writes: RecordPlan['writes'];
  /** Dry runs only (activities/pair-plan.ts): what the plan shows and what apply checks. */
  dry?: DryOp;
}

/** What a dry run's planning adds to an op: canonical before/after per written side, and each side's state. */
export interface DryOp {
  /** Per written side: canonical path, value there now, value written. */
  changes: { side: string; field: string; before: unknown; after: unknown }[];
  /** Side → stableHash of its canonical record when planned (`absent`: the side has no record). */
  hashes: Record<string, string>;
  /** A create's canonical external key (to find it on the created side at apply). */
  externalKey?: string;
}

/** The hash of a side's canonical record as a dry run records it and apply compares it. */
export const snapshotHash = (s: Pick<SideSnapshot, 'fields' | 'deleted'> | null | undefined): string => (s ? stableHash({ fields: s.fields, deleted: s.deleted === true }) : ABSENT);

export interface StagedPairPlan {
  ops: StagedOp[];
  /**
   * `pair-read-ahead`: what the plan saw of the state its records' writes depend on, for a page
   * planned while an earlier page of its side was still being written. writePairPage (`check`)
   * sees it again before writing anything and answers `stale` when it moved.
   */
  seen?: PairSeen;
}

/** The links a page was planned against: its side's keys (linked or not) and the other side's records it meant to link first. */
export interface PairSeen {
  /** Keys on the page's side that were planned. */
  keys: string[];
  /** Keys on the other side this plan links first (free when planned). */
  free: string[];
  /** stableHash of each key's link (or none) and of whether each free key was taken. */
  digest: string;
}

/**
 * The digest of a PairSeen: each of `keys` on the page's side with the version of its link (its
 * id and when it was last written: every upsert and tombstone sets `updatedAt`), and which `free`
 * keys of the other side are linked. Versions, not the links' values: a page's worth of links
 * hashed whole cost more CPU than the read-ahead saved, and `findLinkVersions` reads them without
 * the links' fields (measured with bench/pair-throughput.bench.ts).
 */
const seenDigest = (keys: string[], versions: Map<string, string>, free: string[], taken: Map<string, unknown>): string =>
  linksDigest([...keys, ...free.map((k) => `\u0001${k}`)], (k) => (k.startsWith('\u0001') ? (taken.has(k.slice(1)) ? 'taken' : null) : (versions.get(k) ?? null)));

/** Key → `linkVersion` of the links a plan read, as `findLinkVersions` answers for them later. */
const versionsOf = (links: Map<string, Link>): Map<string, string> => new Map([...links].map(([k, l]) => [k, linkVersion(l)]));

/** A pending `manual` conflict as staged for a person's decision: full hashes, never values. */
export interface StagedConflict {
  id: string;
  /** The key of the record on the page's side. */
  key: string;
  keys: Record<string, string>;
  field: string;
  /** Side → stableHash of its value when the conflict was found. */
  hashes: Record<string, string>;
  /** Dry runs only: side → its value (the plan lists the conflict; values stay in the state store). */
  values?: Record<string, unknown>;
}

/** A person's decision on a page's pending conflicts, as planPairPage applies it. */
export interface PairConflictDecisions {
  /** The staged conflicts the person was shown (PlanPairPageResult.manual.pageId). */
  conflictsPageId: string;
  /** Conflict id (or `all`) → winning side. */
  winners: Record<string, string>;
  decidedBy: string;
}

/** Conflicts shown to a person per page (all are staged; the rest are decided by `all`). */
export const CONFLICTS_SHOWN = 100;
/** Characters of a value's stableHash shown as its label. */
const LABEL = 8;

export interface PlanPairPageResult {
  planPageId: string;
  /** Records with something to write or to remember (0: the page needs no write step). */
  ops: number;
  /** Records on the page's side that mapped and were planned. */
  planned: number;
  unchanged: number;
  linked: number;
  /** Per side: how many records get created / patched / archived / deleted there. */
  writes: Record<string, { creates: number; updates: number; archives: number; deletes: number }>;
  echoes: Record<string, number>;
  rejected: Record<string, number>;
  quarantined: Record<string, number>;
  conflicts: number;
  pendingConflicts: number;
  /** The page's pending `manual` conflicts, staged for a person (null: none): labels, never values. */
  manual: { pageId: string; hash: string; total: number; items: ConflictChoice[] } | null;
  /** `manual` conflicts settled by the person's decision (planning with `decisions`). */
  decidedConflicts: number;
  /** A few conflicts, rejected edits and ambiguous links for the result (all are in the staged plan). */
  notices: PairNotice[];
  planHash: string;
  approvalReasons: string[];
}

/** preparePairPage: one side's page fetched and planned in one step. */
export interface PreparePairPageResult {
  count: number;
  nextCursor: Cursor | null;
  hasMore: boolean;
  /** The staged raw page ('' unless the plan has manual conflicts: then it is planned again with the decisions). */
  pageId: string;
  /** Null when the page was empty. */
  plan: PlanPairPageResult | null;
  /** The task queue of the worker holding the plan in memory (absent: none). */
  heldBy?: string;
}

export interface WritePairPageResult extends PairWriteCounts {
  /** `check`: a link the page was planned against moved since; nothing was written or committed. */
  stale?: true;
}

/** At most this many notices travel back to the workflow per page. */
const NOTICES_PER_PAGE = 10;

/** A record found as another record's first-link match; `issues` when its own mapping fails. */
interface Candidate {
  record: SourceRecord;
  issues?: string;
}

/**
 * For lookups by keys that may not be this system's ids at all: a connector refusing the key
 * (a validation or config error) means "no match"; any other failure (the system is down, rate
 * limits) propagates, so the activity is retried instead of planning a create for a match it
 * could not read.
 */
const notALookup =
  <T>(none: T) =>
  (err: unknown): T => {
    if (err instanceof SyncError && (err.type === 'ValidationError' || err.type === 'ConfigError')) return none;
    throw err;
  };

/**
 * The steps of a two-way sync (`syncPair`): read one side's changed records, plan each against
 * the other side's record now and their link, write only the changed fields on each side, then
 * remember the new link values and the write ledger. Pages travel as claim checks.
 */
export function createPairActivities({ registry, connectors, store, workerId, mapper = inlineMapper }: SyncDeps) {
  /** Plans planned by this worker and not yet written: the write reads them here, not from the store. */
  const held = new HeldPages<{ plan: StagedPairPlan; hash: string }>(HELD_PAGES);
  /** A side's next pages, prepared here in the background while the workflow takes this one. */
  const prefetch = new PagePrefetch<PreparePairPageResult>();
  /** A side's writes in page order (write-ahead): a page's write waits for the commit of the page before. */
  const chains = new WriteChains();
  const policies = new Map<string, PairPolicy>();
  const pairOf = (name: string): Pair => {
    const p = registry.pairs.get(name);
    if (!p) {
      throw new SyncError('ConfigError', `unknown pair "${name}"; this worker knows ${[...registry.pairs.keys()].join(', ') || 'no pairs'} (config/pairs/)`, {
        field: 'pair',
      });
    }
    return p;
  };
  const policyOf = (p: Pair): PairPolicy => {
    let policy = policies.get(p.name);
    if (!policy) policies.set(p.name, (policy = compilePairPolicy(p)));
    return policy;
  };
  const otherSide = (p: Pair, side: string): string => {
    const [a, b] = sideNamesOf(p);
    if (side !== a && side !== b) throw new SyncError('ConfigError', `pair "${p.name}" has no side "${side}"; its sides are ${a} and ${b}`);
    return side === a ? b : a;
  };
  const mappingOf = (p: Pair, side: string): CompiledMapping => registry.mappings.get(p.sides[side]!.mapping)!;
  const keyPrefixOf = (p: Pair, side: string): string => registry.systems.get(p.sides[side]!.system)?.keyPrefix ?? '';
  const connectorOf = (p: Pair, side: string): Connector => connectors.get(p.sides[side]!.system);
  const writerOf = (p: Pair, side: string): Connector & NativeWriter => {
    const c = connectorOf(p, side);
    if (!isNativeWriter(c)) {
      throw new SyncError('ConfigError', `pair "${p.name}": system "${p.sides[side]!.system}" (side ${side}) cannot be written field by field yet`);
    }
    return c;
  };
  const map = (p: Pair, side: string, r: SourceRecord) => mappingOf(p, side).apply(r.data, { keyPrefix: keyPrefixOf(p, side) });
  /** A page of one side's records, mapped on a mapping thread when the worker has them (activities/map-pool.ts). */
  const mapPage = (p: Pair, side: string, rs: SourceRecord[]) => mapper.map(mappingOf(p, side), rs.map((r) => r.data), { keyPrefix: keyPrefixOf(p, side) });
  const quarantineEntry = (p: Pair, syncId: string, side: string, key: string, field: string | null, rule: string, reason: string, record: unknown): QuarantineEntry => ({
    pipeline: p.name,
    syncId,
    sourceKey: `${side}:${key}`,
    stage: 'map',
    field,
    rule,
    reason,
    record,
  });

  /**
   * Records of `side` whose canonical external key is one of `externalKeys` (first-link rule
   * `externalKey`). A record found by that key whose own mapping fails is returned as well, marked
   * with its issues: it is still the match (planning without it would create a duplicate of it).
   */
  async function byExternalKey(p: Pair, side: string, externalKeys: string[]): Promise<Map<string, Candidate[]>> {
    const c = connectorOf(p, side);
    const entity = p.sides[side]!.entity;
    const wanted = new Set(externalKeys);
    const seen = new Map<string, { record: SourceRecord; foundBy: string }>();
    // Records this side knows by its own key, and records that carry the other side's key as their external key.
    // (An external key carries this side's key with its system's keyPrefix, e.g. "HS-5" for HubSpot company 5.)
    const prefix = keyPrefixOf(p, side);
    const ownKeys = externalKeys.filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length));
    // A key this connector cannot look up (not one of its ids) is no match; a failing system is an error, retried.
    for (const r of await c.read(entity, ownKeys).catch(notALookup([] as SourceRecord[]))) seen.set(r.key, { record: r, foundBy: `${prefix}${r.key}` });
    const byExternal = await c.findByExternalKeys(entity, externalKeys).catch(notALookup(new Map<string, string>()));
    const foundBy = new Map<string, string>(); // record key → the external key that found it
    for (const [ext, id] of byExternal) if (!seen.has(id)) foundBy.set(id, ext);
    if (foundBy.size) for (const r of await c.read(entity, [...foundBy.keys()])) seen.set(r.key, { record: r, foundBy: foundBy.get(r.key)! });
    const out = new Map<string, Candidate[]>();
    const add = (ext: string, candidate: Candidate) => out.set(ext, [...(out.get(ext) ?? []), candidate]);
    for (const { record: r, foundBy: ext } of seen.values()) {
      const m = map(p, side, r);
      if (!m.ok) {
        if (wanted.has(ext)) add(ext, { record: r, issues: m.issues.map((i) => `${i.field}: ${i.message} (${i.rule})`).join('; ') });
        continue;
      }
      const mapped = m.value[IDENTITY_FIELD];
      if (typeof mapped === 'string' && wanted.has(mapped)) add(mapped, { record: r });
    }
    return out;
  }

  /**
   * Map the page's records, find each one's link (or a first link by external key), read the
   * other side's records now, and plan each record with the pure planner.
   */
const planRecords = async (ref: PairPageRef & { matchesPageId?: string; decisions?: PairConflictDecisions; dryRun?: boolean; seen?: boolean }, records: SourceRecord[]): Promise<PlanPairPageResult> => {
    const p = pairOf(ref.pair);
    const policy = policyOf(p);
    const side = ref.side;
    const other = otherSide(p, side);
    const bad: QuarantineEntry[] = [];
    const snaps = new Map<string, SideSnapshot>();
    const mapped = await mapPage(p, side, records);
    for (const [i, r] of records.entries()) {
      const m = mapped[i]!;
      if (m.ok) snaps.set(r.key, { key: r.key, fields: m.value, modifiedAt: r.modifiedAt, ...(r.deleted ? { deleted: true } : {}) });
      else {
        const first = m.issues[0]!;
        bad.push(quarantineEntry(p, ref.syncId, side, r.key, first.field, first.rule, m.issues.map((i) => `${i.field}: ${i.message} (${i.rule})`).join('; '), r.data));
      }
    }
    await turn();
    const links = await store.findLinks(p.name, side, [...snaps.keys()]);
    const plannedKeys = [...snaps.keys()];

    // First links: unlinked records whose external key names exactly one unlinked record of the other side.
    const notices: PairNotice[] = [];
    const newLinks = new Map<string, string>(); // this side's key → other side's key
    let linked = 0;
    // First links found elsewhere (reconciliation's match rules), staged as this side's key → other side's key.
    if (ref.matchesPageId) {
      for (const [mine, theirs] of Object.entries(await store.loadPage<Record<string, string>>(ref.matchesPageId))) {
        if (snaps.has(mine) && !links.has(mine)) newLinks.set(mine, theirs);
      }
    }
    const unlinked = [...snaps.values()].filter((s) => !links.has(s.key) && !newLinks.has(s.key));
    if (unlinked.length && p.match.some((r) => r.by === 'externalKey')) {
      const wanted = new Map<string, string>(); // external key → this side's key
      for (const s of unlinked) {
        const ext = s.fields[IDENTITY_FIELD];
        if (typeof ext === 'string') wanted.set(ext, s.key);
      }
      const found = await byExternalKey(p, other, [...wanted.keys()]);
      const taken = await store.findLinks(p.name, other, [...found.values()].flat().map((c) => c.record.key));
      for (const [ext, candidates] of found) {
        const mine = wanted.get(ext)!;
        const free = candidates.filter((c) => !taken.has(c.record.key)).map((c) => c.record);
        const unmappable = candidates.find((c) => c.issues !== undefined && !taken.has(c.record.key));
        if (unmappable) {
          // Its match exists but cannot be mapped: creating a record for it would duplicate that one.
          snaps.delete(mine);
          bad.push(
            quarantineEntry(p, ref.syncId, side, mine, IDENTITY_FIELD, 'matchUnmappable',
              `external key "${ext}" matches ${other} record ${unmappable.record.key}, which does not map (${unmappable.issues}); fix that record or the mapping, then replay this one`, null),
          );
        } else if (free.length === 1) {
          newLinks.set(mine, free[0]!.key);
          linked++;
        } else if (free.length > 1) {
          snaps.delete(mine);
          bad.push(
            quarantineEntry(p, ref.syncId, side, mine, IDENTITY_FIELD, 'ambiguous', `external key "${ext}" matches ${free.length} records of ${other}: ${free.map((c) => c.key).join(', ')}; link one by hand`, null),
          );
          if (notices.length < NOTICES_PER_PAGE) notices.push({ kind: 'ambiguous', keys: { [side]: mine }, field: IDENTITY_FIELD, values: { [other]: free.map((c) => c.key) }, resolution: 'quarantined' });
        }
      }
    }

    // The other side's records now, for every linked or newly linked record.
    const otherKeys = new Set<string>();
    for (const [k] of snaps) {
      const l = links.get(k);
      const o = l ? l.keys[other] : newLinks.get(k);
      if (o) otherKeys.add(o);
    }
    const otherSnaps = new Map<string, SideSnapshot>();
    if (otherKeys.size) {
      await turn();
      const others = await connectorOf(p, other).read(p.sides[other]!.entity, [...otherKeys]);
      const mappedOthers = await mapPage(p, other, others);
      for (const [i, r] of others.entries()) {
        const m = mappedOthers[i]!;
        if (m.ok) otherSnaps.set(r.key, { key: r.key, fields: m.value, modifiedAt: r.modifiedAt, ...(r.deleted ? { deleted: true } : {}) });
        else {
          // Planning against a record we cannot read would look like a delete: hold it instead.
          for (const [k, s] of snaps) if ((links.get(k)?.keys[other] ?? newLinks.get(k)) === r.key) snaps.delete(s.key);
          bad.push(quarantineEntry(p, ref.syncId, other, r.key, m.issues[0]!.field, m.issues[0]!.rule, m.issues.map((i) => `${i.field}: ${i.message} (${i.rule})`).join('; '), r.data));
        }
      }
    }
    await turn();
    const ledgers = await store.getLedger([...links.values()].map((l) => l.linkId));
    // A person's decisions on the conflicts staged by an earlier planning of this page: page key → field → decision.
    const decided = new Map<string, Record<string, ConflictDecision>>();
    if (ref.decisions) {
      const { winners } = ref.decisions;
      for (const c of await store.loadPage<StagedConflict[]>(ref.decisions.conflictsPageId)) {
        const winner = winners[c.id] ?? winners[ALL_CONFLICTS];
        if (winner !== undefined) decided.set(c.key, { ...(decided.get(c.key) ?? {}), [c.field]: { side: winner, hashes: c.hashes } });
      }
    }
    const manual: StagedConflict[] = [];
    let decidedConflicts = 0;

    const ops: StagedOp[] = [];
    const samples: RunEvent[] = []; // before/after of the first patches, for the run events
    const count = () => ({ creates: 0, updates: 0, archives: 0, deletes: 0 });
    const writes: Record<string, ReturnType<typeof count>> = { [side]: count(), [other]: count() };
    const echoes: Record<string, number> = { [side]: 0, [other]: 0 };
    const rejected: Record<string, number> = { [side]: 0, [other]: 0 };
    let unchanged = 0;
    let conflicts = 0;
    let pendingConflicts = 0;
    for (const s of snaps.values()) {
      const link = links.get(s.key) ?? null;
      const otherKey = link ? link.keys[other] : newLinks.get(s.key);
      const otherSnap = otherKey ? (otherSnaps.get(otherKey) ?? null) : null;
      const plan = planRecord(policy, {
        sides: { [side]: s, [other]: otherSnap },
        link,
        ...(link ? { ledger: ledgers.get(link.linkId) ?? ({} as LinkLedger) } : {}),
        ...(decided.has(s.key) ? { decisions: decided.get(s.key)! } : {}),
      });
      for (const e of plan.echoes) echoes[e.side] = (echoes[e.side] ?? 0) + 1;
      for (const r of plan.rejected) {
        rejected[r.side] = (rejected[r.side] ?? 0) + 1;
        if (notices.length < NOTICES_PER_PAGE) {
          notices.push({ kind: 'rejected', keys: keysOf(link, side, s.key, other, otherKey), field: r.field, values: { [r.side]: r.value }, resolution: r.owner });
        }
      }
      for (const c of plan.conflicts) {
        conflicts++;
        const keys = keysOf(link, side, s.key, other, otherKey);
        if (c.resolution === 'pending') {
          pendingConflicts++;
          // The id names the record by the pair's first side when it is known, so the same
          // conflict met again in the other side's phase has the same id.
          const [first] = sideNamesOf(p);
          const idSide = keys[first] !== undefined ? first : side;
          manual.push({
            id: `${idSide}:${keys[idSide]}:${c.field}`, key: s.key, keys, field: c.field, hashes: Object.fromEntries(Object.entries(c.values).map(([k, v]) => [k, stableHash(v ?? null)])),
            ...(ref.dryRun ? { values: c.values } : {}),
          });
        }
        if (c.decided) decidedConflicts++;
        if (notices.length < NOTICES_PER_PAGE) {
          // A `manual` conflict waits for a person in workflow history: short hash labels, never values.
          const shown = c.policy === 'manual' ? { values: {}, labels: labelsOf(c.values) } : { values: c.values };
          notices.push({
            kind: 'conflict', keys, field: c.field, ...shown, resolution: c.resolution, policy: c.policy,
            ...(c.decided && ref.decisions ? { decidedBy: ref.decisions.decidedBy } : {}),
          });
        }
      }
      if (plan.outcome === 'unchanged') unchanged++;
      const writesNothing = Object.keys(plan.patches).length === 0 && !plan.create && !plan.deleteOn;
      // Nothing to write and nothing new to remember: the record costs no store write either.
      if (writesNothing && (link ? sameLink(link, plan.link) : !otherKey)) continue;
      const op: StagedOp = {
        linkId: link?.linkId ?? randomUUID(),
        isNew: !link,
        keys: keysOf(link, side, s.key, other, otherKey),
        patches: [],
        create: null,
        deleteOn: plan.deleteOn,
        link: plan.link,
        writes: plan.writes,
        ...(ref.dryRun ? { dry: { changes: [], hashes: { [side]: snapshotHash(s), [other]: snapshotHash(otherSnap) } } } : {}),
      };
      let refused = false;
      const opSamples: RunEvent[] = [];
      for (const [to, patch] of Object.entries(plan.patches)) {
        const changed = Object.keys(patch);
        if (changed.length === 0) continue;
        const target = { ...(to === side ? s.fields : (otherSnap?.fields ?? {})) };
        for (const [path, v] of Object.entries(patch)) setPath(target, path, v, { omitEmpty: true });
        const native = mappingOf(p, to).write!.toNative(target, changed);
        if (!native.ok) {
          refused = true;
          bad.push(quarantineEntry(p, ref.syncId, to, op.keys[to] ?? s.key, native.issues[0]!.field, native.issues[0]!.rule, native.issues.map((i) => i.message).join('; '), patch));
          continue;
        }
        op.patches.push({ side: to, values: native.values });
        const now = to === side ? s.fields : (otherSnap?.fields ?? {});
        // Leaf by leaf, as the run events show them (a unit such as `creditLimit` is two fields).
        for (const path of [...changed].sort()) {
          for (const c of fieldChanges({ v: readPath(now, path) ?? null }, { v: patch[path] ?? null })) {
            op.dry?.changes.push({ side: to, field: c.field === 'v' ? path : `${path}${c.field.slice(1)}`, before: c.before, after: c.after });
          }
        }
        const sample = samples.length < CHANGE_SAMPLES_PER_PAGE ? pairChangeSample(to, op.keys[to] ?? s.key, to === side ? s.fields : (otherSnap?.fields ?? {}), patch) : null;
        if (sample) opSamples.push(sample);
        if (changed.length === 1 && changed[0] === 'active') writes[to]!.archives++;
        else writes[to]!.updates++;
      }
      if (plan.create) {
        const fields = { ...plan.create.fields, [IDENTITY_FIELD]: s.fields[IDENTITY_FIELD] };
        const native = mappingOf(p, plan.create.side).write!.toNative(fields, 'all');
        if (!native.ok) {
          refused = true;
          bad.push(quarantineEntry(p, ref.syncId, side, s.key, native.issues[0]!.field, native.issues[0]!.rule, native.issues.map((i) => i.message).join('; '), s.fields));
        } else {
          op.create = { side: plan.create.side, values: native.values };
          if (op.dry) {
            op.dry.externalKey = String(fields[IDENTITY_FIELD] ?? '');
            for (const c of fieldChanges({}, plan.create.fields)) op.dry.changes.push({ side: plan.create.side, ...c });
          }
          writes[plan.create.side]!.creates++;
        }
      }
      if (plan.deleteOn) {
        writes[plan.deleteOn]!.deletes++;
        op.dry?.changes.push({ side: plan.deleteOn, field: '(record)', before: op.keys[plan.deleteOn] ?? null, after: null });
      }
      if (refused) continue;
      ops.push(op);
      samples.push(...opSamples.slice(0, Math.max(0, CHANGE_SAMPLES_PER_PAGE - samples.length)));
    }
    await turn();
    // A dry run writes nothing but its plan: no quarantine entries, no run events.
    if (!ref.dryRun) {
      await store.quarantine(bad);
      await store.addRunEvents(ref.syncId, samples);
    }
    const quarantined: Record<string, number> = { [side]: 0, [other]: 0 };
    for (const b of bad) {
      const s = b.sourceKey.slice(0, b.sourceKey.indexOf(':'));
      quarantined[s] = (quarantined[s] ?? 0) + 1;
    }
    const free = [...newLinks.values()];
    const staged: StagedPairPlan = { ops, ...(ref.seen ? { seen: { keys: plannedKeys, free, digest: seenDigest(plannedKeys, versionsOf(links), free, new Map()) } } : {}) };
    // A planning with decisions stages apart from the first one (whose conflicts it read).
    const suffix = ref.decisions ? '-decided' : '';
    const planPageId = await store.stagePage(ref.syncId, `${ref.seq}/${side}/plan${suffix}`, staged);
    const planHash = recordHash(ops);
    held.put(planPageId, { plan: staged, hash: planHash });
    const manualPageId = manual.length ? await store.stagePage(ref.syncId, `${ref.seq}/${side}/conflicts${suffix}`, manual) : null;
    const approvalReasons = pairRisks(p, writes, snaps.size);
    return {
      planPageId,
      ops: ops.length,
      planned: snaps.size,
      unchanged,
      linked,
      writes,
      echoes,
      rejected,
      quarantined,
      conflicts,
      pendingConflicts,
      manual: manualPageId
        ? {
            pageId: manualPageId,
            hash: stableHash(manual.map((c) => [c.id, c.hashes])),
            total: manual.length,
            items: manual.slice(0, CONFLICTS_SHOWN).map((c) => ({
              id: c.id, keys: c.keys, field: c.field, labels: Object.fromEntries(Object.entries(c.hashes).map(([k, h]) => [k, h.slice(0, LABEL)])),
            })),
          }
        : null,
      decidedConflicts,
      notices,
      planHash,
      approvalReasons,
    };
  };

  const prepare = async (
    ref: PairPageRef & { after: Cursor | null; limit: number; dryRun?: boolean; seen?: boolean },
    onFetched?: (f: { hasMore: boolean; nextCursor: Cursor | null }) => void,
  ): Promise<PreparePairPageResult> => {
    const p = pairOf(ref.pair);
    const page = await connectorOf(p, ref.side).fetchChanges(p.sides[ref.side]!.entity, { after: ref.after, limit: ref.limit, includeDeleted: true });
    const fetched = { count: page.records.length, nextCursor: page.nextCursor, hasMore: page.hasMore };
    onFetched?.(fetched); // the background may fetch the side's next page while this one is planned
    if (page.records.length === 0) return { ...fetched, pageId: '', plan: null };
    const plan = await planRecords(ref, page.records);
    const pageId = plan.manual ? await store.stagePage(ref.syncId, `${ref.seq}/${ref.side}/raw`, toColumnar(page.records)) : '';
    return { ...fetched, pageId, plan, ...(workerId ? { heldBy: workerQueue(p.family as PipelineFamily, workerId) } : {}) };
  };

  const activities = {
    async beginPair(input: { pair: string; mode?: 'incremental' | 'full'; pageSize?: number; pagesPerRun?: number }): Promise<BeginPairResult> {
      const p = pairOf(input.pair);
      policyOf(p); // a pair whose policy cannot compile fails here, before anything is read
      const sides = sideNamesOf(p);
      const mode = input.mode ?? 'incremental';
      const cursors: Record<string, Cursor | null> = {};
      for (const s of sides) {
        writerOf(p, s);
        cursors[s] = mode === 'full' ? null : await store.getCheckpoint(pairCheckpoint(p.name, s));
      }
      return {
        pair: p.name,
        family: p.family,
        sides,
        entities: Object.fromEntries(sides.map((s) => [s, `${p.sides[s]!.system}.${p.sides[s]!.entity}`])),
        mode,
        pageSize: input.pageSize ?? p.pageSize,
        pagesPerRun: input.pagesPerRun ?? p.pagesPerRun,
        cursors,
        approvalPolicy: p.limits.approval ?? null,
      };
    },

    async fetchPairPage(ref: PairPageRef & { after: Cursor | null; limit: number }) {
      const p = pairOf(ref.pair);
      const page = await connectorOf(p, ref.side).fetchChanges(p.sides[ref.side]!.entity, { after: ref.after, limit: ref.limit, includeDeleted: true });
      const pageId = await store.stagePage(ref.syncId, `${ref.seq}/${ref.side}/raw`, toColumnar(page.records));
      return { pageId, count: page.records.length, nextCursor: page.nextCursor, hasMore: page.hasMore };
    },

    async planPairPage(ref: PairPageRef & { pageId: string; matchesPageId?: string; decisions?: PairConflictDecisions; dryRun?: boolean }): Promise<PlanPairPageResult> {
      return planRecords(ref, fromColumnar(await store.loadPage<ColumnarPage>(ref.pageId)));
    },

    /**
     * Fetch and plan one page of a side in one activity (syncPair since `throughput-v1`). The raw
     * page is staged only when a person must decide conflicts (the page is planned again with the
     * decisions); the plan is staged once (the claim check) and held in this worker's memory, and
     * `heldBy` names this worker's own queue, where the workflow sends the write. `seen`
     * (`pair-read-ahead`, a page planned while an earlier page of its side is still being
     * written): the plan keeps what it saw of its records' links, for writePairPage's `check`.
     */
    async preparePairPage(ref: PairPageRef & { after: Cursor | null; limit: number; dryRun?: boolean; seen?: boolean }): Promise<PreparePairPageResult> {
      // Heartbeats while it runs (FETCH's heartbeat timeout): a dead worker is noticed in seconds.
      // None at the start: the timeout counts from the attempt's start anyway (one server write less per page).
      const alive = setInterval(() => heartbeat(), HEARTBEAT_EVERY_MS);
      try {
        // Pages of a side prepared in sequence (`seen`, no dry run): the side's next two pages are prepared
        // here in the background right away, as for pipelines (activities/prefetch.ts); never the
        // other side's first page, which must see the ledger of this side's writes.
        if (!ref.seen || ref.dryRun) return await prepare(ref);
        const chain = `${ref.syncId}\u0000${ref.side}`;
        const key = (r: typeof ref) => stableJson([r.pair, r.side, r.after ?? null, r.limit]);
        const early = prefetch.take(chain, ref.seq, key(ref));
        const result = (early.page ? await early.page.catch(() => null) : null) ?? (await prepare(ref));
        if (early.ahead) prefetch.runAhead(chain, ref.seq, result, (seq, after, onFetched) => prepare({ ...ref, seq, after }, onFetched), (seq, after) => key({ ...ref, seq, after }));
        return result;
      } finally {
        clearInterval(alive);
      }
    },


    /**
     * Write the staged plan: creates, patches (only changed fields) and deletes on each side,
     * then the links and the write ledger of what was written. A record a side refuses is
     * quarantined and its link is not advanced, so the next run plans it again.
     */
    async writePairPage(
      ref: PairPageRef & { planPageId: string; planHash?: string; commit?: { cursor: Cursor | null }; check?: boolean; writeNo?: number; after?: { seq: number; writeNo: number } },
    ): Promise<WritePairPageResult> {
      // One chain per sync and side (`pair-write-ahead`): a side's page written ahead waits here for the page before it.
      const chain = `${ref.syncId}\u0000${ref.pair}\u0000${ref.side}`;
      return chains.run(chain, ref, () => writeOnePairPage(ref, chain), () => staleWrite(sideNamesOf(pairOf(ref.pair))));
    },
  };
  return activities;

  /**
   * The staged plan a write is asked for: from this worker's memory when it planned the page (its
   * hash kept from then, so the plan is not hashed again), else from the claim check, whose plan
   * must hash to the one the workflow was given (and any approval was for).
   */
  async function stagedPlanOf(ref: { planPageId: string; planHash?: string }): Promise<StagedPairPlan> {
    const kept = held.get(ref.planPageId);
    if (kept && (ref.planHash === undefined || kept.hash === ref.planHash)) return kept.plan;
    const staged = await store.loadPage<StagedPairPlan>(ref.planPageId);
    if (ref.planHash !== undefined && recordHash(staged.ops) !== ref.planHash) {
      throw new SyncError('Conflict', `staged plan ${ref.planPageId} no longer matches the approved plan ${ref.planHash}; nothing was written`);
    }
    return staged;
  }

  /** writePairPage (above), once the page it was written ahead of has committed. */
  async function writeOnePairPage(ref: PairPageRef & { planPageId: string; planHash?: string; commit?: { cursor: Cursor | null }; check?: boolean }, chain: string): Promise<WritePairPageResult> {
    const p = pairOf(ref.pair);
    const [a, b] = sideNamesOf(p);
    const { ops: planned, seen } = await stagedPlanOf(ref);
    // Created records' keys go on copies: the held plan stays exactly the plan that was hashed.
    const ops = planned.map((o) => ({ ...o, keys: { ...o.keys } }));
    // `pair-read-ahead`: the page was planned while an earlier page of its side was written. If
    // that write moved a link this plan compared with (a record that changed again during the
    // sync, or a first link to the same record), write nothing and commit nothing: the
    // workflow plans the page again from the same cursor. The echo ledger moves with the links,
    // and the other side's records a plan reads are those of its own links, so the links are
    // what to compare. A retry that resumes after written batches (heartbeat details) does not
    // check again; one that finds this plan's own writes in the links re-plans, which is safe.
    if (ref.check && seen && activityInfo().heartbeatDetails === undefined) {
      await turn();
      const other = otherSide(p, ref.side);
      const [now, taken] = await Promise.all([store.findLinkVersions(p.name, ref.side, seen.keys), store.findLinkVersions(p.name, other, seen.free)]);
      if (seenDigest(seen.keys, now, seen.free, taken) !== seen.digest) {
        log.info('writePairPage: a link of the page moved since it was planned; the page is planned again', { pair: p.name, side: ref.side, seq: ref.seq });
        return staleWrite(sideNamesOf(p));
      }
    }
    const out: WritePairPageResult = nothingWritten(sideNamesOf(p));
    const failed = new Set<string>();
    const bad: QuarantineEntry[] = [];
    const refuse = (op: StagedOp, side: string, o: Extract<WriteOutcome, { ok: false }>) => {
      failed.add(op.linkId);
      out.quarantined[side] = (out.quarantined[side] ?? 0) + 1;
      bad.push({ pipeline: p.name, syncId: ref.syncId, sourceKey: `${side}:${op.keys[side] ?? op.linkId}`, stage: 'write', field: o.error.field ?? null, rule: o.error.type, reason: o.error.message, record: null });
    };
    // A create that already happened in an earlier attempt of this activity is not repeated.
    const resumed = (activityInfo().heartbeatDetails as { created?: Record<string, Record<string, string>> } | undefined)?.created ?? {};
    const created: Record<string, Record<string, string>> = { ...resumed };
    // Heartbeat only while each side's requests make progress: a hung request fails the attempt
    // at its request timeout instead of looking alive until the activity's own timeout.
    const watched = <T>(side: string, fn: () => Promise<T>): Promise<T> =>
      watchProgress(
        {
          stallMs: stallBudgetMs(connectorOf(p, side).describe().requestTimeoutMs),
          beatEveryMs: HEARTBEAT_EVERY_MS,
          beat: () => heartbeat({ created }),
          what: `writing ${p.sides[side]!.system}.${p.sides[side]!.entity}`,
        },
        fn,
      );
    for (const side of [a, b]) {
      await turn();
      const w = writerOf(p, side);
      const entity = p.sides[side]!.entity;
      const done = (created[side] ??= {});
      const inserts = ops.filter((o) => o.create?.side === side && !done[o.linkId]);
      const insertOutcomes = await watched(side, () => w.insertNative(entity, inserts.map((o) => ({ ref: o.linkId, values: o.create!.values }))));
      insertOutcomes.forEach((o, i) => {
        const op = inserts[i]!;
        if (o.ok) {
          done[op.linkId] = o.targetKey;
          out.created[side]!++;
        } else refuse(op, side, o);
      });
      heartbeat({ created });
      for (const op of ops) if (done[op.linkId]) op.keys[side] = done[op.linkId]!;
      const patched = ops.flatMap((o) => o.patches.filter((x) => x.side === side && o.keys[side]).map((x) => ({ op: o, key: o.keys[side]!, values: x.values })));
      const patchOutcomes = await watched(side, () => w.patchNative(entity, patched.map((x) => ({ key: x.key, values: x.values }))));
      patchOutcomes.forEach((o, i) => {
        if (o.ok) out.updated[side]!++;
        else refuse(patched[i]!.op, side, o);
      });
      const deletes = ops.filter((o) => o.deleteOn === side && o.keys[side]);
      if (deletes.length) {
        await watched(side, () => w.delete(entity, deletes.map((o) => o.keys[side]!)));
        out.deleted[side]! += deletes.length;
      }
      heartbeat({ created });
    }
    await turn();
    const now = new Date().toISOString();
    const durable = ops.filter((o) => !failed.has(o.linkId));
    const ids = await store.upsertLinks(
      p.name,
      durable.map((o) => ({
        ...(o.isNew ? {} : { linkId: o.linkId }),
        keys: Object.entries(o.keys).map(([side, key]) => ({ side, system: p.sides[side]!.system, entity: p.sides[side]!.entity, key })),
        fields: o.link.fields,
        deletedSides: o.link.deletedSides,
      })),
    );
    const tombstones = durable.flatMap((o, i) => (o.link.tombstone ? [{ linkId: ids[i]!, side: o.link.tombstone.side, at: now }] : []));
    if (tombstones.length) await store.tombstoneLinks(p.name, tombstones);
    await store.recordWrites(durable.flatMap((o, i) => o.writes.map((w) => ({ linkId: ids[i]!, ...w }))));
    await store.quarantine(bad);
    for (const side of [a, b]) {
      const ok = durable.map((o) => o.keys[side]).filter((k): k is string => !!k).map((k) => `${side}:${k}`);
      await store.releaseQuarantine(p.name, ok);
    }
    if (ref.commit) {
      await turn();
      // The page's writes are durable: the side's cursor moves in the same activity (syncPair
      // since `throughput-v1`). The page before this one is done for good: drop its claim checks.
      // (A late retry of a page whose successor, written ahead, has committed moves nothing back.)
      if (!chains.committedAfter(chain, ref.seq)) await store.setCheckpoint(pairCheckpoint(p.name, ref.side), ref.commit.cursor, ref.syncId);
      await store.dropPages(ref.syncId, `${ref.seq - 1}/`);
      held.delete(ref.planPageId);
    }
    return out;
  }
}

/** Side → the first characters of the stableHash of its value: tells values apart without showing them. */
function labelsOf(values: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, stableHash(v ?? null).slice(0, LABEL)]));
}

function sameLink(link: Link, next: RecordPlan['link']): boolean {
  return (
    stableJson(link.fields) === stableJson(next.fields) &&
    stableJson([...link.deletedSides].sort()) === stableJson([...next.deletedSides].sort()) &&
    (link.tombstone?.side ?? null) === (next.tombstone?.side ?? null)
  );
}

function keysOf(link: Link | null, side: string, key: string, other: string, otherKey: string | undefined): Record<string, string> {
  const keys: Record<string, string> = { ...(link?.keys ?? {}), [side]: key };
  if (otherKey) keys[other] = otherKey;
  return keys;
}

/** Why a page's plan needs a person, under the pair's limits (empty: it does not). */
function pairRisks(p: Pair, writes: Record<string, { creates: number; updates: number; archives: number; deletes: number }>, planned: number): string[] {
  const reasons: string[] = [];
  const limits = p.limits;
  for (const [side, w] of Object.entries(writes)) {
    if (limits.maxUpdates !== undefined && w.updates > limits.maxUpdates) reasons.push(`${w.updates} updates on ${side}, above the limit of ${limits.maxUpdates}`);
    if (limits.maxCreates !== undefined && w.creates > limits.maxCreates) reasons.push(`${w.creates} creates on ${side}, above the limit of ${limits.maxCreates}`);
    const removed = w.deletes + w.archives;
    if (planned > 0 && removed > 0 && (removed / planned) * 100 > p.deletes.maxPercent) {
      reasons.push(`${removed} of ${planned} records deleted or archived on ${side} (${Math.round((removed / planned) * 100)}%), above ${p.deletes.maxPercent}%`);
    }
  }
  return reasons;
}
