import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareCursors } from '../../contracts/cursor';
import type { Cursor } from '../../contracts/cursor';
import { isSyncError } from '../../contracts/errors';
import { createHubSpotConnector, createSqliteGovernor, unlimitedGovernor } from '../../connectors/hubspot';
import type { RateGovernor } from '../../connectors/hubspot';
import type { Connector, WriteRequest } from '../../connectors/types';
import { startHubSpotEmulator } from '../../emulators/hubspot';
import type { HubSpotEmulator } from '../../emulators/hubspot';

/** The HubSpot connector against the emulator, at HubSpot's real limits (190/10 s, 5 searches/s). */

const TOKEN = 'pat-na1-connector-test-secret';
jest.setTimeout(180_000);

let dir: string;
let emu: HubSpotEmulator;
let governor: RateGovernor;
let connector: Connector;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hubspot-connector-'));
  emu = await startHubSpotEmulator({ token: TOKEN, dbPath: join(dir, 'emulator.db') });
  governor = createSqliteGovernor({ path: join(dir, 'governor.db'), account: 'portal-1', per10s: 190 });
  connector = createHubSpotConnector({ accessToken: TOKEN, basePath: emu.baseUrl, governor });
});

afterAll(async () => {
  await connector.close();
  await governor.close();
  await emu.stop();
  rmSync(dir, { recursive: true, force: true });
});

const customer = (key: string, name: string, extra: Record<string, unknown> = {}): WriteRequest => ({
  externalKey: key,
  fields: { externalKey: key, name, active: true, ...extra },
});

describe('incremental read of 20,000 companies', () => {
  it('misses none and duplicates none while records change during the read', async () => {
    const base = Date.now() - 86_400_000;
    emu.store.transaction(() => {
      for (let i = 0; i < 20_000; i++) {
        // 3,000 records share the first timestamp, the rest come in runs of 50.
        const at = i < 3_000 ? base : base + 1 + Math.floor((i - 3_000) / 50);
        emu.store.create('companies', { name: `Company ${i}`, erp_customer_id: `C-${i}` }, at);
      }
    });

    const seen = new Map<string, string[]>(); // id -> modifiedAt of each delivery
    let cursor: Cursor | null = null;
    let pages = 0;
    let hasMore = true;
    while (hasMore) {
      const page = await connector.fetchChanges('companies', { after: cursor, limit: 1_000 });
      let previous = cursor;
      for (const r of page.records) {
        const position = { modifiedAt: r.modifiedAt, key: r.key };
        if (previous) expect(compareCursors(position, previous)).toBeGreaterThan(0);
        previous = position;
        seen.set(r.key, [...(seen.get(r.key) ?? []), r.modifiedAt]);
      }
      cursor = page.nextCursor;
      hasMore = page.hasMore;
      pages++;
      if (pages === 3 || pages === 9) {
        // Change records already read, records not read yet, and add new ones.
        const changes = [
          ...[0, 1, 2, 1_500, 2_999, 3_000].map((i) => customer(`C-${i}`, `Company ${i} (read, changed)`)),
          ...[15_000, 17_777, 19_999].map((i) => customer(`C-${i}`, `Company ${i} (unread, changed)`)),
          ...[1, 2, 3].map((n) => customer(`N-${pages}-${n}`, `New ${pages}-${n}`)),
        ];
        const outcomes = await connector.upsert('companies', changes);
        expect(outcomes.every((o) => o.ok)).toBe(true);
      }
      expect(pages).toBeLessThan(100);
    }

    const rows = emu.store.db
      .prepare("SELECT id, updated_at FROM objects WHERE type = 'companies' AND archived = 0")
      .all() as { id: number; updated_at: number }[];
    expect(rows).toHaveLength(20_006);
    // None missed: every record's latest version was delivered.
    for (const row of rows) {
      const deliveries = seen.get(String(row.id));
      expect(deliveries).toContain(new Date(row.updated_at).toISOString());
    }
    // None duplicated: no version delivered twice, and nothing that is not in HubSpot.
    const ids = new Set(rows.map((r) => String(r.id)));
    for (const [id, deliveries] of seen) {
      expect(new Set(deliveries).size).toBe(deliveries.length);
      expect(ids.has(id)).toBe(true);
    }
    expect(seen.size).toBe(20_006);
    // Only the five records changed after being read (C-0, C-1, C-2, C-1500, C-2999 after page 3)
    // come twice, old and new version; changing them again before re-reading adds no delivery.
    const twice = [...seen.entries()].filter(([, d]) => d.length > 1).map(([id]) => id);
    const keysOf = emu.store.db.prepare("SELECT json_extract(props, '$.erp_customer_id') AS k FROM objects WHERE id = ?");
    expect(twice.map((id) => (keysOf.get(Number(id)) as { k: string }).k).sort()).toEqual(['C-0', 'C-1', 'C-1500', 'C-2', 'C-2999']);
  });
});

