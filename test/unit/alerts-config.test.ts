import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { alertBody } from '../../activities/alerts';
import { loadAlertSettings } from '../../workers/alerts-config';

const dir = mkdtempSync(path.join(os.tmpdir(), 'alerts-config-'));
const file = (name: string, content: unknown): string => {
  const f = path.join(dir, name);
  writeFileSync(f, typeof content === 'string' ? content : JSON.stringify(content));
  return f;
};

test('the shipped config/alerts.json parses; without its webhook variable alerts are off, with a note', () => {
  const shipped = path.resolve(__dirname, '../../config/alerts.json');
  expect(loadAlertSettings(shipped, {})).toEqual({ settings: null, note: expect.stringMatching(/^alerts off: SYNC_ALERT_WEBHOOK_URL is not set/) });
  const on = loadAlertSettings(shipped, { SYNC_ALERT_WEBHOOK_URL: 'https://hooks.example.test/T/B/x' });
  expect(on.settings?.rules).toEqual({ failedSync: true, quarantineAbove: 100, zeroRead: { usualAtLeast: 50, lastRuns: 5 }, approvalWaitingMs: 4 * 3_600_000 });
  expect(loadAlertSettings(path.join(dir, 'none.json'), {})).toEqual({ settings: null, note: null });
});

test('a bad file names the file and the path; a bad URL names the variable, never the value', () => {
  const bad = file('bad.json', { rules: { quarantineAbove: -1 } });
  expect(() => loadAlertSettings(bad, {})).toThrow(new RegExp(`^${bad.replace(/[.]/g, '\\.')}: rules\\.quarantineAbove: .*>=0`));
  const extra = file('extra.json', { rules: { zeroRead: { usualAtLeast: 10, lastRun: 3 } } });
  expect(() => loadAlertSettings(extra, {})).toThrow(/extra\.json: rules\.zeroRead: Unrecognized key: "lastRun"/);
  const dur = file('dur.json', { rules: { approvalWaitingLongerThan: 'soon' } });
  expect(() => loadAlertSettings(dur, {})).toThrow(/dur\.json: rules\.approvalWaitingLongerThan: expected a duration/);
  expect(() => loadAlertSettings(file('json.json', '{'), {})).toThrow(/json\.json: not valid JSON/);
  const ok = file('ok.json', { rules: {} });
  expect(() => loadAlertSettings(ok, { SYNC_ALERT_WEBHOOK_URL: 'ftp://secret-host/x' })).toThrow(/ok\.json: webhookUrlEnv: environment variable SYNC_ALERT_WEBHOOK_URL does not hold an http\(s\) URL$/);
});

test('the webhook body is Slack-compatible: text plus header, section and context blocks', () => {
  const body = alertBody({ kind: 'failed-sync', pipeline: 'demo-accounts', syncId: 'sync:a@1', title: 'Sync of demo-accounts failed', detail: 'it broke' });
  expect(body).toEqual({
    text: 'Sync of demo-accounts failed: it broke',
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: 'Sync of demo-accounts failed' } },
      { type: 'section', text: { type: 'mrkdwn', text: 'it broke' } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: '*failed-sync* · pipeline `demo-accounts` · sync `sync:a@1`' }] },
    ],
  });
});
