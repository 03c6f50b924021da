import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import { compileMapping, MappingConfigError, type CompiledMapping } from '../mappings/dsl/compile';
import type { Connector } from '../connectors/types';
import { PairSchema, type Pair } from '../contracts/pair';
import { CANONICAL_SCHEMAS, type CanonicalEntity } from '../mappings/canonical';
import { hasCanonicalPath } from '../mappings/canonical-paths';
import { interpolateEnv } from './env';
import { PipelineSchema, type Pipeline } from './schema';
import { CONNECTOR_KINDS } from './systems';

/** A config file is wrong: the message names the file, the path inside it and the fix. */
export class ConfigFileError extends Error {
  constructor(
    readonly file: string,
    readonly path: string,
    detail: string,
  ) {
    super(`${file}: ${path ? `${path}: ` : ''}${detail}`);
    this.name = 'ConfigFileError';
  }
}

export interface SystemEntry {
  name: string;
  kind: string;
  config: unknown;
  /**
   * Put before every key this system's records carry into a target (external keys and the
   * mapping's `sourceKey` fields), so that two source systems never address the same target
   * record. Empty for the one source a target was first loaded from (its "home" source).
   */
  keyPrefix: string;
}

/** `keyPrefix` of a system in systems.json: letters or digits, then a separator, e.g. "HS-". */
const KEY_PREFIX = /^[A-Za-z][A-Za-z0-9]*[-:_.]$/;

/** Everything a worker needs to run pipelines, validated and compiled once at start. */
export interface Registry {
  pipelines: Map<string, Pipeline>;
  mappings: Map<string, CompiledMapping>;
  systems: Map<string, SystemEntry>;
  /** Two-way sync pairs from config/pairs/, by name. */
  pairs: Map<string, Pair>;
}

/** The configuration shipped with the project, wherever the process was started from. */
export const PROJECT_CONFIG = {
  configDir: path.resolve(__dirname, '../config'),
  mappingsDir: path.resolve(__dirname, '../mappings/definitions'),
} as const;

export interface LoadOptions {
  /** Folder with systems.json, pipelines/ and pairs/. @default PROJECT_CONFIG.configDir */
  configDir?: string;
  /** Folder with mapping definitions. @default PROJECT_CONFIG.mappingsDir */
  mappingsDir?: string;
  env: NodeJS.ProcessEnv;
}

