/** What every CLI command shares: exit codes, the failure that carries one, and the injected dependencies. */
import type { Client } from '@temporalio/client';
import type { StateStore } from '../state/types';
import type { WorkerEnv } from '../workers/config';

export const EXIT = { ok: 0, failure: 1, usage: 2, notFound: 3 } as const;

/** A failure with the exit code it means. */
export class CliError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

export interface CliDeps {
  env: WorkerEnv;
  /** Standard output and error (text as is; the CLI adds the newlines). */
  stdout(text: string): void;
  stderr(text: string): void;
  /** A Temporal client on env's address and namespace, connected on first use. */
  client(): Promise<Client>;
  /** The state store of env's SYNC_STATE_DB, opened on first use. */
  store(): StateStore;
  /** Who is running the CLI (recorded with dismissals). */
  user: string;
}

