/**
 * A real PostgreSQL 15 (Debian's) for one test file: initdb into a temporary folder as an
 * unprivileged user, postgres on a free 127.0.0.1 port with its unix socket in a private temporary
 * folder, stopped by PID. The postmaster's PID is recorded with the suite's process tracking
 * (test/helpers/processes.ts), and it inherits the run id, so the global teardown's leftover check
 * sees it (and its backends) if a test forgets `stop()`.
 *
 *   const pg = await startPostgres();
 *   const url = await pg.createDatabase('state_a');   // postgres://postgres:…@127.0.0.1:port/state_a
 *   …
 *   await pg.stop();                                   // in afterAll
 */
import { startPostgresServer } from '../../scripts/postgres';
import { recordPid } from './processes';

export interface TestPostgres {
  /** The superuser's URL to the `postgres` database (the password is random per cluster). */
  url: string;
  port: number;
  /** The postmaster's PID. */
  pid: number;
  stop(): Promise<void>;
  /** Creates database `name` (lowercase letters, digits, underscores) and returns its URL. */
  createDatabase(name: string): Promise<string>;
}

/**
 * Starts PostgreSQL. With `dataDir` the cluster lives there (initdb'd when empty) and is kept on
 * stop, so a test can restart a server on the same data; its parent folders must let other users
 * pass (a mkdtemp folder needs chmod 0o711), since the cluster belongs to an unprivileged user. Without it the cluster is temporary and removed on stop.
 */
export async function startPostgres(opts: { dataDir?: string } = {}): Promise<TestPostgres> {
  const srv = await startPostgresServer({ ...opts, onSpawn: (pid, what) => recordPid(pid, what) });
  return {
    url: srv.url,
    port: srv.port,
    pid: srv.pid,
    stop: () => srv.stop(),
    createDatabase: (name) => srv.createDatabase(name),
  };
}
