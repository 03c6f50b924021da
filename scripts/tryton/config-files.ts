import { mkdirSync, writeFileSync } from 'node:fs';
import type { InstancePaths } from './settings';

/**
 * Writes trytond.conf (loopback only; `databaseUri` is the PostgreSQL server, e.g.
 * `postgresql://postgres:<password>@127.0.0.1:<port>/`, so the file is mode 0600) and a file
 * logging config.
 */
export function writeConfigFiles(p: InstancePaths, port: number, databaseUri: string): void {
  mkdirSync(p.files, { recursive: true });
  mkdirSync(p.www, { recursive: true });
  writeFileSync(
    p.config,
    [
      '[web]',
      `listen = 127.0.0.1:${port}`,
      `root = ${p.www}`,
      '',
      '[database]',
      `uri = ${databaseUri}`,
      `path = ${p.files}`,
      'language = en',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  writeFileSync(
    p.logConfig,
    [
      '[formatters]',
      'keys=simple',
      '[handlers]',
      'keys=file',
      '[loggers]',
      'keys=root',
      '[formatter_simple]',
      'format=%(asctime)s %(levelname)s %(name)s %(message)s',
      '[handler_file]',
      'class=FileHandler',
      'level=NOTSET',
      'formatter=simple',
      `args=(${JSON.stringify(p.log)}, 'a')`,
      '[logger_root]',
      'level=WARNING',
      'handlers=file',
      '',
    ].join('\n'),
  );
}
