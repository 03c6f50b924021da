import Database from 'better-sqlite3';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { demoPaths, seedDemo } from '../../demo/seed';
import { ConfigFileError, loadRegistry, PROJECT_CONFIG } from '../../pipelines/load';
import { openSqliteStateStore } from '../../state/sqlite-store';
import type { StateStore } from '../../state/types';
import { migrateKeyPrefixes } from '../../workers/key-prefixes';

let dir: string;
let store: StateStore;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'key-prefixes-'));
  seedDemo(dir, { accounts: 0, contacts: 0, products: 0 });
  store = openSqliteStateStore(path.join(dir, 'state.db'));
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const NOW = '2026-01-01T00:00:00.000Z';
function erp() {
  return new Database(demoPaths(dir).erp);
}

describe('migrateKeyPrefixes: an ERP written before HubSpot had its key prefix', () => {
  test('rekeys what HubSpot created, hands back what it overwrote, and runs once', async () => {
    const db = erp();
    const customer = db.prepare('INSERT INTO customers (external_key, name, updated_at) VALUES (?, ?, ?) RETURNING id');
    // CRM accounts 1 and 2 (home source, no prefix), HubSpot company 9001 created by the old
    // pipeline with its bare id, and HubSpot company 2 that overwrote CRM account 2's customer.
    const crm1 = (customer.get('1', 'CRM One', NOW) as { id: number }).id;
    const crm2 = (customer.get('2', 'HubSpot Two (overwrote CRM Two)', NOW) as { id: number }).id;
    const hs9001 = (customer.get('9001', 'HubSpot 9001', NOW) as { id: number }).id;
    const contact = db.prepare(
      'INSERT INTO contacts (external_key, customer_external_key, last_name, updated_at) VALUES (?, ?, ?, ?) RETURNING id',
    );
    const hsContact = (contact.get('77', '9001', 'Hopper', NOW) as { id: number }).id;
    const crmContact = (contact.get('5', '1', 'Lovelace', NOW) as { id: number }).id;
    db.close();

    await store.putBindings('demo-accounts', [
      { sourceKey: '1', targetKey: String(crm1), hash: 'h1' },
      { sourceKey: '2', targetKey: String(crm2), hash: 'h2' },
    ]);
    await store.setCheckpoint('demo-accounts', { modifiedAt: NOW, key: '2' }, 'old');
    await store.putBindings('hubspot-companies-to-erp', [
      { sourceKey: '9001', targetKey: String(hs9001), hash: 'x' },
      { sourceKey: '2', targetKey: String(crm2), hash: 'y' },
    ]);
    await store.putBindings('hubspot-contacts-to-erp', [{ sourceKey: '77', targetKey: String(hsContact), hash: 'z' }]);
    await store.putBindings('demo-contacts', [{ sourceKey: '5', targetKey: String(crmContact), hash: 'c' }]);

    const registry = loadRegistry({ env: { DEMO_DATA_DIR: dir } });
    const report = await migrateKeyPrefixes(registry, store);

    const companies = report.find((r) => r.pipeline === 'hubspot-companies-to-erp')!;
    expect(companies).toMatchObject({ prefix: 'HS-', rekeyed: 1, reclaimed: 1 });
    expect(companies.rereads.sort()).toEqual(['demo-accounts', 'hubspot-companies-to-erp']);
    expect(report.find((r) => r.pipeline === 'hubspot-contacts-to-erp')).toMatchObject({ rekeyed: 1, reclaimed: 0 });
    // pipelines of the home source are not touched
    expect(report.map((r) => r.pipeline).sort()).toEqual(['hubspot-companies-to-erp', 'hubspot-contacts-to-erp']);

    const rows = new Database(demoPaths(dir).erp, { readonly: true });
    const keyOf = (table: string, id: number) => (rows.prepare(`SELECT external_key k FROM ${table} WHERE id = ?`).get(id) as { k: string }).k;
    expect(keyOf('customers', hs9001)).toBe('HS-9001');
    expect(keyOf('customers', crm1)).toBe('1');
    expect(keyOf('customers', crm2)).toBe('2');
    expect(keyOf('contacts', hsContact)).toBe('HS-77');
    // a HubSpot contact's reference to its company moves into HubSpot's key space with it
    expect(rows.prepare('SELECT customer_external_key k FROM contacts WHERE id = ?').get(hsContact)).toEqual({ k: 'HS-9001' });
    expect(rows.prepare('SELECT customer_external_key k FROM contacts WHERE id = ?').get(crmContact)).toEqual({ k: '1' });
    rows.close();

    // HubSpot no longer holds the CRM's customer; the CRM pipeline rewrites it on its next run.
    expect([...(await store.getBindings('hubspot-companies-to-erp', ['2', '9001'])).keys()]).toEqual(['9001']);
    const crmBindings = await store.getBindings('demo-accounts', ['1', '2']);
    expect(crmBindings.get('1')!.hash).toBe('h1');
    expect(crmBindings.get('2')!.hash).toBe('');
    expect(await store.getCheckpoint('demo-accounts')).toBeNull();

    // Once per prefix: a second start changes nothing.
    expect(await migrateKeyPrefixes(registry, store)).toEqual([]);
  });

  test('a fresh state store has nothing to migrate', async () => {
    expect(await migrateKeyPrefixes(loadRegistry({ env: { DEMO_DATA_DIR: dir } }), store)).toEqual([]);
  });
});

describe('key spaces in config', () => {
  function configWith(edit: (systems: Record<string, Record<string, unknown>>) => void): string {
    const configDir = path.join(dir, 'config');
    mkdirSync(configDir, { recursive: true });
    cpSync(path.join(PROJECT_CONFIG.configDir, 'pipelines'), path.join(configDir, 'pipelines'), { recursive: true });
    const systems = JSON.parse(readFileSync(path.join(PROJECT_CONFIG.configDir, 'systems.json'), 'utf8')) as Record<string, Record<string, unknown>>;
    edit(systems);
    writeFileSync(path.join(configDir, 'systems.json'), JSON.stringify(systems));
    return configDir;
  }
  const load = (configDir: string) => () => loadRegistry({ configDir, env: { DEMO_DATA_DIR: dir } });

  test('two sources without their own prefix writing into one entity are refused, naming both and the fix', () => {
    const configDir = configWith((s) => delete s.hubspot!.keyPrefix);
    expect(load(configDir)).toThrow(ConfigFileError);
    expect(load(configDir)).toThrow(/hubspot-companies-to-erp\.json: source\.system: "hubspot" and "demo-crm" .* both write into demo-erp\.customers .* give one of them its own "keyPrefix"/);
  });

  test('two sources sharing one prefix are refused', () => {
    const configDir = configWith((s) => (s['demo-crm']!.keyPrefix = 'HS-'));
    expect(load(configDir)).toThrow(/both write into demo-erp\.customers with key prefixes "HS-" and "HS-"/);
  });

  test('a malformed prefix names systems.json and the path', () => {
    const configDir = configWith((s) => (s.hubspot!.keyPrefix = 'HS'));
    expect(load(configDir)).toThrow(/systems\.json: hubspot\.keyPrefix: expected a letter, then letters or digits, then one of - : _ \./);
  });
});
