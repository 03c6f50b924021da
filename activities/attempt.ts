/**
 * The attempt that produced an activity's result, added to the result when it was a retry, so a
 * workflow counts what faults cost (retries in its totals) without reading its own history.
 */
import { activityInfo } from '@temporalio/activity';

/** The attempt that produced a result, when it was a retry (absent on a first attempt). */
export interface Attempted {
  attempt?: number;
}

type WithAttempt<R> = R extends readonly unknown[] ? R : R extends object ? R & Attempted : R;

const currentAttempt = (): number => {
  try {
    return activityInfo().attempt;
  } catch {
    return 1; // called outside an activity (plain loops, benchmarks)
  }
};

/** `fn`, with `attempt` on its result when the result came from a retry (object results only). */
export function withAttempt<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<WithAttempt<R>> {
  return async (...args: A) => {
    const result = await fn(...args);
    const attempt = currentAttempt();
    if (attempt <= 1 || result === null || typeof result !== 'object' || Array.isArray(result)) return result as WithAttempt<R>;
    return { ...result, attempt } as WithAttempt<R>;
  };
}

/** Every activity of `activities` through {@link withAttempt}. */
export function withAttempts<T extends Record<string, (...args: never[]) => Promise<unknown>>>(
  activities: T,
): { [K in keyof T]: T[K] extends (...args: infer A) => Promise<infer R> ? (...args: A) => Promise<WithAttempt<R>> : never } {
  return Object.fromEntries(Object.entries(activities).map(([name, fn]) => [name, withAttempt(fn as (...args: unknown[]) => Promise<unknown>)])) as never;
}
