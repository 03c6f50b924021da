/**
 * The seam between the SQL connector and one database engine. The connector builds statements
 * from these pieces; each dialect runs them. PostgreSQL implements the same interface.
 */
export type SqlValue = string | number | bigint | null;

export interface SqlDialect {
  readonly name: string;
  quote(identifier: string): string;
  /** Placeholder for the i-th parameter (0-based): `?` or `$1`. */
  param(index: number): string;
  all(sql: string, params: SqlValue[]): Promise<Record<string, unknown>[]>;
  /** Run `fn` in one transaction; a thrown error rolls it back. */
  transaction<T>(fn: (tx: SqlTx) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface SqlTx {
  all(sql: string, params: SqlValue[]): Promise<Record<string, unknown>[]>;
  /**
   * Run one statement so that its failure (a constraint, a type error) leaves the rest of the
   * transaction intact: the caller records the failure against that record only.
   */
  isolated(sql: string, params: SqlValue[]): Promise<Record<string, unknown>[]>;
}
