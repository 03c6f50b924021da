import { applyLookback, compareCursors, nextCursor } from '../../contracts/cursor';

describe('cursor', () => {
  test('orders by timestamp, then key', () => {
    expect(compareCursors({ modifiedAt: '2026-01-01T00:00:00.000Z', key: 'b' }, { modifiedAt: '2026-01-01T00:00:00.000Z', key: 'a' })).toBe(1);
    expect(compareCursors({ modifiedAt: '2026-01-01T00:00:00.000Z', key: 'z' }, { modifiedAt: '2026-01-02T00:00:00.000Z', key: 'a' })).toBe(-1);
  });
  test('never moves backwards', () => {
    const c = { modifiedAt: '2026-01-02T00:00:00.000Z', key: '5' };
    expect(nextCursor(c, { modifiedAt: '2026-01-01T00:00:00.000Z', key: '9' })).toBe(c);
    expect(nextCursor(null, c)).toEqual(c);
  });
  test('lookback moves the start back and opens the tie-break', () => {
    expect(applyLookback({ modifiedAt: '2026-01-01T00:01:00.000Z', key: '5' }, 60_000)).toEqual({ modifiedAt: '2026-01-01T00:00:00.000Z', key: '' });
    expect(applyLookback(null, 60_000)).toBeNull();
  });
});
