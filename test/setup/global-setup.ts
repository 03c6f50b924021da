/** Gives the test run an id that every process it spawns inherits (see test/helpers/processes.ts). */
import { randomBytes } from 'node:crypto';
import { RUN_ENV } from '../helpers/processes';

export default function globalSetup(): void {
  process.env[RUN_ENV] = `${process.pid}-${randomBytes(4).toString('hex')}`;
}
