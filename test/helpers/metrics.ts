/** A worker process serving Prometheus metrics, and reading them back (worker-metrics*.test.ts). */
import { freePort } from '../../scripts/dev-server';
import { spawnWorker } from './worker-process';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Spawn a worker with WORKER_METRICS_PORT on a free loopback port; resolves with the port once it is ready. Stop it with stopAllWorkers. */
export async function startMetricsWorker(vars: Record<string, string>): Promise<number> {
  const port = await freePort();
  const worker = spawnWorker({ ...vars, WORKER_METRICS_PORT: String(port), ENV_FILE: '' });
  await worker.ready;
  return port;
}

/** GET /metrics (expects 200) and parse the text exposition format into samples. */
export async function scrape(port: number): Promise<Sample[]> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  expect(res.status).toBe(200);
  const out: Sample[] = [];
  for (const line of (await res.text()).split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? ([-+\d.eE]+|NaN)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** The sum of a metric's samples (with or without a `_total` suffix) whose labels include `where`. */
export const total = (samples: Sample[], name: string, where: Record<string, string>): number =>
  samples
    .filter((s) => (s.name === name || s.name === `${name}_total`) && Object.entries(where).every(([k, v]) => s.labels[k] === v))
    .reduce((n, s) => n + s.value, 0);
