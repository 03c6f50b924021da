import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHubSpotConnector, unlimitedGovernor } from '../../connectors/hubspot';
import { createSqlConnector } from '../../connectors/sql/connector';
import { createTrytonConnector } from '../../connectors/tryton/connector';
import { openPostgresSql } from '../../connectors/sql/postgres';
import { openSqlite } from '../../connectors/sql/sqlite';
import type { SqlSystem } from '../../connectors/sql/config';
import { isNativeWriter, type Connector, type NativeWriter } from '../../connectors/types';
import { startHubSpotEmulator, type HubSpotEmulator } from '../../emulators/hubspot';
import { startTryton, type TrytonInstance } from '../../scripts/tryton';
import { createSalesforceConnector, unlimitedApiGovernor } from '../../connectors/salesforce';
import { startSalesforceEmulator, type SalesforceEmulator } from '../../emulators/salesforce';
import { startPostgres, type TestPostgres } from '../helpers/postgres';

/**
 * One suite every connector that can be a side of a two-way pair passes (issue 8 item 9). What
 * it fixes as the contract of `NativeWriter`:
 * - `describe()` names the system and kind, a positive `maxBatchSize` and the entity written.
 * - A call larger than `maxBatchSize` is **split** by the connector, not refused: every request
 *   gets its outcome.
 * - One outcome per request, **in request order**, `externalKey` = the request's `ref` (insert) or
 *   `key` (patch); a record that does not exist is `ok: false` with `NotFound`, the others still
 *   succeed.
 * - The same key twice in one patch call: both apply, in order (the last value stays), two outcomes.
 * - A request the system's answer says nothing about is `ok: false` (`Transient`), never a
 *   missing outcome (checked per connector below, where the answer can be made to lose one).
 */

jest.setTimeout(240_000);

interface Subject {
  connector: Connector & NativeWriter;
  entity: string;
  /** Native values of a new record named `name`. */
  row(name: string): Record<string, unknown>;
  /** The native field holding the name, as patched and as read back. */
  nameField: string;
  /** A key no record has. */
  missingKey: string;
  close(): Promise<void>;
}

function conformance(label: string, open: () => Promise<Subject>): void {
  describe(`${label}: NativeWriter conformance`, () => {
    let s: Subject;
    beforeAll(async () => {
      s = await open();
    });
    afterAll(async () => {
      await s?.close();
    });
    const nameOf = async (key: string) => (await s.connector.read(s.entity, [key]))[0]?.data[s.nameField];

    test('describe() names the system, a positive batch limit and the written entity', () => {
      const d = s.connector.describe();
      expect(typeof d.system).toBe('string');
      expect(typeof d.kind).toBe('string');
      expect(Number.isInteger(d.maxBatchSize) && d.maxBatchSize > 0).toBe(true);
      expect(d.entities.find((e) => e.name === s.entity)).toMatchObject({ canRead: true, canWrite: true });
      expect(isNativeWriter(s.connector)).toBe(true);
    });

    test('an insert larger than maxBatchSize is split: one created outcome per row, in order, each readable', async () => {
      const n = s.connector.describe().maxBatchSize + 1;
      const rows = Array.from({ length: n }, (_, i) => ({ ref: `r-${i}`, values: s.row(`Bulk ${i}`) }));
      const out = await s.connector.insertNative(s.entity, rows);
      expect(out).toHaveLength(n);
      expect(out.map((o) => [o.externalKey, o.ok])).toEqual(rows.map((r) => [r.ref, true]));
      const keys = out.map((o) => (o.ok ? o.targetKey : ''));
      expect(new Set(keys).size).toBe(n);
      const read = await s.connector.read(s.entity, [keys[0]!, keys[n - 1]!]);
      expect(read.map((r) => r.data[s.nameField]).sort()).toEqual(['Bulk 0', `Bulk ${n - 1}`].sort());
    });

    test('one outcome per patch, in order; a missing record is NotFound and the others still apply', async () => {
      const created = await s.connector.insertNative(s.entity, [
        { ref: 'a', values: s.row('A') },
        { ref: 'b', values: s.row('B') },
      ]);
      const [a, b] = created.map((o) => (o.ok ? o.targetKey : ''));
      const out = await s.connector.patchNative(s.entity, [
        { key: a!, values: { [s.nameField]: 'A2' } },
        { key: s.missingKey, values: { [s.nameField]: 'nobody' } },
        { key: b!, values: { [s.nameField]: 'B2' } },
      ]);
      expect(out.map((o) => [o.externalKey, o.ok])).toEqual([
        [a, true],
        [s.missingKey, false],
        [b, true],
      ]);
      expect(out[1]!.ok ? null : out[1]!.error.type).toBe('NotFound');
      expect([await nameOf(a!), await nameOf(b!)]).toEqual(['A2', 'B2']);
    });

    test('the same key twice in one patch call: both apply in order, two outcomes', async () => {
      const [c] = await s.connector.insertNative(s.entity, [{ ref: 'c', values: s.row('C') }]);
      const key = c!.ok ? c!.targetKey : '';
      const out = await s.connector.patchNative(s.entity, [
        { key, values: { [s.nameField]: 'first' } },
        { key, values: { [s.nameField]: 'second' } },
      ]);
      expect(out.map((o) => [o.externalKey, o.ok])).toEqual([
        [key, true],
        [key, true],
      ]);
      expect(await nameOf(key)).toBe('second');
    });

    test('empty calls write nothing and return no outcomes', async () => {
      expect(await s.connector.insertNative(s.entity, [])).toEqual([]);
      expect(await s.connector.patchNative(s.entity, [])).toEqual([]);
    });
  });
}

