import { execFileSync, spawnSync } from 'node:child_process';
import { readTrytonToolchain } from './toolchain';

/** Installed version of a Debian package, or null when it is not installed. */
function installedVersion(pkg: string): string | null {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}\t${Version}', pkg], { encoding: 'utf8' });
  if (r.status !== 0) return null;
  const [status, version] = r.stdout.split('\t');
  return status?.endsWith(' installed') && version ? version : null;
}

/** Packages whose installed version differs from the pin in toolchain.json. */
export function missingTrytonPackages(): string[] {
  const { apt } = readTrytonToolchain();
  return Object.entries(apt)
    .filter(([pkg, version]) => installedVersion(pkg) !== version)
    .map(([pkg, version]) => `${pkg}=${version}`);
}

/**
 * Installs the pinned tryton-server and modules with apt when any is missing; a no-op (one
 * dpkg-query per package) otherwise. `--no-install-recommends` keeps it at ~33 MB instead of
 * ~900 MB (LibreOffice, PostgreSQL). Needs root, as on CI.
 */
export async function ensureTrytonInstalled(log: (msg: string) => void = () => undefined): Promise<void> {
  const missing = missingTrytonPackages();
  if (missing.length === 0) return;
  log(`installing ${missing.length} Tryton packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
  const still = missingTrytonPackages();
  if (still.length > 0) throw new Error(`Tryton packages still missing after apt-get install: ${still.join(' ')}`);
}
