import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { RecordProblem, sfError } from './errors';
import type { SfRequest, SfResponse } from './http-types';
import { header } from './http-types';
import { makeId, normalizeId, sfDateTime } from './ids';
import { loadPage, matchingIds, snapshot } from './query';
import { jsonBody } from './rest';
import { fieldOf, sobjectOf } from './schema';
import { compileSoql } from './soql';
import type { SalesforceStore, StoredRecord } from './store';
import { valueOf } from './store';

/**
 * Bulk API 2.0 (reference §2 "Bulk API 2.0"): ingest jobs (CSV upload, `UploadComplete`, then
 * `InProgress` → `JobComplete` | `Failed`, successful/failed/unprocessed results as CSV) and
 * query jobs (results as CSV pages chained by the `Sforce-Locator` header).
 * Jobs run in the background, a chunk of rows at a time, so the server keeps answering polls.
 */

type JobState = 'Open' | 'UploadComplete' | 'InProgress' | 'JobComplete' | 'Failed' | 'Aborted';

interface JobInfo {
  id: string;
  operation: string;
  object: string;
  createdById: string;
  createdDate: string;
  systemModstamp: string;
  state: JobState;
  externalIdFieldName?: string;
  concurrencyMode: 'Parallel';
  contentType: 'CSV';
  apiVersion: number;
  jobType: 'V2Ingest' | 'V2Query';
  lineEnding: 'LF' | 'CRLF';
  columnDelimiter: 'COMMA';
  numberRecordsProcessed: number;
  numberRecordsFailed?: number;
  retries: number;
  totalProcessingTime: number;
  errorMessage?: string;
  contentUrl?: string;
  query?: string;
}

const CHUNK = 200;
const DEFAULT_MAX_RECORDS = 50_000;
const INGEST_OPS = ['insert', 'update', 'upsert', 'delete', 'hardDelete'];

export class BulkJobs {
  private jobCounter = 0;
  private closed = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private running: Promise<void> = Promise.resolve();
  constructor(
    private readonly store: SalesforceStore,
    /** Pause before a closed job starts, so clients see `UploadComplete` and `InProgress`. @default 50 */
    private readonly startDelayMs = 50,
    /** Rows per query-job results page when the client sends no `maxRecords`. @default 50_000 */
    private readonly defaultMaxRecords = DEFAULT_MAX_RECORDS,
  ) {}

