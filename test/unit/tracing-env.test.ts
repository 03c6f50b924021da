import { tracingSettings } from '../../workers/tracing';

test('tracing is off without an OTLP endpoint, and when the SDK is disabled', () => {
  expect(tracingSettings({}, 'worker')).toBeNull();
  expect(tracingSettings({ OTEL_SERVICE_NAME: 'x' }, 'worker')).toBeNull();
  expect(tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: '' }, 'worker')).toBeNull();
  expect(tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_SDK_DISABLED: 'true' }, 'worker')).toBeNull();
  expect(tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_TRACES_EXPORTER: 'none' }, 'worker')).toBeNull();
});

test('the base endpoint gets /v1/traces; the traces endpoint is used as it is and wins', () => {
  expect(tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318/' }, 'worker')).toEqual({ url: 'http://127.0.0.1:4318/v1/traces', serviceName: 'crm-erp-sync-worker' });
  expect(
    tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://b/otlp/traces', OTEL_SERVICE_NAME: 'sync-eu' }, 'cli'),
  ).toEqual({ url: 'https://b/otlp/traces', serviceName: 'sync-eu' });
});

test('a malformed endpoint names the variable and the fix', () => {
  expect(() => tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: '127.0.0.1:4318' }, 'worker')).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT: expected an http\(s\) URL such as http:\/\/127\.0\.0\.1:4318/);
  expect(() => tracingSettings({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'grpc://127.0.0.1:4317' }, 'worker')).toThrow(/OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: only OTLP over HTTP/);
});
