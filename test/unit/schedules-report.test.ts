import path from 'node:path';
import { formatReport, loadScheduleEntries } from '../../workers/schedules';

const report = { created: ['pipeline:demo-accounts'], updated: ['deal-watcher'], unchanged: [], notConfigured: ['old-one'] };

test('a dry run says what it would do, not what it did', () => {
  const text = formatReport(report, true);
  expect(text).toMatch(/^would create +pipeline:demo-accounts$/m);
  expect(text).toMatch(/^would update +deal-watcher$/m);
  expect(text).not.toMatch(/^(created|updated) /m);
  expect(text).toMatch(/dry run: nothing was changed/);
});

test('a real run reports what it did', () => {
  const text = formatReport(report, false);
  expect(text).toMatch(/^created +pipeline:demo-accounts$/m);
  expect(text).toMatch(/^updated +deal-watcher$/m);
  expect(text).toMatch(/^not configured +old-one\n\(not deleted/m);
  expect(text).not.toMatch(/would|dry run/);
});

test('the demo pipelines ship with paused schedules, so the README\'s by-hand schedule commands find pipeline:demo-accounts', () => {
  const entries = loadScheduleEntries(path.resolve(__dirname, '../../config'));
  for (const id of ['pipeline:demo-accounts', 'pipeline:demo-contacts', 'pipeline:demo-products']) {
    expect(entries.find((e) => e.scheduleId === id)?.schedule).toMatchObject({ paused: true, overlap: 'skip' });
  }
});

test('a pair with a schedule becomes schedule pair:<name> running syncPair on its family queue', () => {
  const entries = loadScheduleEntries(path.resolve(__dirname, '../../config'));
  expect(entries.find((e) => e.scheduleId === 'pair:demo-customers')).toEqual({
    scheduleId: 'pair:demo-customers',
    workflowType: 'syncPair',
    taskQueue: 'crm-erp-sync.sql',
    args: [{ pair: 'demo-customers' }],
    schedule: expect.objectContaining({ interval: '15 minutes', paused: true }),
  });
});
