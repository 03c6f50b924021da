import { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import Database from 'better-sqlite3';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { TASK_QUEUES, type PipelineFamily } from '../../contracts/queues';
import type { SyncResult } from '../../contracts/sync';
import { demoPaths, seedDemo } from '../../demo/seed';
import { startHubSpotEmulator, type HubSpotEmulator } from '../../emulators/hubspot';
import { loadRegistry } from '../../pipelines/load';
import { codecFromEnv, ENCODING_ENCRYPTED } from '../../workers/codec';
import { startDevEnv, type DevEnv } from '../helpers/env';
import { historyPayloads } from '../helpers/history-payloads';
import { spawnWorker, stopAllWorkers, type WorkerProcess } from '../helpers/worker-process';

/**
 * Issue 10, item 5: no personal data and no secrets where they do not belong. Distinctive
 * personal data (names, emails, phone numbers carrying marker strings, valid ones that sync and
 * invalid ones that are quarantined) is seeded into the demo CRM, secrets (the HubSpot token, the
 * codec key) into the worker's environment; every shipped pipeline that runs here without
 * Tryton runs through a worker process (its log at INFO). Then every workflow history (every
 * run, the whole protobuf: inputs, results, failures, markers), the worker's whole output, and
 * the dev server's SQLite database and log are scanned: zero hits. With the codec off, history
 * must hold keys, counts and hashes only; with it on, what a client without the codec sees
 * must be just as clean. Control: the same markers are found in the targets (the data did flow),
 * and a scan of the decoded encrypted history finds the pipeline name (the scan can see).
 */

jest.setTimeout(600_000);

const SECRET_TOKEN = 'pat-na1-qzsecret-7f3c2a91-token';
const CODEC_KEY = `k-pii:${Buffer.from('qzsecret-codec-key-32-bytes-long').toString('base64')}`;
/** Marker strings: each occurs only in the values seeded below (checked before seeding). */
const PII = {
  name: 'Qzpiiname',
  person: 'Qzpiiperson',
  email: 'qzpiimail',
  phone: '77319462',
  badPhone: 'Qzpiibadphone',
  badEmail: 'qzpiibademail',
  street: 'Qzpiistreet',
};
const SECRETS = [SECRET_TOKEN, 'qzsecret', Buffer.from('qzsecret-codec-key-32-bytes-long').toString('base64')];
const MARKERS = [...Object.values(PII), ...SECRETS];

let env: DevEnv;
let emulator: HubSpotEmulator;
let dir: string;
let n = 0;

beforeAll(async () => {
  env = await startDevEnv();
  emulator = await startHubSpotEmulator({ token: SECRET_TOKEN });
  dir = path.join(env.tmp, 'demo');
  seedDemo(dir, { accounts: 300, contacts: 600, products: 100 });
});

afterAll(async () => {
  await stopAllWorkers();
  await emulator?.stop();
  await env?.teardown();
});

/** Markers found in `bytes` (case-insensitive for the ASCII markers). */
function hits(bytes: Buffer | string, where: string): string[] {
  const text = (typeof bytes === 'string' ? bytes : bytes.toString('latin1')).toLowerCase();
  return MARKERS.filter((m) => text.includes(m.toLowerCase())).map((m) => `${m} in ${where}`);
}

/** Every row of every table of a SQLite file, as text (the file alone misses what is still in its WAL). */
function dbText(file: string): string {
  const db = new Database(file, { readonly: true });
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[];
    return tables.map((t) => JSON.stringify(db.prepare(`SELECT * FROM "${t.name}"`).all())).join('\n');
  } finally {
    db.close();
  }
}

function seedPii(): void {
  const { crm } = demoPaths(dir);
  const db = new Database(crm);
  const all = db.prepare("SELECT group_concat(company_name || email || phone || street, '') t FROM accounts").get() as { t: string };
  const people = db.prepare("SELECT group_concat(full_name || email || coalesce(phone, ''), '') t FROM contacts").get() as { t: string };
  expect(hits(all.t + people.t, 'the seeded demo data')).toEqual([]);
  const now = new Date().toISOString();
  const acc = db.prepare('UPDATE accounts SET company_name = ?, email = ?, phone = ?, street = ?, country = ?, updated_at = ? WHERE id = ?');
  db.transaction(() => {
    // valid: synced into the ERP and on into HubSpot and back
    acc.run(`${PII.name} Holdings GmbH`, `${PII.email}@example.com`, '+49 30 7731 9462', `${PII.street} 12`, 'DE', now, 11);
    acc.run(`${PII.name} Two AG`, `${PII.email}.two@example.com`, '030 7731 9462', `${PII.street} 14`, 'Germany', now, 12);
    // invalid: quarantined with a reason that quotes the value (in the state store only)
    acc.run(`${PII.name} Bad Phone GmbH`, `${PII.email}.three@example.com`, `12-34 ${PII.badPhone}`, `${PII.street} 16`, 'DE', now, 13);
    acc.run(`${PII.name} Bad Mail GmbH`, `${PII.badEmail}@@example`, '+49 30 7731 9462', `${PII.street} 18`, 'DE', now, 14);
  })();
  const con = db.prepare('UPDATE contacts SET account_id = 11, full_name = ?, email = ?, phone = ?, updated_at = ? WHERE id = ?');
  db.transaction(() => {
    con.run(`${PII.person} Mustermann`, `${PII.email}.person@example.com`, '+49 30 7731 9462', now, 21);
    con.run(`${PII.person} Bad`, `${PII.badEmail}.person@@x`, `${PII.badPhone}`, now, 22);
  })();
  db.close();
}