  /** Stops starting jobs and waits for the one running (the server closes the store next). */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    await this.running;
  }

  private later(fn: () => Promise<void> | void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (this.closed) return;
      this.running = this.running.then(fn).catch(() => undefined);
    }, this.startDelayMs);
    this.timers.add(t);
  }

  private load(id: string, kind: 'ingest' | 'query'): { info: JobInfo; upload: string } {
    const row = this.store.db.prepare('SELECT info, upload FROM jobs WHERE id = ? AND kind = ?').get(id, kind) as { info: string; upload: string } | undefined;
    if (!row) throw sfError(404, 'NOT_FOUND', `The requested resource does not exist`);
    return { info: JSON.parse(row.info) as JobInfo, upload: row.upload };
  }

  private save(info: JobInfo): void {
    info.systemModstamp = sfDateTime(this.store.now());
    this.store.db.prepare('UPDATE jobs SET info = ? WHERE id = ?').run(JSON.stringify(info), info.id);
  }

  private create(kind: 'ingest' | 'query', info: Omit<JobInfo, 'id' | 'createdById' | 'createdDate' | 'systemModstamp' | 'retries' | 'totalProcessingTime' | 'numberRecordsProcessed' | 'concurrencyMode' | 'contentType' | 'columnDelimiter'>): JobInfo {
    const id = makeId('750', ++this.jobCounter + Math.floor(Date.now() / 1000) * 1000);
    const now = sfDateTime(this.store.now());
    const full: JobInfo = {
      id, createdById: '005Em0000000001AAA', createdDate: now, systemModstamp: now, concurrencyMode: 'Parallel',
      contentType: 'CSV', columnDelimiter: 'COMMA', retries: 0, totalProcessingTime: 0, numberRecordsProcessed: 0, ...info,
    };
    this.store.db.prepare('INSERT INTO jobs (id, kind, info) VALUES (?, ?, ?)').run(id, kind, JSON.stringify(full));
    return full;
  }

  handle(req: SfRequest): SfResponse {
    const [, kind, id, sub] = req.segments; // ['jobs', 'ingest'|'query', id?, sub?]
    if (kind === 'ingest') return this.ingest(req, id, sub);
    if (kind === 'query') return this.query(req, id, sub);
    throw sfError(404, 'NOT_FOUND', 'The requested resource does not exist');
  }

  private ingest(req: SfRequest, id: string | undefined, sub: string | undefined): SfResponse {
    if (id === undefined && req.method === 'POST') {
      const b = (jsonBody(req) ?? {}) as Record<string, unknown>;
      const o = typeof b.object === 'string' ? sobjectOf(b.object) : undefined;
      if (!o) throw sfError(400, 'INVALIDJOB', `InvalidJob : Invalid object: ${String(b.object)}`);
      const op = String(b.operation);
      if (!INGEST_OPS.includes(op)) throw sfError(400, 'INVALIDJOB', `InvalidJob : Invalid operation: ${op}`);
      let ext: string | undefined;
      if (op === 'upsert') {
        const f = typeof b.externalIdFieldName === 'string' ? fieldOf(o, b.externalIdFieldName) : undefined;
        if (!f || (!f.externalId && f.name !== 'Id')) throw sfError(400, 'INVALIDJOB', `InvalidJob : Field name provided, ${String(b.externalIdFieldName)} is not an External ID or indexed field for ${o.name}`);
        ext = f.name;
      }
      const info = this.create('ingest', {
        operation: op, object: o.name, state: 'Open', apiVersion: Number(req.version), jobType: 'V2Ingest',
        lineEnding: b.lineEnding === 'CRLF' ? 'CRLF' : 'LF', ...(ext ? { externalIdFieldName: ext } : {}),
      });
      info.contentUrl = `services/data/v${req.version}/jobs/ingest/${info.id}/batches`;
      this.save(info);
      return { status: 200, body: info };
    }
    if (id === undefined && req.method === 'GET') {
      const rows = this.store.db.prepare("SELECT info FROM jobs WHERE kind = 'ingest' ORDER BY id").pluck().all() as string[];
      return { status: 200, body: { done: true, records: rows.map((r) => JSON.parse(r) as unknown), nextRecordsUrl: null } };
    }
    if (id === undefined) throw sfError(405, 'METHOD_NOT_ALLOWED', 'HTTP Method not allowed');
    const { info } = this.load(id, 'ingest');
    if (sub === undefined && req.method === 'GET') return { status: 200, body: info };
    if (sub === undefined && req.method === 'DELETE') {
      this.store.db.prepare('DELETE FROM jobs WHERE id = ?').run(id);
      return { status: 204 };
    }
    if (sub === undefined && req.method === 'PATCH') {
      const state = (jsonBody(req) as { state?: unknown } | undefined)?.state;
      if (state === 'Aborted' && ['Open', 'UploadComplete'].includes(info.state)) {
        info.state = 'Aborted';
        this.save(info);
        return { status: 200, body: info };
      }
      if (state !== 'UploadComplete' || info.state !== 'Open') throw sfError(409, 'INVALIDJOBSTATE', `Job is in state ${info.state}; cannot change it to ${String(state)}`);
      info.state = 'UploadComplete';
      this.save(info);
      this.later(() => this.runIngest(id));
      return { status: 200, body: info };
    }
    if (sub === 'batches' && req.method === 'PUT') {
      if (info.state !== 'Open') throw sfError(409, 'INVALIDJOBSTATE', `Job is in state ${info.state}; data can only be uploaded to an Open job`);
      if (!(header(req, 'content-type') ?? '').startsWith('text/csv')) throw sfError(400, 'INVALIDJOB', 'InvalidJob : Content-Type must be text/csv');
      this.store.db.prepare('UPDATE jobs SET upload = upload || ? WHERE id = ?').run(req.raw, id);
      return { status: 201 };
    }
    if (req.method === 'GET' && (sub === 'successfulResults' || sub === 'failedResults' || sub === 'unprocessedrecords')) {
      const col = sub === 'successfulResults' ? 'successful' : sub === 'failedResults' ? 'failed' : 'unprocessed';
      const text = this.store.db.prepare(`SELECT ${col} FROM jobs WHERE id = ?`).pluck().get(id) as string;
      return { status: 200, body: text, contentType: 'text/csv' };
    }
    throw sfError(405, 'METHOD_NOT_ALLOWED', 'HTTP Method not allowed');
  }

  private async runIngest(id: string): Promise<void> {
    const started = Date.now();
    const { info, upload } = this.load(id, 'ingest');
    if (info.state !== 'UploadComplete') return;
    info.state = 'InProgress';
    this.save(info);
    let rows: Record<string, string>[];
    let columns: string[] = [];
    try {
      rows = parse(upload, { columns: (h: string[]) => ((columns = h), h), skip_empty_lines: true, bom: true }) as Record<string, string>[];
    } catch (err) {
      info.state = 'Failed';
      info.errorMessage = `InvalidBatch : ${err instanceof Error ? err.message : String(err)}`;
      this.save(info);
      return;
    }
    const o = sobjectOf(info.object)!;
    const unknown = columns.find((c) => !fieldOf(o, c));
    if (unknown !== undefined) {
      info.state = 'Failed';
      info.errorMessage = `InvalidBatch : Field name not found : ${unknown}`;
      this.store.db.prepare('UPDATE jobs SET unprocessed = ? WHERE id = ?').run(upload, id);
      this.save(info);
      return;
    }
    const ok: string[][] = [];
    const failed: string[][] = [];
    for (let i = 0; i < rows.length; i += CHUNK) {
      this.store.transaction(() => {
        for (const row of rows.slice(i, i + CHUNK)) {
          const original = columns.map((c) => row[c] ?? '');
          try {
            const r = this.applyRow(info, row);
            ok.push([r.id, r.created ? 'true' : 'false', ...original]);
          } catch (err) {
            if (!(err instanceof RecordProblem)) throw err;
            failed.push(['', `${err.statusCode}:${err.message}:${err.fields.join(',')} --`, ...original]);
          }
        }
      });
      // Let polls and other requests in between chunks.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.closed) return;
    }
    const csv = (head: string[], body: string[][]): string => stringify([[...head, ...columns], ...body], { quoted: true });
    this.store.db.prepare('UPDATE jobs SET successful = ?, failed = ? WHERE id = ?').run(csv(['sf__Id', 'sf__Created'], ok), csv(['sf__Id', 'sf__Error'], failed), id);
    info.state = 'JobComplete';
    info.numberRecordsProcessed = rows.length;
    info.numberRecordsFailed = failed.length;
    info.totalProcessingTime = Date.now() - started;
    this.save(info);
  }

  /** One CSV row: '' leaves a field as it is, `#N/A` clears it. */
  private applyRow(info: JobInfo, row: Record<string, string>): { id: string; created: boolean } {
    const o = sobjectOf(info.object)!;
    const values: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(row)) {
      if (v === '') continue;
      values[fieldOf(o, k)!.name] = v === '#N/A' ? null : v;
    }
    const idOf = (): string => {
      const id = typeof values.Id === 'string' ? normalizeId(values.Id) : undefined;
      if (!id) throw new RecordProblem('MISSING_ARGUMENT', 'Id not specified', ['Id']);
      return id;
    };
    switch (info.operation) {
      case 'insert':
        return { id: this.store.insert(o, values), created: true };
      case 'update': {
        const id = idOf();
        this.store.update(o, id, values);
        return { id, created: false };
      }
      case 'delete': case 'hardDelete': {
        const id = idOf();
        this.store.delete(o, id);
        return { id, created: false };
      }
      default: {
        const field = info.externalIdFieldName!;
        const key = values[field];
        if (key === undefined || key === null) throw new RecordProblem('MISSING_ARGUMENT', `${field} not specified`, [field]);
        try {
          return this.store.upsert(o, field, String(key), values);
        } catch (err) {
          if (err instanceof RecordProblem && err.matches) {
            throw new RecordProblem('DUPLICATE_EXTERNAL_ID', `${field}: more than one record found for external id field: [${err.matches.join(', ')}]`, [field]);
          }
          throw err;
        }
      }
    }
  }

  private query(req: SfRequest, id: string | undefined, sub: string | undefined): SfResponse {
    if (id === undefined && req.method === 'POST') {
      const b = (jsonBody(req) ?? {}) as Record<string, unknown>;
      const op = b.operation === 'queryAll' ? 'queryAll' : 'query';
      const compiled = compileSoql(String(b.query ?? ''), op === 'queryAll');
      const info = this.create('query', {
        operation: op, object: compiled.sobject.name, state: 'UploadComplete', apiVersion: Number(req.version), jobType: 'V2Query',
        lineEnding: b.lineEnding === 'CRLF' ? 'CRLF' : 'LF', query: String(b.query),
      });
      this.later(() => this.runQueryJob(info.id));
      return { status: 200, body: info };
    }
    if (id === undefined) throw sfError(405, 'METHOD_NOT_ALLOWED', 'HTTP Method not allowed');
    const { info } = this.load(id, 'query');
    if (sub === undefined && req.method === 'GET') return { status: 200, body: info };
    if (sub === undefined && req.method === 'DELETE') {
      this.store.db.prepare('DELETE FROM jobs WHERE id = ?').run(id);
      return { status: 204 };
    }
    if (sub === 'results' && req.method === 'GET') {
      if (info.state !== 'JobComplete') throw sfError(412, 'JOB_NOT_COMPLETE', `Job ${id} is not complete (state ${info.state})`);
      return this.results(info, req);
    }
    throw sfError(405, 'METHOD_NOT_ALLOWED', 'HTTP Method not allowed');
  }

  private runQueryJob(id: string): void {
    const { info } = this.load(id, 'query');
    info.state = 'InProgress';
    this.save(info);
    const compiled = compileSoql(info.query ?? '', info.operation === 'queryAll');
    const ids = matchingIds(this.store, compiled);
    snapshot(this.store, compiled.sobject.name, compiled.fields, ids, id);
    info.state = 'JobComplete';
    info.numberRecordsProcessed = ids.length;
    this.save(info);
  }

  private results(info: JobInfo, req: SfRequest): SfResponse {
    const loc = this.store.db.prepare('SELECT fields, total FROM locators WHERE id = ?').get(info.id) as { fields: string; total: number };
    const fields = JSON.parse(loc.fields) as string[];
    const offset = req.query.get('locator') ? parseInt(req.query.get('locator') ?? '0', 36) : 0;
    const max = Math.max(1, Number(req.query.get('maxRecords') ?? this.defaultMaxRecords) || this.defaultMaxRecords);
    const ids = this.store.db.prepare('SELECT id FROM locator_rows WHERE locator = ? AND seq >= ? ORDER BY seq LIMIT ?').pluck().all(info.id, offset, max) as string[];
    const rows = loadPage(this.store, ids).map((r: StoredRecord) => fields.map((f) => csvValue(valueOf(r, f))));
    const next = offset + ids.length;
    return {
      status: 200,
      contentType: 'text/csv',
      body: stringify([fields, ...rows], { quoted: true }),
      headers: { 'Sforce-Locator': next >= loc.total ? 'null' : next.toString(36), 'Sforce-NumberOfRecords': String(ids.length) },
    };
  }
}

function csvValue(v: unknown): string {
  if (v === null || v === undefined) return '';
  return typeof v === 'string' ? v : String(v);
}
