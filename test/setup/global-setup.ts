/** Gives the test run an id that every process it spawns inherits (see test/helpers/processes.ts). */
import { randomBytes } from 'node:crypto';
import { ensureChromium } from '../../scripts/chromium';
import { RUN_ENV } from '../helpers/processes';

export default function globalSetup(): void {
  process.env[RUN_ENV] = `${process.pid}-${randomBytes(4).toString('hex')}`;
  // The browser tests' Chromium (toolchain.json), installed once here so a clean clone on CI
  // has it; a failure is left to those tests to report (startBrowser tries again and throws).
  try {
    ensureChromium((m) => process.stderr.write(`${m}\n`));
  } catch (err) {
    process.stderr.write(`chromium not available (browser tests will fail): ${(err as Error).message}\n`);
  }
}
