/**
 * What the throughput benches share: a plain loop and the workflow measured side by side in one
 * run, on copies of the same data, rounds alternating so that drift in the machine's load shows in
 * both arms; medians; CPU and peak RSS.
 */
import { readFileSync } from 'node:fs';

/** Peak RSS of this process (MiB) from now until stop(), sampled every 100 ms. */
export function rssSampler(): { stop(): number } {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 100);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, process.memoryUsage().rss) / 2 ** 20;
    },
  };
}

/** CPU seconds (user + system) a process has used, from /proc. */
export function procCpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (100 Hz)
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/**
 * `rounds` rounds of plain → workflow, then one last plain run: every workflow run is bracketed
 * by plain runs. Report medians.
 */
export async function bracketed<P, W>(rounds: number, plain: () => Promise<P>, workflow: () => Promise<W>): Promise<{ plains: P[]; workflows: W[] }> {
  const plains: P[] = [];
  const workflows: W[] = [];
  for (let r = 0; r < rounds; r++) {
    plains.push(await plain());
    workflows.push(await workflow());
  }
  plains.push(await plain());
  return { plains, workflows };
}

export const TABLE_HEADER =
  '| page size | plain records/s | workflow records/s | ratio | CPU s plain | CPU s worker + server | peak RSS MiB plain / worker |\n|---|---|---|---|---|---|---|';
