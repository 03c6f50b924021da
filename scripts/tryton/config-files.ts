import { mkdirSync, writeFileSync } from 'node:fs';
import type { InstancePaths } from './settings';

/** Writes trytond.conf (loopback only, SQLite under dbDir) and a file logging config. */
export function writeConfigFiles(p: InstancePaths, port: number): void {
  mkdirSync(p.dbDir, { recursive: true });
  mkdirSync(p.www, { recursive: true });
  writeFileSync(
    p.config,
    [
      '[web]',
      `listen = 127.0.0.1:${port}`,
      `root = ${p.www}`,
      '',
      '[database]',
      'uri = sqlite://',
      `path = ${p.dbDir}`,
      'language = en',
      '',
    ].join('\n'),
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
