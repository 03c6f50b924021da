/**
 * Debian's headless Chromium for tests that check what a page shows (the HTML run report, the
 * Web UI). The test starts the browser itself as its own process group (recorded PID), talks to
 * it with playwright-core over the DevTools protocol, and stops it by that PID: never by name.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { ensureChromium } from '../../scripts/chromium';
import { isAlive, recordPid, waitFor } from './processes';

export interface HeadlessBrowser {
  browser: Browser;
  pid: number;
  /** Close the browser; SIGKILL its process group when it does not go in time. Safe to call twice. */
  stop(): Promise<void>;
}

/** The flags every browser test uses: headless, no sandbox (root), nothing that phones home. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export async function startBrowser(): Promise<HeadlessBrowser> {
  const executable = ensureChromium((m) => process.stderr.write(`${m}\n`));
  const profile = mkdtempSync(path.join(os.tmpdir(), 'crm-sync-chromium-'));
  const child: ChildProcess = spawn(executable, [...CHROMIUM_ARGS, `--user-data-dir=${profile}`, '--remote-debugging-address=127.0.0.1', '--remote-debugging-port=0', 'about:blank'], {
    detached: true, // its own process group: stop() reaches the renderers too
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`could not start ${executable}`);
  const pid = child.pid;
  recordPid(pid, `${executable} --headless (browser test)`);
  let err = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stopGroup = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-pid, 'SIGTERM');
      } catch {
        // already gone
      }
      const late = setTimeout(() => {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }, 5000);
      await exited;
      clearTimeout(late);
    }
    // The renderers of the group leave right after the browser process.
    await waitFor(() => {
      try {
        process.kill(-pid, 0);
        return false;
      } catch {
        return true;
      }
    }, `chromium process group ${pid} to end`, 10_000).catch(() => {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // gone
      }
    });
    rmSync(profile, { recursive: true, force: true });
  };
  try {
    const endpoint = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`chromium gave no DevTools endpoint within 60 s:\n${err}`)), 60_000);
      child.stderr!.on('data', (b: Buffer) => {
        err += b.toString();
        const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`chromium exited (${code ?? signal}) at start:\n${err}`));
      });
    });
    const browser = await chromium.connectOverCDP(endpoint);
    let stopped = false;
    return {
      browser,
      pid,
      async stop() {
        if (stopped) return;
        stopped = true;
        await browser.close().catch(() => undefined);
        await stopGroup();
        if (isAlive(pid)) throw new Error(`chromium ${pid} is still alive after stop`);
      },
    };
  } catch (e) {
    await stopGroup();
    throw e;
  }
}
