import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createPairActivities } from '../../activities/pair';
import { seedDemo } from '../../demo/seed';
import { ConnectorPool, loadRegistry } from '../../pipelines/load';
import { openSqliteStateStore } from '../../state/sqlite-store';
import type { StateStore } from '../../state/types';

export interface PairActivitiesEnv {
  /** The demo CRM/ERP databases and the state store (`state.db`). */
  dir: string;
  store: StateStore;
  acts: ReturnType<typeof createPairActivities>;
}

/** The pair activities in this process (no server) over a fresh demo of `accounts` CRM accounts. */
export function pairActivitiesOn(prefix: string, accounts: number): PairActivitiesEnv {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  seedDemo(dir, { accounts, contacts: 0, products: 0 });
  const vars = { DEMO_DATA_DIR: dir };
  const registry = loadRegistry({ env: vars });
  const store = openSqliteStateStore(path.join(dir, 'state.db'));
  return { dir, store, acts: createPairActivities({ registry, connectors: new ConnectorPool(registry, vars), store }) };
}
