import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { devServerSettings } from '../../scripts/dev-server';
import { parseWorkerEnv } from '../../workers/config';
import { loadEnvFile, parseEnvFile } from '../../workers/env-file';

test('npm start and npm run worker share one state store by default: beside the demo data', () => {
  expect(parseWorkerEnv({}).SYNC_STATE_DB).toBe(path.join('.data/demo', 'state.db'));
  expect(parseWorkerEnv({ DEMO_DATA_DIR: '/tmp/d' }).SYNC_STATE_DB).toBe('/tmp/d/state.db');
  expect(parseWorkerEnv({ DEMO_DATA_DIR: '/tmp/d', SYNC_STATE_DB: '/x/s.db' }).SYNC_STATE_DB).toBe('/x/s.db');
});

test('a .env file fills what the shell does not set', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'envfile-'));
  const file = path.join(dir, 'my.env');
  writeFileSync(file, '# comment\nWORKER_FAMILIES=tryton\nexport TRYTON_URL="http://127.0.0.1:8000"\nTEMPORAL_NAMESPACE=fromfile # trailing\n\n');
  const env: NodeJS.ProcessEnv = { ENV_FILE: file, TEMPORAL_NAMESPACE: 'shell' };
  expect(loadEnvFile(env)).toBe(file);
  expect(env).toMatchObject({ WORKER_FAMILIES: 'tryton', TRYTON_URL: 'http://127.0.0.1:8000', TEMPORAL_NAMESPACE: 'shell' });
  expect(loadEnvFile({ ENV_FILE: '' })).toBeNull();
  expect(() => loadEnvFile({ ENV_FILE: path.join(dir, 'missing.env') })).toThrow(/does not exist/);
  expect(() => parseEnvFile('oops', '.env')).toThrow('.env:1: expected NAME=value, got "oops"');
});

test('npm run temporal takes its port from TEMPORAL_ADDRESS and refuses contradictions', () => {
  expect(devServerSettings({})).toEqual({ port: 7233, uiPort: 8233, dbFile: '.data/temporal.db' });
  expect(devServerSettings({ TEMPORAL_ADDRESS: '127.0.0.1:7400', TEMPORAL_UI_PORT: '8400', TEMPORAL_DB_FILE: 'x.db' })).toEqual({ port: 7400, uiPort: 8400, dbFile: 'x.db' });
  expect(devServerSettings({ TEMPORAL_PORT: '7500' }).port).toBe(7500);
  expect(() => devServerSettings({ TEMPORAL_ADDRESS: '127.0.0.1:7400', TEMPORAL_PORT: '7500' })).toThrow(/contradicts/);
  expect(() => devServerSettings({ TEMPORAL_ADDRESS: 'temporal.example.com:7233' })).toThrow(/listens on 127\.0\.0\.1 only/);
});

test('secrets may come from files (NAME_FILE): the state URL, connector tokens; both set, unreadable or empty is refused without the content', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'secret-files-'));
  const url = path.join(dir, 'state-url');
  writeFileSync(url, 'postgres://sync:s3cret@127.0.0.1:5432/state\n');
  const token = path.join(dir, 'token');
  writeFileSync(token, 'pat-na1-0000');
  const env: NodeJS.ProcessEnv = { ENV_FILE: '', SYNC_STATE_URL_FILE: url, HUBSPOT_ACCESS_TOKEN_FILE: token };
  loadEnvFile(env);
  expect(env.SYNC_STATE_URL).toBe('postgres://sync:s3cret@127.0.0.1:5432/state');
  expect(env.HUBSPOT_ACCESS_TOKEN).toBe('pat-na1-0000');
  expect(parseWorkerEnv({ ...env, DEMO_DATA_DIR: dir }).SYNC_STATE_URL).toBe('postgres://sync:s3cret@127.0.0.1:5432/state');

  const both = () => loadEnvFile({ ENV_FILE: '', SYNC_STATE_URL: 'postgres://x', SYNC_STATE_URL_FILE: url });
  expect(both).toThrow('SYNC_STATE_URL and SYNC_STATE_URL_FILE: set one of them, not both');
  expect(() => loadEnvFile({ ENV_FILE: '', SYNC_STATE_URL_FILE: path.join(dir, 'missing') })).toThrow(/SYNC_STATE_URL_FILE=.*missing: cannot read the file \(ENOENT\)/);
  const empty = path.join(dir, 'empty');
  writeFileSync(empty, '\n');
  expect(() => loadEnvFile({ ENV_FILE: '', TRYTON_SYNC_PASSWORD_FILE: empty })).toThrow(/TRYTON_SYNC_PASSWORD_FILE=.*empty: the file is empty/);
  try {
    both();
  } catch (err) {
    expect((err as Error).message).not.toContain('s3cret');
  }
});
