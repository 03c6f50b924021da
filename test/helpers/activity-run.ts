import type { MockActivityEnvironment } from '@temporalio/testing';

/** Run an activity function in a mock activity context, keeping its argument and result types (the SDK's `run` is untyped). */
export const runActivity = <A extends unknown[], R>(env: MockActivityEnvironment, fn: (...args: A) => Promise<R>, ...args: A): Promise<R> =>
  (env.run.bind(env) as (f: unknown, ...a: unknown[]) => Promise<unknown>)(fn, ...args) as Promise<R>;
