import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pruneTrytonCaches } from '../../scripts/tryton/prune';

let root: string;
beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'tryton-prune-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** A fake cached cluster: a folder with a file in it, as PostgreSQL's data folder would be. */
const cluster = (name: string) => {
  mkdirSync(path.join(root, name, 'base'), { recursive: true });
  writeFileSync(path.join(root, name, 'PG_VERSION'), '15\n');
};
/** A PID that no longer runs: a child that has exited and been reaped. */
const deadPid = (): number => spawnSync(process.execPath, ['-e', '0']).pid!;

test('old pristine and initialised caches are removed; the current ones, locked ones and everything else stay', () => {
  const current = ['pristine-aaaaaaaaaaaa.pg', 'initialised-bbbbbbbbbbbb.pg'];
  for (const c of current) cluster(c);
  cluster('pristine-111111111111.pg'); // another toolchain pin
  cluster('initialised-222222222222.pg'); // another module set
  writeFileSync(path.join(root, 'pristine-0af094525967.sqlite'), 'x'); // a cache of an older version
  cluster('pristine-333333333333.pg'); // being built by a live process (another checkout on TRYTON_DATA_DIR)
  writeFileSync(path.join(root, 'pristine-333333333333.pg.lock'), String(process.pid));
  cluster('pristine-444444444444.pg'); // its builder died: not in use
  writeFileSync(path.join(root, 'pristine-444444444444.pg.lock'), String(deadPid()));
  for (const other of ['instances', 'dev', 'build-123-abcd']) cluster(other);
  writeFileSync(path.join(root, 'pristine-aaaaaaaaaaaa.pg.lock'), String(process.pid));

  const logs: string[] = [];
  const removed = pruneTrytonCaches(root, current.map((c) => path.join(root, c)), (m) => logs.push(m));

  expect(removed.sort()).toEqual(['initialised-222222222222.pg', 'pristine-0af094525967.sqlite', 'pristine-111111111111.pg', 'pristine-444444444444.pg']);
  expect(readdirSync(root).sort()).toEqual(
    ['build-123-abcd', 'dev', 'initialised-bbbbbbbbbbbb.pg', 'instances', 'pristine-333333333333.pg', 'pristine-333333333333.pg.lock', 'pristine-aaaaaaaaaaaa.pg', 'pristine-aaaaaaaaaaaa.pg.lock'].sort(),
  );
  expect(existsSync(path.join(root, 'pristine-aaaaaaaaaaaa.pg', 'PG_VERSION'))).toBe(true);
  expect(logs).toEqual([expect.stringContaining('removed old Tryton caches: ')]);
  // a second pass has nothing left to do
  expect(pruneTrytonCaches(root, current.map((c) => path.join(root, c)))).toEqual([]);
});

test('a data root that does not exist yet is not an error', () => {
  expect(pruneTrytonCaches(path.join(root, 'missing'), [])).toEqual([]);
});
