import { isPostgresUrl } from './location';
import { openPostgresStateStore, type PostgresStateStoreOptions } from './postgres-store';
import { openSqliteStateStore } from './sqlite-store';
import type { StateStore } from './types';

export { isPostgresUrl };

/**
 * Opens the state store a location names: `postgres://…` (or `postgresql://…`) is the shared
 * PostgreSQL store for several workers, anything else a SQLite file (the embedded default).
 * A PostgreSQL store is migrated before this resolves, so a worker that cannot reach it or whose
 * schema is too new stops at start.
 */
export async function openStateStore(location: string, pgOptions: PostgresStateStoreOptions = {}): Promise<StateStore> {
  if (!isPostgresUrl(location)) return openSqliteStateStore(location, pgOptions);
  const store = openPostgresStateStore(location, pgOptions);
  try {
    await store.ready();
  } catch (err) {
    await store.close().catch(() => undefined);
    throw err;
  }
  return store;
}
