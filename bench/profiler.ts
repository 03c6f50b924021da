/**
 * `BENCH_CPU_PROFILE=<dir>`: a V8 CPU profile of the bench process (its main thread: the plain
 * loop, or the worker's activities while the sync runs) over each timed run, written as
 * `<arm>-<page size>-<n>.cpuprofile` (Chrome DevTools, or `npx tsx bench/cpu-profile-top.ts
 * <file>` for the top functions and files by self time). Without it, start and stop do nothing.
 */
import { Session } from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

export function cpuProfiler(dir = process.env.BENCH_CPU_PROFILE): { start(): Promise<void>; stop(name: string): Promise<void> } {
  let session: Session | null = null;
  let n = 0;
  return {
    async start(): Promise<void> {
      if (!dir) return;
      session = new Session();
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 500 });
      await session.post('Profiler.start');
    },
    async stop(name: string): Promise<void> {
      if (!session || !dir) return;
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(path.join(dir, `${name}-${++n}.cpuprofile`), JSON.stringify(profile));
      session.disconnect();
      session = null;
    },
  };
}
