import { ApplicationFailure } from '@temporalio/workflow';
import type { z } from 'zod';
import { ERROR_TYPES } from '../contracts/errors';

/**
 * Parse a workflow input at the door: a wrong input fails the workflow at once, non-retryably,
 * with every field at fault and what it expects.
 */
export function parseWorkflowInput<S extends z.ZodType>(schema: S, raw: unknown, example: string): z.infer<S> {
  if (raw === undefined || raw === null) {
    throw ApplicationFailure.create({
      type: ERROR_TYPES.InvalidInput,
      nonRetryable: true,
      message: `missing workflow input; pass one JSON object, e.g. --input '${example}'`,
    });
  }
  const r = schema.safeParse(raw);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => {
    const field = i.path.length ? i.path.map(String).join('.') : '(input)';
    if (i.code === 'unrecognized_keys') return `${field}: unknown field(s) ${i.keys.map((k) => `"${k}"`).join(', ')}`;
    return `${field}: ${i.message}`;
  });
  throw ApplicationFailure.create({
    type: ERROR_TYPES.InvalidInput,
    nonRetryable: true,
    message: `invalid workflow input: ${problems.join('; ')}. Example: --input '${example}'`,
    details: [r.error.issues.map((i) => ({ field: i.path.map(String).join('.'), message: i.message }))],
  });
}
