import type { Cursor } from '../../contracts/cursor';
import { readIncremental } from '../../connectors/hubspot/incremental';
import type { SearchHit, WindowQuery } from '../../connectors/hubspot/incremental';

/** A fake HubSpot search over an array, with the filters the reader uses. */
function fakeSearch(records: { id: string; ms: number }[]) {
  const calls: WindowQuery[] = [];
  const search = (q: WindowQuery): Promise<SearchHit[]> => {
    calls.push(q);
    const matches = records.filter((r) =>
      q.filters.every((f) => {
        const v = f.propertyName === 'hs_object_id' ? Number(r.id) : r.ms;
        const x = Number(f.value);
        return f.operator === 'GTE' ? v >= x : f.operator === 'GT' ? v > x : v === x;
      }),
    );
    const key = (r: { id: string; ms: number }): number => (q.sortProperty === 'hs_object_id' ? Number(r.id) : r.ms);
    matches.sort((a, b) => key(a) - key(b) || Number(a.id) - Number(b.id));
    return Promise.resolve(matches.slice(0, q.limit).map((r) => ({ id: r.id, modifiedMs: r.ms, properties: {} })));
  };
  return { search, calls };
}

async function readAll(records: { id: string; ms: number }[], limit: number, pageSize = 5, onPage?: (n: number) => void) {
  const { search } = fakeSearch(records);
  const out: SearchHit[] = [];
  let cursor: Cursor | null = null;
  for (let page = 0; page < 1000; page++) {
    const res = await readIncremental(search, { modifiedProperty: 'hs_lastmodifieddate', pageSize }, cursor, limit);
    out.push(...res.hits);
    const last = res.hits[res.hits.length - 1];
    if (last) cursor = { modifiedAt: new Date(last.modifiedMs).toISOString(), key: last.id };
    onPage?.(page);
    if (!res.hasMore) break;
  }
  return out;
}

const ids = (hits: SearchHit[]): string[] => hits.map((h) => h.id);

describe('readIncremental', () => {
  it('reads every record once, ordered by (timestamp, key as string)', async () => {
    const records = Array.from({ length: 37 }, (_, i) => ({ id: String(i + 1), ms: 1000 + Math.floor(i / 3) }));
    const hits = await readAll(records, 4);
    expect(hits).toHaveLength(37);
    expect(new Set(ids(hits)).size).toBe(37);
    // ids 10, 11, 12 share a timestamp: string order puts "10" < "11" < "12"; 7, 8, 9 likewise.
    expect(ids(hits).slice(6, 12)).toEqual(['7', '8', '9', '10', '11', '12']);
  });

  it('pages a run of equal timestamps larger than a search page by id keyset', async () => {
    const records = [
      ...Array.from({ length: 23 }, (_, i) => ({ id: String(i + 1), ms: 5000 })),
      { id: '24', ms: 5001 },
    ];
    const hits = await readAll(records, 7);
    expect(ids(hits).sort()).toEqual(records.map((r) => r.id).sort());
    expect(new Set(ids(hits)).size).toBe(24);
    expect(hits[hits.length - 1]?.id).toBe('24');
  });

  it('starts strictly after the cursor and keeps string order within a timestamp', async () => {
    const { search } = fakeSearch([
      { id: '9', ms: 100 },
      { id: '10', ms: 100 },
      { id: '11', ms: 100 },
      { id: '2', ms: 101 },
    ]);
    const res = await readIncremental(search, { modifiedProperty: 'p' }, { modifiedAt: new Date(100).toISOString(), key: '10' }, 10);
    expect(ids(res.hits)).toEqual(['11', '9', '2']);
    expect(res.hasMore).toBe(false);
  });

  it('never skips a record modified between requests (no offset paging)', async () => {
    const records = Array.from({ length: 30 }, (_, i) => ({ id: String(i + 1), ms: 1000 + i }));
    const seen = new Set<string>();
    let clock = 5000;
    const hits = await readAll(records, 5, 5, (page) => {
      if (page === 1) {
        // Modify a record already read and one not yet read.
        const a = records[0];
        const b = records[20];
        if (a) a.ms = clock++;
        if (b) b.ms = clock++;
      }
    });
    for (const h of hits) seen.add(`${h.id}@${h.modifiedMs}`);
    for (const r of records) expect(seen.has(`${r.id}@${r.ms}`)).toBe(true);
    expect(seen.size).toBe(hits.length);
  });

  it('returns nothing and hasMore false when nothing changed', async () => {
    const { search, calls } = fakeSearch([]);
    const res = await readIncremental(search, { modifiedProperty: 'p' }, null, 10);
    expect(res).toEqual({ hits: [], hasMore: false, requests: 1 });
    expect(calls[0]?.filters).toEqual([]);
  });

  it('refuses a cursor without a valid timestamp', async () => {
    const { search } = fakeSearch([]);
    await expect(readIncremental(search, { modifiedProperty: 'p' }, { modifiedAt: 'yesterday', key: '' }, 10)).rejects.toMatchObject({
      type: 'InvalidInput',
    });
  });
});