conformance('SQL (sqlite)', () => {
  const db = openSqlite(':memory:');
  const system: SqlSystem = {
    kind: 'sql',
    dialect: 'sqlite',
    path: ':memory:',
    entities: {
      customers: { table: 'customers', keyColumn: 'id', keyType: 'integer', modifiedAtColumn: 'updated_at', externalKeyColumn: 'external_key', fields: { name: 'name' } },
    },
  };
  return db
    .transaction((tx) => tx.all('CREATE TABLE customers (id INTEGER PRIMARY KEY AUTOINCREMENT, external_key TEXT UNIQUE, name TEXT NOT NULL, updated_at TEXT NOT NULL)', []))
    .then(() => ({
      connector: createSqlConnector(system, 'conformance', db),
      entity: 'customers',
      row: (name: string) => ({ name }),
      nameField: 'name',
      missingKey: '999999999',
      close: () => db.close(),
    }));
});

let pg: TestPostgres | undefined;
afterAll(async () => {
  await pg?.stop();
});

conformance('SQL (postgres)', async () => {
  pg = await startPostgres();
  const db = openPostgresSql(await pg.createDatabase('conformance'));
  const system: SqlSystem = {
    kind: 'sql',
    dialect: 'postgres',
    urlEnv: 'CONFORMANCE_PG_URL',
    entities: {
      customers: { table: 'customers', keyColumn: 'id', keyType: 'integer', modifiedAtColumn: 'updated_at', externalKeyColumn: 'external_key', fields: { name: 'name' } },
    },
  };
  await db.transaction((tx) => tx.all('CREATE TABLE customers (id serial PRIMARY KEY, external_key text UNIQUE, name text NOT NULL, updated_at timestamptz NOT NULL)', []));
  return {
    connector: createSqlConnector(system, 'conformance', db),
    entity: 'customers',
    row: (name: string) => ({ name }),
    nameField: 'name',
    missingKey: '999999999',
    close: () => db.close(),
  };
});

let emu: HubSpotEmulator | undefined;
let dir: string | undefined;
afterAll(async () => {
  await emu?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

conformance('HubSpot (emulator)', async () => {
  const token = 'pat-na1-conformance';
  dir = mkdtempSync(join(tmpdir(), 'conformance-'));
  emu = await startHubSpotEmulator({ token, dbPath: join(dir, 'emulator.db') });
  const connector = createHubSpotConnector({ accessToken: token, basePath: emu.baseUrl, governor: unlimitedGovernor });
  return { connector, entity: 'companies', row: (name: string) => ({ name }), nameField: 'name', missingKey: '987654321', close: () => connector.close() };
});

let tryton: TrytonInstance | undefined;
afterAll(async () => {
  await tryton?.stop();
});

conformance('Tryton (real trytond, parties)', async () => {
  tryton = await startTryton();
  // A small batch limit, so the split above maxBatchSize is exercised without hundreds of parties.
  const connector = createTrytonConnector({ url: tryton.url, database: tryton.database, user: tryton.user, password: tryton.password, maxBatchSize: 10 });
  return { connector, entity: 'parties', row: (name: string) => ({ name }), nameField: 'name', missingKey: '987654321', close: () => connector.close() };
});

let sfEmu: SalesforceEmulator | undefined;
afterAll(async () => {
  await sfEmu?.stop();
});

conformance('Salesforce (emulator, jsforce)', async () => {
  const token = '00DEm0000000001!conformance';
  sfEmu = await startSalesforceEmulator({ token });
  // maxBatchSize 300: the insert of 301 rows crosses a Collections call (200) boundary.
  const connector = createSalesforceConnector({ instanceUrl: sfEmu.baseUrl, auth: { kind: 'token', accessToken: token }, governor: unlimitedApiGovernor(), maxBatchSize: 300 });
  return { connector, entity: 'accounts', row: (name: string) => ({ Name: name }), nameField: 'Name', missingKey: '001Em0000000zzzIAA', close: () => connector.close() };
});

describe('HubSpot: an answer that loses a record', () => {
  let server: http.Server;
  let base: string;
  beforeAll(async () => {
    // Answers every batch call with a complete, empty result: HubSpot said nothing about the records.
    server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(req.url?.includes('/batch/create') ? 201 : 200, { 'content-type': 'application/json' });
        const now = new Date().toISOString();
        res.end(JSON.stringify({ status: 'COMPLETE', results: [], startedAt: now, completedAt: now }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
  });

  test('is an ok:false Transient outcome for that record, not a missing outcome', async () => {
    const c = createHubSpotConnector({ accessToken: 'pat-na1-lossy', basePath: base, governor: unlimitedGovernor });
    try {
      const patched = await c.patchNative('companies', [{ key: '1', values: { name: 'x' } }]);
      const created = await c.insertNative('companies', [{ ref: 'n', values: { name: 'y' } }]);
      for (const [out, key] of [
        [patched, '1'],
        [created, 'n'],
      ] as const) {
        expect(out).toHaveLength(1);
        expect(out[0]).toMatchObject({ externalKey: key, ok: false, error: { type: 'Transient' } });
      }
    } finally {
      await c.close();
    }
  });
});