/** Every shipped pipeline a worker can run here: the SQL and HubSpot families (Tryton needs a trytond). */
function shippedPipelines(): { name: string; family: PipelineFamily }[] {
  const registry = loadRegistry({ env: { DEMO_DATA_DIR: dir } });
  const all = [...registry.pipelines.values()].map((p) => ({ name: p.name, family: p.family as PipelineFamily, reads: p.source.system, writes: p.target.system }));
  const runnable = all.filter((p) => p.family === 'sql' || p.family === 'hubspot').filter((p) => p.reads !== 'tryton' && p.writes !== 'tryton');
  // CRM → ERP first, then ERP → HubSpot, then HubSpot → ERP (so each reads what the one before wrote).
  const order = (p: { reads: string; writes: string }) => (p.reads === 'demo-crm' ? 0 : p.writes === 'hubspot' ? 1 : 2);
  return runnable.sort((a, b) => order(a) - order(b) || a.name.localeCompare(b.name)).map(({ name, family }) => ({ name, family }));
}

function worker(extra: Record<string, string>): WorkerProcess {
  return spawnWorker({
    TEMPORAL_ADDRESS: env.server.address,
    WORKER_FAMILIES: 'sql,hubspot',
    WORKER_LOG_LEVEL: 'INFO',
    DEMO_DATA_DIR: dir,
    SYNC_STATE_DB: path.join(dir, 'state.db'),
    HUBSPOT_BASE_PATH: emulator.baseUrl,
    HUBSPOT_ACCESS_TOKEN: SECRET_TOKEN,
    HUBSPOT_GOVERNOR_DB: path.join(env.tmp, 'governor.db'),
    HUBSPOT_ACCOUNT: 'pii-test',
    ...extra,
  });
}

async function runAll(client: Client, pipelines: { name: string; family: PipelineFamily }[], prefix: string): Promise<Map<string, string>> {
  const outcomes = new Map<string, string>();
  for (const p of pipelines) {
    const h = await client.workflow.start('syncPipeline', {
      taskQueue: TASK_QUEUES[p.family],
      workflowId: `${prefix}-${p.name}-${++n}`,
      args: [{ pipeline: p.name, mode: 'full', pageSize: 100 }],
    });
    try {
      const r = (await h.result()) as SyncResult;
      outcomes.set(p.name, r.status);
    } catch (err) {
      // A failure is scanned like everything else (its message is in the history); it is noted.
      outcomes.set(p.name, `failed: ${(err as Error).message}`);
    }
  }
  return outcomes;
}

/** Every run of every workflow on the server, as protobuf bytes (everything the server holds for it). */
async function allHistories(client: Client): Promise<{ id: string; history: temporal.api.history.v1.History }[]> {
  const out: { id: string; history: temporal.api.history.v1.History }[] = [];
  for await (const wf of client.workflow.list()) {
    const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
    out.push({ id: `${wf.workflowId}/${wf.runId}`, history: temporal.api.history.v1.History.create(history) });
  }
  return out;
}

const historyBytes = (h: temporal.api.history.v1.History): Buffer => Buffer.from(temporal.api.history.v1.History.encode(h).finish());

