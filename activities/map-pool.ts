/**
 * Mapping threads: a page's records are mapped and validated (phone numbers, countries, zod, the
 * content hash: most of a page's CPU) on other cores, while the worker's own thread fetches,
 * plans, writes and answers Temporal. A worker is one Node.js event loop: without this, a sync
 * uses one core, and every millisecond of mapping is a millisecond the writes and the SDK wait.
 *
 * The threads are pure: they get a mapping's JSON (compiled there once) and raw records, and
 * answer what activities/map-records.ts answers on the activity's own thread, in the same order.
 * Nothing durable happens in them; a thread that dies fails the page's activity (retried by
 * Temporal) and the next page starts a new thread.
 */
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { SyncError } from '../contracts/errors';
import type { CompiledMapping } from '../mappings/dsl/compile';
import { mapOne, type MappedOne, type MapRecordsOptions } from './map-records';

/** Maps a page's records; `records` and the answer are in the same order. */
export interface Mapper {
  map(mapping: CompiledMapping, records: readonly Record<string, unknown>[], options: MapRecordsOptions): Promise<MappedOne[]>;
  close(): Promise<void>;
}

/** Records mapped between two turns of the event loop when mapping on the activity's thread. */
const YIELD_EVERY = 250;

/**
 * Mapping on the activity's own thread, in slices, so that the worker's other work (workflow
 * tasks, queries, heartbeats) is not held up behind a whole page of synchronous mapping.
 */
export const inlineMapper: Mapper = {
  async map(mapping, records, options) {
    const out: MappedOne[] = [];
    for (const [n, r] of records.entries()) {
      if (n > 0 && n % YIELD_EVERY === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      out.push(mapOne(mapping, r, options));
    }
    return out;
  },
  async close() {},
};

/** What the mapping thread is asked (activities/map-thread.ts). */
export interface MapRequest {
  id: number;
  mappingId: number;
  /** The mapping's JSON, sent the first time a thread meets the mapping. */
  source?: { spec: unknown; file: string };
  records: readonly Record<string, unknown>[];
  options: MapRecordsOptions;
}
export type MapReply = { id: number; results: MappedOne[] } | { id: number; error: string } | { ready: true };

/** Below this many records a page is mapped on the activity's thread: sending it would cost more than it saves. */
export const MIN_THREADED_RECORDS = 64;

/** The default number of mapping threads: the cores beside the worker's own thread, at most 2. */
export function defaultMapThreads(): number {
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(0, Math.min(2, cores - 1));
}

/** `SYNC_MAP_THREADS` (0 = map on the activity's thread), else the default; a bad value names the variable. */
export function mapThreadsFromEnv(env: NodeJS.ProcessEnv): number {
  const raw = env.SYNC_MAP_THREADS;
  if (raw === undefined || raw.trim() === '') return defaultMapThreads();
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 16) {
    throw new SyncError('ConfigError', `SYNC_MAP_THREADS must be a whole number from 0 to 16 (0: map on the worker's own thread), got ${JSON.stringify(raw)}`, {
      field: 'SYNC_MAP_THREADS',
    });
  }
  return n;
}

/**
 * The thread's bootstrap: under tsx or jest (TypeScript sources) it registers tsx first, else it
 * loads the compiled JavaScript next to this file.
 */
const BOOT = `
const { workerData } = require('node:worker_threads');
if (workerData.tsx) require(workerData.tsx).register();
require(workerData.entry);
`;

interface Thread {
  worker: Worker;
  /** Settles once the thread has loaded its code (or has died trying). */
  ready: Promise<void>;
  pending: Map<number, { resolve: (r: MappedOne[]) => void; reject: (e: Error) => void }>;
  /** Mappings this thread has compiled. */
  known: Set<number>;
}

