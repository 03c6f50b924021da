/**
 * Debian's Chromium for the headless browser tests (the HTML run report, the Web UI's decoded
 * payloads), pinned in toolchain.json. Installs it with apt-get when missing (needs root, as on
 * CI); a no-op (one dpkg-query) when present. Usage: tsx scripts/chromium.ts [ensure|path]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');

interface ChromiumPins {
  apt: Record<string, string>;
  executable: string;
}

export function chromiumPins(): ChromiumPins {
  const t = JSON.parse(readFileSync(path.join(ROOT, 'toolchain.json'), 'utf8')) as { chromium?: ChromiumPins };
  if (!t.chromium?.apt || !t.chromium.executable) throw new Error('toolchain.json: chromium.apt and chromium.executable are required (see the chromium entry in the README)');
  return t.chromium;
}

function installedVersion(pkg: string): string | null {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}\t${Version}', pkg], { encoding: 'utf8' });
  if (r.status !== 0) return null;
  const [status, version] = r.stdout.split('\t');
  return status?.endsWith(' installed') && version ? version : null;
}

/** Versions apt offers for `pkg` (after apt-get update). */
function offered(pkg: string): string[] {
  const r = spawnSync('apt-cache', ['madison', pkg], { encoding: 'utf8' });
  return r.stdout.split('\n').map((l) => l.split('|')[1]?.trim()).filter((v): v is string => !!v);
}

/**
 * The path of the Chromium binary, installing the pinned package first when it is missing.
 * An installed Chromium of another version is used as is (with a note): the tests check what a
 * page shows, not a browser build.
 */
export function ensureChromium(log: (msg: string) => void = () => undefined): string {
  const { apt, executable } = chromiumPins();
  const missing = Object.keys(apt).filter((pkg) => installedVersion(pkg) === null);
  if (missing.length === 0 && existsSync(executable)) {
    for (const [pkg, v] of Object.entries(apt)) {
      const got = installedVersion(pkg);
      if (got !== v) log(`note: ${pkg} ${got} is installed, toolchain.json pins ${v}; using it`);
    }
    return executable;
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  log(`installing ${missing.join(' ')} with apt-get (pinned in toolchain.json)`);
  execFileSync('apt-get', ['update'], { stdio: ['ignore', 'inherit', 'inherit'], env });
  const wanted = missing.map((pkg) => {
    const pin = apt[pkg]!;
    if (offered(pkg).includes(pin)) return `${pkg}=${pin}`;
    log(`note: ${pkg}=${pin} is no longer offered by Debian (security builds are replaced in place); installing the current ${pkg}. Update toolchain.json.`);
    return pkg;
  });
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...wanted], { stdio: ['ignore', 'inherit', 'inherit'], env });
  if (!existsSync(executable)) throw new Error(`apt-get installed ${wanted.join(' ')} but ${executable} does not exist (toolchain.json chromium.executable)`);
  return executable;
}

if (require.main === module) {
  const cmd = process.argv[2] ?? 'ensure';
  try {
    const bin = ensureChromium((m) => process.stderr.write(`${m}\n`));
    process.stdout.write(cmd === 'path' ? `${bin}\n` : `chromium: ${bin} (${installedVersion('chromium') ?? '?'})\n`);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