describe('personal data and secrets stay out of history, logs and the server database', () => {
  let pipelines: { name: string; family: PipelineFamily }[];

  test('codec off: every shipped pipeline runs; histories carry keys, counts and hashes only; the worker log is clean', async () => {
    seedPii();
    pipelines = shippedPipelines();
    expect(pipelines.map((p) => p.name)).toEqual(expect.arrayContaining(['demo-accounts', 'demo-contacts', 'demo-products', 'erp-customers-to-hubspot', 'hubspot-companies-to-erp']));
    const w = worker({});
    await w.ready;
    const outcomes = await runAll(env.client, pipelines, 'plain');
    console.log(`pipelines: ${JSON.stringify(Object.fromEntries(outcomes))}`);
    for (const p of ['demo-accounts', 'demo-contacts', 'demo-products', 'erp-customers-to-hubspot']) expect(outcomes.get(p)).toBe('completed');

    // Control: the personal data did flow (ERP, HubSpot) and was quarantined with its values (state store).
    const { erp } = demoPaths(dir);
    expect(hits(dbText(erp), 'erp.db')).toEqual(expect.arrayContaining([`${PII.name} in erp.db`, `${PII.email} in erp.db`, `${PII.phone} in erp.db`, `${PII.person} in erp.db`]));
    expect(hits(JSON.stringify(emulator.store.list('companies', 0, 10_000, false)), 'HubSpot')).toEqual(expect.arrayContaining([`${PII.name} in HubSpot`]));
    expect(hits(dbText(path.join(dir, 'state.db')), 'state.db')).toEqual(expect.arrayContaining([`${PII.badPhone} in state.db`]));

    // Control: a history that does carry personal data (an input with a misspelt field holding a
    // name; the workflow refuses it at once) is found by the same scan.
    const control = await env.client.workflow.start('syncPipeline', {
      taskQueue: TASK_QUEUES.sql,
      workflowId: 'control-leak',
      args: [{ pipeline: 'demo-accounts', note: `${PII.person} Control` } as never],
    });
    await expect(control.result()).rejects.toThrow();

    const histories = await allHistories(env.client);
    expect(histories.length).toBeGreaterThanOrEqual(pipelines.length + 1);
    const found = histories.flatMap(({ id, history }) => hits(historyBytes(history), `history ${id}`));
    expect(found.filter((f) => f.includes('control-leak'))).toEqual([`${PII.person} in history control-leak/${control.firstExecutionRunId}`]);
    expect(found.filter((f) => !f.includes('control-leak'))).toEqual([]);
    // The payloads are plain JSON here (codec off): the scan above read them as they are.
    expect(historyPayloads(histories[0]!.history).some((p) => Buffer.from(p.metadata!.encoding!).toString() === 'json/plain')).toBe(true);
    expect(hits(w.output(), 'the worker log')).toEqual([]);
    expect(w.output()).toMatch(/worker ready/);
  });

  test('codec on: what a client without the codec sees is just as clean; decoded, the payloads are there', async () => {
    await stopAllWorkers();
    const keys = { SYNC_CODEC_KEYS: CODEC_KEY };
    const w = worker(keys);
    await w.ready;
    const codec = codecFromEnv(keys)!;
    const client = new Client({ connection: env.connection, dataConverter: { payloadCodecs: [codec] } });
    const outcomes = await runAll(client, pipelines.filter((p) => p.name === 'demo-accounts' || p.name === 'erp-customers-to-hubspot'), 'enc');
    expect([...outcomes.values()]).toEqual(['completed', 'completed']);

    const encrypted = (await allHistories(env.client)).filter((h) => h.id.startsWith('enc-'));
    expect(encrypted.length).toBeGreaterThanOrEqual(2);
    for (const { id, history } of encrypted) {
      expect(hits(historyBytes(history), `history ${id}`)).toEqual([]);
      const payloads = historyPayloads(history);
      expect(payloads.every((p) => Buffer.from(p.metadata!.encoding!).toString() === ENCODING_ENCRYPTED)).toBe(true);
      // Control: decoded with the codec, the payloads hold the (non-personal) pipeline name.
      const decoded = await codec.decode(payloads);
      expect(decoded.some((p) => Buffer.from(p.data!).includes(Buffer.from('"pipeline"')))).toBe(true);
    }
    expect(hits(w.output(), 'the worker log')).toEqual([]);
  });

  test("the dev server's database and log hold none of it", async () => {
    await stopAllWorkers();
    const files = ['temporal.db', 'temporal.db-wal', 'temporal.log'].map((f) => path.join(env.tmp, f)).filter((f) => existsSync(f));
    expect(files.some((f) => f.endsWith('temporal.db'))).toBe(true);
    // Control: the database holds the plain histories' payloads (a workflow input is in it).
    const db = readFileSync(path.join(env.tmp, 'temporal.db'));
    const wal = existsSync(path.join(env.tmp, 'temporal.db-wal')) ? readFileSync(path.join(env.tmp, 'temporal.db-wal')) : Buffer.alloc(0);
    expect(Buffer.concat([db, wal]).includes(Buffer.from('"pipeline":"demo-accounts"'))).toBe(true);
    // The control workflow's input (test 1) is the one personal value the server may hold: the
    // scan must find exactly it, and nothing else.
    const bytes = files.map((f) => [f, readFileSync(f)] as const);
    const found = bytes.flatMap(([f, b]) => hits(b, path.basename(f)));
    expect(new Set(found.map((f) => f.split(' in ')[0]))).toEqual(new Set([PII.person]));
    const withoutControl = bytes.map(([f, b]) => [f, Buffer.from(b.toString('latin1').split(`${PII.person} Control`).join(''), 'latin1')] as const);
    expect(withoutControl.flatMap(([f, b]) => hits(b, path.basename(f)))).toEqual([]);
  });
});