/** A fixed number of mapping threads, started by `warm()` or on first use; pages go to the least busy one. */
export class MapPool implements Mapper {
  private readonly threads: (Thread | null)[];
  private readonly ids = new WeakMap<CompiledMapping, number>();
  private nextMappingId = 1;
  private nextRequestId = 1;
  private closed = false;
  /** Records mapped in threads so far (tests and benches look at it). */
  threadedRecords = 0;

  constructor(
    size: number,
    private readonly minRecords = MIN_THREADED_RECORDS,
  ) {
    this.threads = Array.from({ length: Math.max(0, size) }, () => null);
  }

  get size(): number {
    return this.threads.length;
  }

  /** Threads started so far (a thread that died is started again by the next page). */
  get running(): number {
    return this.threads.filter((t) => t !== null).length;
  }

  /**
   * Start every thread now and wait until each has loaded its code, so that a worker's first page
   * does not wait for a thread to boot (hundreds of milliseconds under tsx). Never fails: a
   * thread that cannot start fails the page that needs it, as on first use.
   */
  async warm(): Promise<void> {
    if (this.closed) return;
    for (let i = 0; i < this.threads.length; i++) this.threads[i] ??= this.start(i);
    await Promise.all(this.threads.map((t) => t?.ready));
  }

  async map(mapping: CompiledMapping, records: readonly Record<string, unknown>[], options: MapRecordsOptions): Promise<MappedOne[]> {
    if (this.closed || this.threads.length === 0 || !mapping.source || records.length < this.minRecords) return inlineMapper.map(mapping, records, options);
    let mappingId = this.ids.get(mapping);
    if (mappingId === undefined) this.ids.set(mapping, (mappingId = this.nextMappingId++));
    const t = this.pick();
    const id = this.nextRequestId++;
    const request: MapRequest = { id, mappingId, records, options, ...(t.known.has(mappingId) ? {} : { source: mapping.source }) };
    t.known.add(mappingId);
    const results = await new Promise<MappedOne[]>((resolve, reject) => {
      t.pending.set(id, { resolve, reject });
      t.worker.postMessage(request);
    });
    this.threadedRecords += records.length;
    return results;
  }

  async close(): Promise<void> {
    this.closed = true;
    const running = this.threads.filter((t): t is Thread => t !== null);
    this.threads.fill(null);
    await Promise.all(running.map((t) => t.worker.terminate()));
  }

  private pick(): Thread {
    let best = -1;
    for (let i = 0; i < this.threads.length; i++) {
      const t = this.threads[i];
      if (!t) {
        best = i;
        break;
      }
      if (best < 0 || t.pending.size < this.threads[best]!.pending.size) best = i;
    }
    return (this.threads[best] ??= this.start(best));
  }

  private start(slot: number): Thread {
    const ts = path.extname(__filename) === '.ts';
    const worker = new Worker(BOOT, {
      eval: true,
      workerData: { entry: path.join(__dirname, `map-thread${path.extname(__filename)}`), tsx: ts ? require.resolve('tsx/cjs/api') : null },
      // Not a reason for the process to stay up: a worker shutting down does not wait for it.
    });
    worker.unref();
    let loaded = (): void => {};
    const t: Thread = { worker, pending: new Map(), known: new Set(), ready: new Promise<void>((resolve) => (loaded = resolve)) };
    const fail = (why: string) => {
      loaded();
      if (this.threads[slot] === t) this.threads[slot] = null; // the next page starts a new thread
      for (const p of t.pending.values()) p.reject(new Error(`the mapping thread ${why}; the page is mapped again on retry`));
      t.pending.clear();
    };
    worker.on('message', (reply: MapReply) => {
      if ('ready' in reply) return loaded();
      const p = t.pending.get(reply.id);
      if (!p) return;
      t.pending.delete(reply.id);
      if ('error' in reply) p.reject(new Error(`the mapping thread failed: ${reply.error}`));
      else p.resolve(reply.results);
    });
    worker.on('error', (err) => fail(`failed: ${err.message}`));
    worker.on('exit', (code) => fail(`exited (code ${code})`));
    return t;
  }
}
