/**
 * The PostgreSQL test bed itself: a real Debian PostgreSQL 15 started by the test, as an
 * unprivileged user, on loopback only, stopped by PID with its temporary folder removed.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { startPostgres, type TestPostgres } from '../helpers/postgres';
import { isAlive, recordedPids } from '../helpers/processes';

jest.setTimeout(120_000);

async function query<T>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql, params)).rows as T[];
  } finally {
    await c.end();
  }
}

describe('startPostgres', () => {
  let pg: TestPostgres | undefined;
  afterEach(async () => {
    await pg?.stop();
    pg = undefined;
  });

  it('serves on 127.0.0.1 as a non-root user, creates databases, and stops by PID', async () => {
    pg = await startPostgres();
    const { pid, port, url } = pg;
    expect(url).toMatch(new RegExp(`^postgres://postgres:[^@]+@127\\.0\\.0\\.1:${port}/postgres$`));
    // Recorded for the global teardown's leftover check.
    expect(recordedPids().some((r) => r.pid === pid)).toBe(true);
    // The postmaster does not run as root.
    const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
    expect(uid).not.toBe(0);

    const [settings] = await query<{ listen: string; version: string }>(url, "select current_setting('listen_addresses') as listen, current_setting('server_version') as version");
    expect(settings).toEqual({ listen: '127.0.0.1', version: expect.stringMatching(/^15\./) });

    const dbUrl = await pg.createDatabase('helper_check');
    expect(dbUrl).toBe(url.replace(/\/postgres$/, '/helper_check'));
    await query(dbUrl, 'create table t (id int primary key, name text)');
    await query(dbUrl, 'insert into t values ($1, $2)', [1, 'ä']);
    expect(await query(dbUrl, 'select id, name, current_database() as db from t')).toEqual([{ id: 1, name: 'ä', db: 'helper_check' }]);

    // A wrong password is refused: TCP logins need the cluster's random password.
    await expect(query(url.replace(/:[^:@]+@/, ':wrong@'), 'select 1')).rejects.toThrow(/password authentication failed/);
    await expect(pg.createDatabase('Bad-Name')).rejects.toThrow(/lowercase letters/);

    await pg.stop();
    pg = undefined;
    expect(isAlive(pid)).toBe(false);
    await expect(query(url, 'select 1')).rejects.toThrow(/ECONNREFUSED/);
  });

  it('keeps a given data folder across a restart', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'crm-erp-sync-pgdata-'));
    const dataDir = path.join(dir, 'cluster');
    // mkdtemp makes a folder closed to others; the cluster's unprivileged owner must pass through it.
    await expect(startPostgres({ dataDir })).rejects.toThrow(/cannot reach this folder.*chmod o\+x/);
    chmodSync(dir, 0o711);
    try {
      pg = await startPostgres({ dataDir });
      const dbUrl = await pg.createDatabase('kept');
      await query(dbUrl, 'create table t (v text)');
      await query(dbUrl, "insert into t values ('survives')");
      await pg.stop();
      expect(existsSync(path.join(dataDir, 'PG_VERSION'))).toBe(true);

      pg = await startPostgres({ dataDir });
      const again = pg.url.replace(/\/postgres$/, '/kept');
      expect(await query(again, 'select v from t')).toEqual([{ v: 'survives' }]);
    } finally {
      await pg?.stop();
      pg = undefined;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
