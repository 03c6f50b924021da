import { WorkflowFailedError } from '@temporalio/client';
import { describeError } from '../logger';

/**
 * A failed demo workflow as one console line: pipeline, workflow id, and the failure's type and
 * message with its causes (no stack; the Web UI shows the whole failure).
 */
export function failureLine(what: string, workflowId: string, err: unknown): string {
  const cause = err instanceof WorkflowFailedError && err.cause ? err.cause : err;
  return `failed: ${what} (workflow ${workflowId}): ${describeError(cause)}`;
}
