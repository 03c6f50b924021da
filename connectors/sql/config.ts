import { z } from 'zod';

const ident = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected a plain SQL identifier (letters, digits, _)');

/** How one table is read and written. */
export const SqlEntitySchema = z
  .object({
    table: ident,
    /** Primary key column: the record's key when read, the target key when written. */
    keyColumn: ident,
    /** Whether keys compare as numbers or text (must match the column, for the cursor order). */
    keyType: z.enum(['integer', 'text']).default('integer'),
    /** ISO-8601 UTC text (SQLite) or timestamptz (PostgreSQL); drives incremental reads. */
    modifiedAtColumn: ident,
    /** Column holding the source's key when this table is a target (unique). */
    externalKeyColumn: ident.optional(),
    /** Columns to read (default: all). */
    columns: z.array(ident).optional(),
    /** Canonical field path → column, used when writing (e.g. {"address.countryCode": "country_code"}). */
    fields: z.record(z.string(), ident).optional(),
  })
  .strict();
export type SqlEntity = z.infer<typeof SqlEntitySchema>;

export const SqlSystemSchema = z
  .object({
    kind: z.literal('sql'),
    dialect: z.enum(['sqlite', 'postgres']),
    /** SQLite file path, relative to the working directory (dialect sqlite). */
    path: z.string().min(1).optional(),
    /** Name of the environment variable holding the `postgres://` URL (dialect postgres; a secret: it carries the password). */
    urlEnv: z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'expected the NAME of an environment variable holding the postgres:// URL').optional(),
    /** PostgreSQL schema the tables live in (the session's search_path; dialect postgres). @default the server's (public) */
    schema: z.string().regex(/^[a-z_][a-z0-9_]*$/, 'expected a lowercase schema name (letters, digits, _)').optional(),
    entities: z.record(z.string(), SqlEntitySchema),
    /**
     * Longest a statement waits for a lock held by another connection (SQLite busy_timeout);
     * then it fails as `Transient` and the batch is retried. better-sqlite3 runs statements
     * synchronously and cannot interrupt a running one. @default 5
     */
    busyTimeoutSeconds: z.number().min(0).max(600).optional(),
    /** What to run when the database file or one of its tables is missing (added to the error). */
    setupHint: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.dialect === 'sqlite' && v.path === undefined) ctx.addIssue({ code: 'custom', path: ['path'], message: 'a sqlite system needs "path": the database file' });
    if (v.dialect === 'postgres' && v.urlEnv === undefined) {
      ctx.addIssue({ code: 'custom', path: ['urlEnv'], message: 'a postgres system needs "urlEnv": the NAME of the environment variable with its postgres:// URL' });
    }
    if (v.dialect === 'sqlite' && v.schema !== undefined) ctx.addIssue({ code: 'custom', path: ['schema'], message: 'a sqlite system has no "schema"; it is for dialect postgres' });
    if (v.dialect === 'postgres' && v.path !== undefined) ctx.addIssue({ code: 'custom', path: ['path'], message: 'a postgres system has no "path"; its database is the URL in "urlEnv"' });
  });
export type SqlSystem = z.infer<typeof SqlSystemSchema>;