function pathOf(p: readonly PropertyKey[]): string {
  return p.map((s) => (typeof s === 'number' ? `[${s}]` : `.${String(s)}`)).join('').replace(/^\./, '');
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigFileError(file, '', `cannot read: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ConfigFileError(file, '', `not valid JSON: ${(e as Error).message}`);
  }
}

function parseWith<S extends z.ZodType>(schema: S, value: unknown, file: string, prefix = ''): z.infer<S> {
  const r = schema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new ConfigFileError(file, [prefix, pathOf(issue.path)].filter(Boolean).join('.'), issue.message);
  }
  return r.data;
}

function jsonFiles(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => f.endsWith('.json')).sort().map((f) => path.join(dir, f));
  } catch {
    return [];
  }
}

export function loadRegistry(options: LoadOptions): Registry {
  const opts = { ...PROJECT_CONFIG, ...options };
  const systemsFile = path.join(opts.configDir, 'systems.json');
  const rawSystems = readJson(systemsFile);
  if (!rawSystems || typeof rawSystems !== 'object' || Array.isArray(rawSystems)) {
    throw new ConfigFileError(systemsFile, '', 'expected an object of system name → system config');
  }
  const systems = new Map<string, SystemEntry>();
  for (const [name, raw] of Object.entries(rawSystems as Record<string, unknown>)) {
    if (name.startsWith('$')) continue;
    const k = (raw as { kind?: unknown } | null)?.kind;
    const kind = typeof k === 'string' ? CONNECTOR_KINDS[k] : undefined;
    if (!kind) {
      throw new ConfigFileError(systemsFile, `${name}.kind`, `expected one of ${Object.keys(CONNECTOR_KINDS).join(', ')}, got ${JSON.stringify(k)}`);
    }
    const { keyPrefix = '', ...rest } = raw as { keyPrefix?: unknown };
    if (typeof keyPrefix !== 'string' || (keyPrefix !== '' && !KEY_PREFIX.test(keyPrefix))) {
      throw new ConfigFileError(
        systemsFile,
        `${name}.keyPrefix`,
        `expected a letter, then letters or digits, then one of - : _ . (e.g. "HS-"), got ${JSON.stringify(keyPrefix)}`,
      );
    }
    const resolved = interpolateEnv(rest, opts.env, (v) => {
      throw new ConfigFileError(systemsFile, name, `environment variable ${v} is not set (give it a value or a default: \${${v}:-value})`);
    });
    systems.set(name, { name, kind: String(k), config: parseWith(kind.schema, resolved, systemsFile, name), keyPrefix });
  }

  const mappings = new Map<string, CompiledMapping>();
  for (const file of jsonFiles(opts.mappingsDir)) {
    try {
      const m = compileMapping(readJson(file), file);
      mappings.set(m.name, m);
    } catch (e) {
      if (e instanceof MappingConfigError) throw new ConfigFileError(e.file, e.path, e.message.replace(`${e.file}: ${e.path ? `${e.path}: ` : ''}`, ''));
      throw e;
    }
  }

  const pipelines = new Map<string, Pipeline>();
  const writers: KeySpaces = new Map();
  for (const file of jsonFiles(path.join(opts.configDir, 'pipelines'))) {
    const p = parseWith(PipelineSchema, readJson(file), file);
    for (const side of ['source', 'target'] as const) {
      const sys = systems.get(p[side].system);
      if (!sys) {
        throw new ConfigFileError(file, `${side}.system`, `unknown system "${p[side].system}"; systems.json defines ${[...systems.keys()].join(', ')}`);
      }
      const entities = (sys.config as { entities?: Record<string, unknown> }).entities;
      if (entities && !(p[side].entity in entities)) {
        throw new ConfigFileError(file, `${side}.entity`, `system "${sys.name}" has no entity "${p[side].entity}"; it has ${Object.keys(entities).join(', ')}`);
      }
    }
    if (!mappings.has(p.mapping)) {
      throw new ConfigFileError(file, 'mapping', `unknown mapping "${p.mapping}"; ${opts.mappingsDir} defines ${[...mappings.keys()].join(', ') || 'none'}`);
    }
    if (pipelines.has(p.name)) throw new ConfigFileError(file, 'name', `pipeline "${p.name}" is defined twice`);
    checkKeySpaces(p, file, writers, systems);
    pipelines.set(p.name, p);
  }

  const pairs = new Map<string, Pair>();
  for (const file of jsonFiles(path.join(opts.configDir, 'pairs'))) {
    const pair = parseWith(PairSchema, readJson(file), file);
    checkPair(pair, file, { systems, mappings, mappingsDir: opts.mappingsDir });
    if (pairs.has(pair.name)) throw new ConfigFileError(file, 'name', `pair "${pair.name}" is defined twice`);
    if (pipelines.has(pair.name)) {
      throw new ConfigFileError(file, 'name', `"${pair.name}" is already a pipeline's name; pairs and pipelines share one name space (links are kept per name)`);
    }
    pairs.set(pair.name, pair);
  }
  return { pipelines, mappings, systems, pairs };
}

