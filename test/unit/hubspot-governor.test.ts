import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hubSpotPolicies, SqliteReservationStore, WindowGovernor } from '../../connectors/hubspot/governor';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hubspot-governor-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('SqliteReservationStore', () => {
  const policy = { max: 3, windowMs: 1000 };

  it('grants max reservations per rolling window and says how long to wait', async () => {
    const store = new SqliteReservationStore(join(dir, 'g.db'));
    expect(await store.tryReserve('a:general', policy, 0)).toBe(0);
    expect(await store.tryReserve('a:general', policy, 100)).toBe(0);
    expect(await store.tryReserve('a:general', policy, 200)).toBe(0);
    expect(await store.tryReserve('a:general', policy, 300)).toBe(701);
    expect(await store.tryReserve('a:general', policy, 1000)).toBe(0); // the reservation at 0 left the window
    expect(await store.tryReserve('a:general', policy, 1050)).toBe(51);
    expect(await store.tryReserve('b:general', policy, 1050)).toBe(0); // other account, other window
    await store.close();
  });

  it('shares one window between processes through the file', async () => {
    const one = new SqliteReservationStore(join(dir, 'g.db'));
    const two = new SqliteReservationStore(join(dir, 'g.db'));
    expect(await one.tryReserve('a:general', policy, 0)).toBe(0);
    expect(await two.tryReserve('a:general', policy, 1)).toBe(0);
    expect(await one.tryReserve('a:general', policy, 2)).toBe(0);
    expect(await two.tryReserve('a:general', policy, 3)).toBeGreaterThan(0);
    await one.close();
    await two.close();
  });

  it('blocks every worker after a 429', async () => {
    const store = new SqliteReservationStore(join(dir, 'g.db'));
    await store.block('a:search', 5000);
    expect(await store.tryReserve('a:search', policy, 4000)).toBe(1000);
    expect(await store.tryReserve('a:search', policy, 5000)).toBe(0);
    await store.close();
  });
});

describe('WindowGovernor', () => {
  it('waits for a slot instead of exceeding the window', async () => {
    const store = new SqliteReservationStore(join(dir, 'g.db'));
    const governor = new WindowGovernor(store, 'acct', { general: { max: 2, windowMs: 200 }, search: { max: 1, windowMs: 100 } });
    const started = Date.now();
    for (let i = 0; i < 5; i++) await governor.acquire('general');
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    await governor.close();
  });

  it('keeps a margin over HubSpot windows', () => {
    expect(hubSpotPolicies(190)).toEqual({ general: { max: 190, windowMs: 10_250 }, search: { max: 5, windowMs: 1_125 } });
  });
});