describe('batch upsert', () => {
  it('writes 99 of 100 and reports the invalid one with HubSpot message', async () => {
    const batch = Array.from({ length: 100 }, (_, i) =>
      customer(`W-${i}`, `Writer ${i}`, i === 42 ? { segment: 'galactic' } : { segment: 'smb', creditLimit: { amountMinor: 123_456, currency: 'EUR' } }),
    );
    const outcomes = await connector.upsert('companies', batch);
    expect(outcomes.map((o) => o.externalKey)).toEqual(batch.map((w) => w.externalKey));
    const failed = outcomes.filter((o) => !o.ok);
    expect(failed).toEqual([
      {
        externalKey: 'W-42',
        ok: false,
        error: {
          type: 'ValidationError',
          field: 'erp_segment',
          message: expect.stringMatching(/^Property values were not valid: .*galactic was not one of the allowed options/) as unknown as string,
        },
      },
    ]);
    expect(outcomes.filter((o) => o.ok && o.action === 'created')).toHaveLength(99);

    const found = await connector.findByExternalKeys('companies', batch.map((w) => w.externalKey));
    expect(found.size).toBe(99);
    expect(found.has('W-42')).toBe(false);
    const [stored] = await connector.read('companies', [found.get('W-7') ?? '']);
    expect(stored?.data).toMatchObject({ erp_customer_id: 'W-7', erp_credit_limit: '1234.56', erp_credit_currency: 'EUR', erp_segment: 'smb', erp_active: 'true' });

    const again = await connector.upsert('companies', [customer('W-7', 'Writer 7 renamed')]);
    expect(again[0]).toMatchObject({ ok: true, action: 'updated', targetKey: found.get('W-7') });

    await connector.delete('companies', [found.get('W-8') ?? '']);
    expect((await connector.findByExternalKeys('companies', ['W-8'])).size).toBe(0);
  });
});

describe('errors', () => {
  it('maps 401 to AuthError without leaking the token', async () => {
    const wrong = createHubSpotConnector({ accessToken: 'pat-na1-wrong-token', basePath: emu.baseUrl, governor: unlimitedGovernor });
    const err: unknown = await wrong.read('companies', ['1']).catch((e: unknown) => e);
    expect(isSyncError(err) && err.type).toBe('AuthError');
    expect(String((err as Error).message)).not.toContain('wrong-token');
    expect(String((err as Error).message)).toContain('INVALID_AUTHENTICATION');
  });

  it('maps 429 to RateLimited with retryAfterMs', async () => {
    const limited = await startHubSpotEmulator({ token: TOKEN, rateLimitPer10s: 100 });
    try {
      const c = createHubSpotConnector({ accessToken: TOKEN, basePath: limited.baseUrl, governor: unlimitedGovernor });
      // A live company: reading it is one request (an id HubSpot does not find live is looked up
      // among archived companies too, a second request).
      const { id } = limited.store.create('companies', { name: 'Rate Limited Inc' });
      for (let i = 0; i < 100; i++) await c.read('companies', [String(id)]);
      expect(limited.stats.limited).toBe(0);
      const err: unknown = await c.read('companies', [String(id)]).catch((e: unknown) => e);
      expect(isSyncError(err) && err.type).toBe('RateLimited');
      expect(isSyncError(err) && err.retryAfterMs).toBeGreaterThan(0);
      expect(isSyncError(err) && err.details).toMatchObject({ status: 429, policyName: 'TEN_SECONDLY_ROLLING' });
    } finally {
      await limited.stop();
    }
  });

  it('maps a connection failure to Transient', async () => {
    const down = createHubSpotConnector({ accessToken: TOKEN, basePath: 'http://127.0.0.1:9', governor: unlimitedGovernor });
    const err: unknown = await down.read('companies', ['1']).catch((e: unknown) => e);
    expect(isSyncError(err) && err.type).toBe('Transient');
  });
});