/** What a pair file refers to must exist, and every field path must be one of its canonical entity. */
function checkPair(
  pair: Pair,
  file: string,
  known: { systems: Map<string, SystemEntry>; mappings: Map<string, CompiledMapping>; mappingsDir: string },
): void {
  const names = Object.keys(CANONICAL_SCHEMAS);
  if (!names.includes(pair.canonical)) {
    throw new ConfigFileError(file, 'canonical', `unknown canonical entity "${pair.canonical}"; expected one of ${names.join(', ')}`);
  }
  const canonical = pair.canonical as CanonicalEntity;
  const schema = CANONICAL_SCHEMAS[canonical];
  const fieldList = Object.keys((schema as unknown as { shape: object }).shape).join(', ');
  const checkPath = (at: string, field: string) => {
    if (!hasCanonicalPath(schema, field)) {
      throw new ConfigFileError(file, at, `${canonical} has no field "${field}"; its fields are ${fieldList} (nested: e.g. address.countryCode)`);
    }
  };
  for (const [side, s] of Object.entries(pair.sides)) {
    const sys = known.systems.get(s.system);
    if (!sys) {
      throw new ConfigFileError(file, `sides.${side}.system`, `unknown system "${s.system}"; systems.json defines ${[...known.systems.keys()].join(', ')}`);
    }
    const entities = (sys.config as { entities?: Record<string, unknown> }).entities;
    if (entities && !(s.entity in entities)) {
      throw new ConfigFileError(file, `sides.${side}.entity`, `system "${sys.name}" has no entity "${s.entity}"; it has ${Object.keys(entities).join(', ')}`);
    }
    const m = known.mappings.get(s.mapping);
    if (!m) {
      throw new ConfigFileError(
        file,
        `sides.${side}.mapping`,
        `unknown mapping "${s.mapping}"; ${known.mappingsDir} defines ${[...known.mappings.keys()].join(', ') || 'none'}`,
      );
    }
    if (m.target !== canonical) {
      const fitting = [...known.mappings.values()].filter((x) => x.target === canonical).map((x) => x.name);
      throw new ConfigFileError(
        file,
        `sides.${side}.mapping`,
        `mapping "${s.mapping}" produces ${m.target}, but the pair's canonical entity is ${canonical}; use a mapping into ${canonical}` +
          (fitting.length ? ` (${fitting.join(', ')})` : ''),
      );
    }
    if (s.softDelete) checkPath(`sides.${side}.softDelete.field`, s.softDelete.field);
  }
  for (const field of Object.keys(pair.fields)) {
    if (field === 'default') continue;
    if (field === 'externalKey') {
      throw new ConfigFileError(file, 'fields.externalKey', 'externalKey is the link between the records, not a synced field; remove this entry');
    }
    checkPath(`fields.${field}`, field);
  }
  pair.match.forEach((rule, i) => {
    if (rule.by === 'fields') rule.fields.forEach((f, j) => checkPath(`match[${i}].fields[${j}]`, f));
  });
  pair.limits.watchFields.forEach((f, i) => checkPath(`limits.watchFields[${i}]`, f));
  if (pair.deletes.policy === 'archive' && !hasCanonicalPath(schema, 'active')) {
    throw new ConfigFileError(file, 'deletes.policy', `${canonical} has no "active" field to archive with; use "ignore" or "delete"`);
  }
}

/** Per target `system.entity`: the source systems writing into it, and the file that first did. */
type KeySpaces = Map<string, Map<string, string>>;

/**
 * Two source systems writing into one target entity must not share a key space: otherwise HubSpot
 * company 5000 and CRM account 5000 are the same ERP customer. Each source needs its own
 * `keyPrefix`, no prefix may start another, and at most one source (the home source) has none.
 */
function checkKeySpaces(p: Pipeline, file: string, writers: KeySpaces, systems: Map<string, SystemEntry>): void {
  const target = `${p.target.system}.${p.target.entity}`;
  const sources = writers.get(target) ?? new Map<string, string>();
  writers.set(target, sources);
  if (sources.has(p.source.system)) return;
  const mine = systems.get(p.source.system)!.keyPrefix;
  for (const [other, otherFile] of sources) {
    const theirs = systems.get(other)!.keyPrefix;
    const clash = mine === '' || theirs === '' ? mine === theirs : mine.startsWith(theirs) || theirs.startsWith(mine);
    if (clash) {
      throw new ConfigFileError(
        file,
        'source.system',
        `"${p.source.system}" and "${other}" (${path.basename(otherFile)}) both write into ${target} with key prefixes ` +
          `${JSON.stringify(mine)} and ${JSON.stringify(theirs)}, so their keys could address the same record; ` +
          `give one of them its own "keyPrefix" in systems.json (e.g. "${p.source.system.slice(0, 2).toUpperCase()}-")`,
      );
    }
  }
  sources.set(p.source.system, file);
}

/**
 * Builds a system's connector instead of its kind's default (tests: a connector over a
 * fault-injecting dialect); `undefined` keeps the default.
 */
export type ConnectorOverride = (systemName: string, config: unknown, env: NodeJS.ProcessEnv) => Connector | undefined;

/** Connectors built on first use and shared by every activity of the worker. */
export class ConnectorPool {
  private readonly open = new Map<string, Connector>();
  constructor(
    private readonly registry: Registry,
    private readonly env: NodeJS.ProcessEnv,
    private readonly override?: ConnectorOverride,
  ) {}

  get(systemName: string): Connector {
    let c = this.open.get(systemName);
    if (!c) {
      const sys = this.registry.systems.get(systemName);
      if (!sys) throw new Error(`unknown system ${systemName}`);
      c = this.override?.(systemName, sys.config, this.env) ?? CONNECTOR_KINDS[sys.kind]!.create(sys.config, systemName, this.env);
      this.open.set(systemName, c);
    }
    return c;
  }

  async closeAll(): Promise<void> {
    const all = [...this.open.values()];
    this.open.clear();
    await Promise.all(all.map((c) => c.close()));
  }
}
