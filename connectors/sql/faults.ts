import type { SqlDialect, SqlTx } from './dialect';

/** A small seeded PRNG (mulberry32): the same seed gives the same sequence on every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * How a faulted write transaction fails:
 *  - `busy`: its first statement is refused as locked (SQLITE_BUSY); nothing is written;
 *  - `rollback`: it fails part-way (SQLITE_IOERR after some of its statements ran) and rolls back;
 *  - `lost-ack`: it commits, then the caller gets an error (a connection lost after COMMIT): the
 *    rows are written and the writer does not know.
 */
export type SqlFaultKind = 'busy' | 'rollback' | 'lost-ack';

export interface SqlFaultOptions {
  /** Share (0..1) of write transactions that fail. */
  share: number;
  seed: number;
  /** Which kinds a failing transaction draws from (evenly). @default all three */
  kinds?: SqlFaultKind[];
}

export interface SqlFaultLog {
  /** Write transactions begun. */
  readonly transactions: number;
  /** Faults injected, in order. */
  readonly injected: readonly SqlFaultKind[];
  /** Stop or restart injecting (e.g. while a test reads the target back). */
  enabled: boolean;
}

class InjectedSqlError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A SQL dialect whose write transactions fail at a seeded share, in the ways a real database
 * fails: for fault-injection tests of the SQL connector and everything above it (retries,
 * idempotent upserts, bindings, checkpoints). Reads outside transactions are untouched.
 * Not wired into any configuration: a test builds the connector over it
 * (`SyncWorkerOptions.createConnector`).
 */
export function withWriteFaults(inner: SqlDialect, options: SqlFaultOptions): SqlDialect & { faults: SqlFaultLog } {
  const random = seededRandom(options.seed);
  const kinds = options.kinds ?? ['busy', 'rollback', 'lost-ack'];
  const injected: SqlFaultKind[] = [];
  const log = {
    transactions: 0,
    injected,
    enabled: true,
  };
  return {
    name: inner.name,
    quote: (id) => inner.quote(id),
    param: (i) => inner.param(i),
    all: (sql, params) => inner.all(sql, params),
    close: () => inner.close(),
    faults: log,
    async transaction<T>(fn: (tx: SqlTx) => Promise<T>): Promise<T> {
      log.transactions++;
      const kind = log.enabled && random() < options.share ? kinds[Math.floor(random() * kinds.length)]! : null;
      if (!kind) return inner.transaction(fn);
      injected.push(kind);
      if (kind === 'lost-ack') {
        await inner.transaction(fn);
        throw new InjectedSqlError('ECONNRESET', 'connection reset after COMMIT (injected fault)');
      }
      // busy: the first statement fails; rollback: a statement a little later does.
      let failAt = kind === 'busy' ? 0 : 1 + Math.floor(random() * 3);
      const fail = (): void => {
        if (failAt-- === 0) {
          throw kind === 'busy'
            ? new InjectedSqlError('SQLITE_BUSY', 'database is locked (injected fault)')
            : new InjectedSqlError('SQLITE_IOERR', 'disk I/O error (injected fault)');
        }
      };
      return inner.transaction(async (tx) => {
        const result = await fn({
          all: async (sql, params) => {
            fail();
            return tx.all(sql, params);
          },
          isolated: async (sql, params) => {
            fail();
            return tx.isolated(sql, params);
          },
        });
        // A batch shorter than the failure point fails at its end, still before COMMIT: the
        // share is per transaction, and the whole transaction rolls back.
        if (failAt >= 0) throw new InjectedSqlError('SQLITE_IOERR', 'disk I/O error (injected fault)');
        return result;
      });
    },
  };
}
