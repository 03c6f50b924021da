import type { Pool, PoolClient } from 'pg';

/**
 * Versioned schema of the PostgreSQL state store. Migrations run when a worker opens the store:
 * in one transaction that first takes a transaction-level advisory lock, so when several workers
 * start at once one migrates and the others wait, then find every version in `schema_migrations`
 * and apply nothing. Add a migration by appending it; never edit one that has shipped.
 *
 * Key columns use the "C" collation: keys, cursors and ISO timestamps compare byte-wise, as
 * they do in SQLite and in JavaScript, whatever the database's default collation is.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'initial state store',
    sql: `
CREATE TABLE checkpoints (pipeline text COLLATE "C" PRIMARY KEY, cursor text, sync_id text, updated_at text NOT NULL);
CREATE TABLE staged_pages (id text COLLATE "C" PRIMARY KEY, sync_id text COLLATE "C" NOT NULL, payload text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX staged_pages_sync ON staged_pages (sync_id);
CREATE INDEX staged_pages_created ON staged_pages (created_at);
CREATE TABLE bindings (pipeline text COLLATE "C" NOT NULL, source_key text COLLATE "C" NOT NULL, target_key text COLLATE "C" NOT NULL,
  hash text NOT NULL, fields text, updated_at text NOT NULL, PRIMARY KEY (pipeline, source_key));
CREATE INDEX bindings_target ON bindings (pipeline, target_key);
CREATE TABLE quarantine (pipeline text COLLATE "C" NOT NULL, source_key text COLLATE "C" NOT NULL, sync_id text NOT NULL, stage text NOT NULL,
  field text COLLATE "C", rule text COLLATE "C" NOT NULL, reason text NOT NULL, record text, first_seen_at text COLLATE "C" NOT NULL,
  last_seen_at text COLLATE "C" NOT NULL, attempts integer NOT NULL DEFAULT 1, resolved_at text, dismissed_reason text,
  PRIMARY KEY (pipeline, source_key));
CREATE INDEX quarantine_open ON quarantine (pipeline) WHERE resolved_at IS NULL;
CREATE TABLE meta (key text COLLATE "C" PRIMARY KEY, value text NOT NULL, updated_at text NOT NULL);
CREATE TABLE links (link_id text COLLATE "C" PRIMARY KEY, pair text COLLATE "C" NOT NULL, fields text NOT NULL, deleted_sides text NOT NULL DEFAULT '[]',
  record_hash text, tombstone_side text, deleted_at text, updated_at text NOT NULL);
CREATE INDEX links_pair ON links (pair, link_id);
CREATE TABLE link_keys (pair text COLLATE "C" NOT NULL, side text COLLATE "C" NOT NULL, key text COLLATE "C" NOT NULL, link_id text COLLATE "C" NOT NULL,
  system text NOT NULL, entity text NOT NULL, PRIMARY KEY (pair, side, key));
CREATE UNIQUE INDEX link_keys_link ON link_keys (link_id, side);
CREATE INDEX link_keys_record ON link_keys (system, entity, key);
CREATE TABLE write_ledger (link_id text COLLATE "C" NOT NULL, side text COLLATE "C" NOT NULL, field text COLLATE "C" NOT NULL, hash text NOT NULL,
  written_at text NOT NULL, PRIMARY KEY (link_id, side, field));
CREATE TABLE run_reports (sync_id text COLLATE "C" PRIMARY KEY, pipeline text COLLATE "C" NOT NULL, status text NOT NULL, started_at text NOT NULL,
  finished_at text COLLATE "C" NOT NULL, totals text NOT NULL);
CREATE INDEX run_reports_pipeline ON run_reports (pipeline, finished_at DESC);
CREATE TABLE recon_rows (seq bigserial PRIMARY KEY, recon_id text COLLATE "C" NOT NULL, kind text COLLATE "C" NOT NULL, side text COLLATE "C" NOT NULL,
  key text COLLATE "C" NOT NULL, value text COLLATE "C" NOT NULL DEFAULT '', payload text);
CREATE INDEX recon_rows_kind ON recon_rows (recon_id, kind, seq);
CREATE UNIQUE INDEX recon_rows_once ON recon_rows (recon_id, kind, side, key, value);
CREATE INDEX recon_rows_value ON recon_rows (recon_id, kind, side, value);
`,
  },
  {
    version: 2,
    name: 'run events (step timings, change samples, retries, approvals, conflicts per sync)',
    sql: `
CREATE TABLE run_events (seq bigserial PRIMARY KEY, sync_id text COLLATE "C" NOT NULL, kind text NOT NULL, at text NOT NULL, data text NOT NULL);
CREATE INDEX run_events_sync ON run_events (sync_id, seq);
`,
  },
  {
    version: 3,
    name: 'dry-run plans (plan headers and their items, applied by applyPlan)',
    sql: `
CREATE TABLE plans (plan_id text COLLATE "C" PRIMARY KEY, kind text NOT NULL, name text COLLATE "C" NOT NULL, sync_id text COLLATE "C" NOT NULL,
  status text NOT NULL, plan_hash text, counts text NOT NULL, meta text NOT NULL, created_at text NOT NULL, updated_at text NOT NULL);
CREATE TABLE plan_items (plan_id text COLLATE "C" NOT NULL, seq bigint NOT NULL, key text COLLATE "C" NOT NULL, op text NOT NULL, data text NOT NULL,
  PRIMARY KEY (plan_id, seq));
`,
  },
  {
    version: 4,
    name: 'run events by time (retention: SYNC_RUN_EVENTS_DAYS)',
    sql: `
CREATE INDEX run_events_at ON run_events (at);
`,
  },
];

/** Any 64-bit number, the same in every worker: the lock that serialises migrations. */
export const MIGRATION_LOCK_KEY = 0x63726d5f73796e63n; // "crm_sync"

export interface MigrationResult {
  /** Versions this call applied (empty when another worker had already migrated). */
  applied: number[];
  /** The schema version afterwards. */
  version: number;
}

/**
 * Bring the schema to the newest version. Safe to call from many processes at once: the
 * advisory lock makes them take turns, and each applies only what `schema_migrations` lacks.
 */
export async function migrate(pool: Pool, migrations: Migration[] = MIGRATIONS): Promise<MigrationResult> {
  const client: PoolClient = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const done = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
    const known = Math.max(0, ...migrations.map((m) => m.version));
    const newest = Math.max(0, ...done);
    if (newest > known) {
      throw new Error(`the PostgreSQL state store has schema version ${newest}, newer than this worker knows (${known}): run a worker of the same or a newer release`);
    }
    const applied: number[] = [];
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(m.version)) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      applied.push(m.version);
    }
    await client.query('COMMIT');
    return { applied, version: Math.max(newest, ...applied) };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
