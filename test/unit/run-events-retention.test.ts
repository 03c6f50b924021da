import { DEFAULT_RUN_EVENTS_DAYS, RUN_EVENTS_PRUNE_EVERY_MS, runEventsCutoff, runEventsPruner } from '../../state/retention';

const NOW = Date.parse('2026-06-30T12:00:00.000Z');

afterEach(() => jest.useRealTimers());

test('the cutoff is now minus the retention (default 30 days); 0 keeps events forever', () => {
  expect(DEFAULT_RUN_EVENTS_DAYS).toBe(30);
  expect(runEventsCutoff(undefined, NOW)).toBe('2026-05-31T12:00:00.000Z');
  expect(runEventsCutoff(7, NOW)).toBe('2026-06-23T12:00:00.000Z');
  expect(runEventsCutoff(0.5, NOW)).toBe('2026-06-30T00:00:00.000Z');
  expect(runEventsCutoff(0, NOW)).toBeNull();
});

test('the pruner prunes at once, then again only after about an hour; a failing prune is swallowed', async () => {
  jest.useFakeTimers({ now: NOW, doNotFake: ['nextTick', 'setImmediate'] });
  const cutoffs: string[] = [];
  const pruner = runEventsPruner(30, async (before) => {
    cutoffs.push(before);
    if (cutoffs.length === 2) throw new Error('database is locked');
    return 1;
  });
  expect(await pruner.first).toBe(1);
  expect(cutoffs).toEqual(['2026-05-31T12:00:00.000Z']);
  jest.setSystemTime(NOW + RUN_EVENTS_PRUNE_EVERY_MS - 1000);
  await pruner.due();
  expect(cutoffs).toHaveLength(1);
  jest.setSystemTime(NOW + RUN_EVENTS_PRUNE_EVERY_MS + 1000);
  await expect(pruner.due()).resolves.toBeUndefined(); // the second prune throws: housekeeping never fails a caller
  expect(cutoffs).toEqual(['2026-05-31T12:00:00.000Z', '2026-05-31T13:00:01.000Z']);
  await pruner.due();
  expect(cutoffs).toHaveLength(2);
});

test('with retention 0 nothing is ever pruned', async () => {
  const prune = jest.fn(async () => 0);
  const pruner = runEventsPruner(0, prune);
  await pruner.first;
  await pruner.due();
  expect(prune).not.toHaveBeenCalled();
});
