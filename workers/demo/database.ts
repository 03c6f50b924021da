/**
 * Where the demo's CRM and ERP tables live: SQLite files in $DEMO_DATA_DIR (the default), or
 * PostgreSQL with `DEMO_DB=postgres://…` (schemas demo_crm and demo_erp of that database, seeded
 * by demo/postgres.ts). For PostgreSQL the demo runs on a config folder of its own,
 * `$DEMO_DATA_DIR/config-postgres/`: the project's config with the systems demo-crm and demo-erp
 * switched to dialect postgres (`urlEnv: DEMO_DB`, so the password stays in the environment);
 * pipelines, pairs and the other files are links to the project's.
 */
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { DEMO_PG_SCHEMAS, seedDemoPostgres } from '../../demo/postgres';
import { seedDemo } from '../../demo/seed';

const DemoDbSchema = z
  .string()
  .regex(/^postgres(?:ql)?:\/\/[^\s]+$/, 'expected a postgres://user:password@host:port/database URL (or unset for the SQLite demo)')
  .optional();

export interface DemoDatabase {
  kind: 'sqlite' | 'postgres';
  /** For messages: the folder, or the PostgreSQL host and database (never the password). */
  where: string;
  /** The config folder to run the demo on (undefined: the configured one). */
  configDir: string | undefined;
  /** Create and fill the demo CRM and an empty ERP when not seeded yet; true when it seeded. */
  seed(): Promise<boolean>;
}

/** The demo database `DEMO_DB` asks for; a bad value fails with the variable's name and the fix. */
export function demoDatabase(env: NodeJS.ProcessEnv, dataDir: string, baseConfigDir: string): DemoDatabase {
  const parsed = DemoDbSchema.safeParse(env.DEMO_DB === '' ? undefined : env.DEMO_DB);
  if (!parsed.success) throw new Error(`DEMO_DB: ${parsed.error.issues[0]!.message}`);
  const url = parsed.data;
  if (!url) return { kind: 'sqlite', where: dataDir, configDir: undefined, seed: () => Promise.resolve(seedDemo(dataDir)) };
  const u = new URL(url);
  return {
    kind: 'postgres',
    where: `PostgreSQL ${u.hostname}:${u.port || 5432}${u.pathname} (schemas ${DEMO_PG_SCHEMAS.crm}, ${DEMO_PG_SCHEMAS.erp})`,
    configDir: writePostgresDemoConfig(baseConfigDir, path.join(dataDir, 'config-postgres')),
    seed: () => seedDemoPostgres(url, dataDir),
  };
}

/** The project's config with demo-crm and demo-erp on PostgreSQL; returns the folder. */
export function writePostgresDemoConfig(baseConfigDir: string, outDir: string): string {
  const base = path.resolve(baseConfigDir);
  mkdirSync(outDir, { recursive: true });
  const systems = JSON.parse(readFileSync(path.join(base, 'systems.json'), 'utf8')) as Record<string, Record<string, unknown>>;
  for (const [name, schema] of [
    ['demo-crm', DEMO_PG_SCHEMAS.crm],
    ['demo-erp', DEMO_PG_SCHEMAS.erp],
  ] as const) {
    // Without the SQLite-only keys (path, busyTimeoutSeconds).
    const rest = Object.fromEntries(Object.entries(systems[name] ?? {}).filter(([k]) => !['path', 'dialect', 'busyTimeoutSeconds'].includes(k)));
    systems[name] = { ...rest, dialect: 'postgres', urlEnv: 'DEMO_DB', schema, setupHint: 'run `npm run demo:seed` (or `npm start`) with DEMO_DB set to create the demo CRM and ERP on PostgreSQL' };
  }
  const out = { ...systems, $comment: `Written by workers/demo/database.ts from ${path.join(base, 'systems.json')} for DEMO_DB: demo-crm and demo-erp on PostgreSQL.` };
  writeFileSync(path.join(outDir, 'systems.json'), `${JSON.stringify(out, null, 2)}\n`);
  for (const entry of readdirSync(base)) {
    if (entry === 'systems.json') continue;
    try {
      symlinkSync(path.join(base, entry), path.join(outDir, entry));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  return outDir;
}
