import type { State } from '@temporalio/worker';
import { healthReport } from '../../workers/health';

const w = (state: State, taskQueue = 'crm-erp-sync.sql') => ({ getState: () => state, options: { taskQueue } }) as never;

test('status from the workers and the shutdown signal', () => {
  expect(healthReport(null, false)).toEqual({ status: 'starting', workers: [] });
  expect(healthReport(null, true).status).toBe('draining');
  expect(healthReport([w('INITIALIZED')], false).status).toBe('starting');
  expect(healthReport([w('RUNNING'), w('RUNNING', 'crm-erp-sync.tryton')], false)).toEqual({
    status: 'ready',
    workers: [
      { taskQueue: 'crm-erp-sync.sql', state: 'RUNNING' },
      { taskQueue: 'crm-erp-sync.tryton', state: 'RUNNING' },
    ],
  });
  // The signal arrives before the workers change state: not ready from the signal on.
  expect(healthReport([w('RUNNING')], true).status).toBe('draining');
  for (const s of ['STOPPING', 'DRAINING', 'DRAINED'] as const) expect(healthReport([w('RUNNING'), w(s)], false).status).toBe('draining');
  expect(healthReport([w('STOPPED'), w('STOPPED')], true).status).toBe('stopped');
  expect(healthReport([w('RUNNING'), w('FAILED')], false).status).toBe('failed');
});
