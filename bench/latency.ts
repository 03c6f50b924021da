import type { ConnectorOverride } from '../pipelines/load';
import { CONNECTOR_KINDS } from '../pipelines/systems';

/**
 * `BENCH_LATENCY_MS`: every connector call of both arms of a bench (fetch, read, write) waits this
 * long first, as a system across a network would. That is the I/O-bound case, where pages prepared
 * while others are written overlap their waits instead of competing for the one event loop
 * (default 0: the demo's SQLite systems, CPU-bound).
 */
export const LATENCY_MS = Number(process.env.BENCH_LATENCY_MS ?? 0);

const SLOW_CALLS = new Set(['fetchChanges', 'read', 'upsert', 'insertNative', 'patchNative', 'delete']);

/** The connector override that adds LATENCY_MS (undefined when it is 0), for ConnectorPool and createSyncWorkers. */
export const withLatency: ConnectorOverride | undefined =
  LATENCY_MS > 0
    ? (name, config, env) => {
        const real = CONNECTOR_KINDS[(config as { kind?: string }).kind ?? 'sql']!.create(config, name, env);
        return new Proxy(real, {
          get(target, prop, receiver) {
            const v = Reflect.get(target, prop, receiver) as unknown;
            if (typeof v !== 'function' || !SLOW_CALLS.has(String(prop))) return v;
            return async (...args: unknown[]) => {
              await new Promise((r) => setTimeout(r, LATENCY_MS));
              return (v as (...a: unknown[]) => unknown).apply(target, args);
            };
          },
        });
      }
    : undefined;
