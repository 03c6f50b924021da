import { metricsAddress, parseWorkerEnv, stateStoreLocation } from '../../workers/config';

describe('parseWorkerEnv', () => {
  test('defaults', () => {
    const { temporal, ...rest } = parseWorkerEnv({});
    expect(temporal).toMatchObject({ address: '127.0.0.1:7233', namespace: 'default', tls: false });
    expect(rest).toEqual({
      WORKER_FAMILIES: ['sql'],
      SYNC_CONFIG_DIR: 'config',
      SYNC_MAPPINGS_DIR: 'mappings/definitions',
      DEMO_DATA_DIR: '.data/demo',
      SYNC_STATE_DB: '.data/demo/state.db', // one state store for npm start and npm run worker
      WORKER_MAX_CONCURRENT_ACTIVITIES: 20,
      WORKER_SHUTDOWN_GRACE_SECONDS: 10,
      WORKER_LOG_LEVEL: 'INFO',
      WORKER_LOG_FORMAT: 'text',
      WORKER_HEALTH_HOST: '127.0.0.1',
      WORKER_APPROVALS_POLL_SECONDS: 30,
      SYNC_RUN_EVENTS_DAYS: 30,
    });
  });

  test('SYNC_RUN_EVENTS_DAYS: days of run events kept, 0 keeps them forever, a negative or non-number is named', () => {
    expect(parseWorkerEnv({ SYNC_RUN_EVENTS_DAYS: '0' }).SYNC_RUN_EVENTS_DAYS).toBe(0);
    expect(parseWorkerEnv({ SYNC_RUN_EVENTS_DAYS: '7.5' }).SYNC_RUN_EVENTS_DAYS).toBe(7.5);
    expect(() => parseWorkerEnv({ SYNC_RUN_EVENTS_DAYS: '-1' })).toThrow(/SYNC_RUN_EVENTS_DAYS: expected a number of days/);
    expect(() => parseWorkerEnv({ SYNC_RUN_EVENTS_DAYS: 'a month' })).toThrow(/SYNC_RUN_EVENTS_DAYS/);
  });

  test('metrics are off by default; WORKER_METRICS_PORT serves on loopback; a full address wins; a bad one is named', () => {
    expect(metricsAddress(parseWorkerEnv({}))).toBeNull();
    expect(metricsAddress(parseWorkerEnv({ WORKER_METRICS_PORT: '9464' }))).toBe('127.0.0.1:9464');
    expect(metricsAddress(parseWorkerEnv({ WORKER_METRICS_PORT: '9464', WORKER_PROMETHEUS_ADDRESS: '0.0.0.0:9100' }))).toBe('0.0.0.0:9100');
    expect(() => parseWorkerEnv({ WORKER_METRICS_PORT: 'x' })).toThrow(/WORKER_METRICS_PORT/);
    expect(() => parseWorkerEnv({ WORKER_PROMETHEUS_ADDRESS: '9464' })).toThrow(/WORKER_PROMETHEUS_ADDRESS: expected host:port/);
  });

  test('families are a trimmed comma list; numbers and booleans are parsed, "false" is false', () => {
    const env = parseWorkerEnv({
      WORKER_FAMILIES: ' sql, tryton ,,hubspot',
      WORKER_MAX_CONCURRENT_ACTIVITIES: '5',
      WORKER_SHUTDOWN_GRACE_SECONDS: '0',
      TEMPORAL_TLS: 'false',
      WORKER_LOG_LEVEL: 'DEBUG',
    });
    expect(env.WORKER_FAMILIES).toEqual(['sql', 'tryton', 'hubspot']);
    expect(env.WORKER_MAX_CONCURRENT_ACTIVITIES).toBe(5);
    expect(env.WORKER_SHUTDOWN_GRACE_SECONDS).toBe(0);
    expect(env.temporal.tls).toBe(false);
    expect(parseWorkerEnv({ TEMPORAL_TLS: 'yes' }).temporal.tls).toEqual({});
    expect(parseWorkerEnv({ TEMPORAL_TLS: '1' }).temporal.tls).toEqual({});
  });

  test('a wrong value names every bad variable', () => {
    let message = '';
    try {
      parseWorkerEnv({ WORKER_FAMILIES: 'sql,erp', WORKER_MAX_CONCURRENT_ACTIVITIES: '0', TEMPORAL_TLS: 'maybe', WORKER_LOG_LEVEL: 'LOUD' });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^invalid worker environment \(see \.env\.example\):/);
    expect(message).toContain('WORKER_FAMILIES');
    expect(message).toMatch(/expected families among sql/);
    expect(message).toContain('WORKER_MAX_CONCURRENT_ACTIVITIES');
    expect(message).toContain('TEMPORAL_TLS');
    expect(message).toContain('WORKER_LOG_LEVEL');
    expect(() => parseWorkerEnv({ WORKER_FAMILIES: ' , ' })).toThrow('WORKER_FAMILIES');
  });

  test('SYNC_STATE_URL picks the PostgreSQL state store; a bad one is refused without echoing it; not with SYNC_STATE_DB', () => {
    expect(stateStoreLocation(parseWorkerEnv({}))).toBe('.data/demo/state.db');
    expect(stateStoreLocation(parseWorkerEnv({ SYNC_STATE_DB: '/var/lib/sync/state.db' }))).toBe('/var/lib/sync/state.db');
    const url = 'postgres://sync:s3cret@db.internal:5432/sync_state';
    expect(stateStoreLocation(parseWorkerEnv({ SYNC_STATE_URL: url }))).toBe(url);
    expect(stateStoreLocation(parseWorkerEnv({ SYNC_STATE_URL: 'postgresql://db/x' }))).toBe('postgresql://db/x');
    expect(() => parseWorkerEnv({ SYNC_STATE_URL: 'mysql://sync:s3cret@db/x' })).toThrow(/SYNC_STATE_URL: expected a PostgreSQL URL, postgres:\/\/user:password@host:5432\/database/);
    expect(() => parseWorkerEnv({ SYNC_STATE_URL: 'mysql://sync:s3cret@db/x' })).not.toThrow(/s3cret/);
    expect(() => parseWorkerEnv({ SYNC_STATE_URL: url, SYNC_STATE_DB: 'x.db' })).toThrow(/SYNC_STATE_DB: set either SYNC_STATE_URL \(PostgreSQL\) or SYNC_STATE_DB/);
  });
});
