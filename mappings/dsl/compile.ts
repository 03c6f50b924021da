import { CANONICAL_SCHEMAS, type CanonicalEntity } from '../canonical';
import { hasCanonicalPath } from '../canonical-paths';
import { MappingSpecSchema, type MappingSpec } from './spec';
import { readPath } from '../record-path';
import { compileTransform, isBlank, TransformError, type CompiledTransform } from './transforms';

/** Why one record could not be mapped or validated: shown in quarantine. */
export interface RecordIssue {
  /** Canonical field path, e.g. `phone` or `address.countryCode`. */
  field: string;
  /** The rule that refused it: a transform name, `required`, or `schema`. */
  rule: string;
  message: string;
}

export type MapResult = { ok: true; value: Record<string, unknown> } | { ok: false; issues: RecordIssue[] };

export interface MapOptions {
  /** The source system's key prefix, put before every `sourceKey` field (config/systems.json). */
  keyPrefix?: string;
}

/** The way back: canonical → native field values (mapping `write`). */
export interface CompiledWrite {
  /** Native fields and the canonical paths they are written from. */
  rules: { to: string; from: string }[];
  /**
   * Native values of the rules touched by `changed` (canonical paths; a parent touches its
   * children and the other way round), computed from `record` as it is after the change. A
   * missing value is written as null.
   */
  toNative(record: Record<string, unknown>, changed: readonly string[] | 'all'): { ok: true; values: Record<string, unknown> } | { ok: false; issues: RecordIssue[] };
}

export interface CompiledMapping {
  name: string;
  target: CanonicalEntity;
  /** The way back, when the mapping has a `write` section (sides of two-way pairs). */
  write?: CompiledWrite;
  /** Canonical paths of the fields that hold keys of the source system (`"sourceKey": true`). */
  sourceKeyFields: string[];
  /** Canonical paths the mapping fills (its `fields` section), e.g. `name`, `address.city`. */
  fields: string[];
  /** Map one raw source record to the canonical shape and validate it. Pure. */
  apply(record: Record<string, unknown>, options?: MapOptions): MapResult;
  /**
   * What it was compiled from (the mapping file's JSON and its path), so that another thread can
   * compile the same mapping (activities/map-pool.ts). Absent for mappings built in code (tests).
   */
  source?: { spec: unknown; file: string };
}

/** Raised at worker start for a mapping that cannot be compiled; names file, path and fix. */
export class MappingConfigError extends Error {
  constructor(
    readonly file: string,
    readonly path: string,
    detail: string,
  ) {
    super(`${file}: ${path ? `${path}: ` : ''}${detail}`);
    this.name = 'MappingConfigError';
  }
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let cur = target;
  for (const part of path.slice(0, -1)) {
    const next = cur[part];
    if (next === undefined || next === null || typeof next !== 'object') cur[part] = {};
    cur = cur[part] as Record<string, unknown>;
  }
  cur[path[path.length - 1]!] = value;
}

interface CompiledField {
  field: string;
  path: string[];
  read: (record: Record<string, unknown>) => unknown;
  transforms: { name: string; fn: CompiledTransform }[];
  defaultValue: unknown;
  required: boolean;
  omitOnError: boolean;
  sourceKey: boolean;
  /** Read when the field's own source gives a blank value. */
  fallback?: { read: (record: Record<string, unknown>) => unknown; transforms: { name: string; fn: CompiledTransform }[]; sourceKey: boolean };
}

function reader(from: string | string[]): (record: Record<string, unknown>) => unknown {
  return Array.isArray(from) ? (r) => from.map((f) => readPath(r, f)) : (r) => readPath(r, from);
}

/** A source value through its transforms: undefined when blank (before or after). Throws what a transform throws. */
function evaluate(v: unknown, transforms: { fn: CompiledTransform }[], ctx: Parameters<CompiledTransform>[1]): unknown {
  const blankInput = Array.isArray(v) ? v.every(isBlank) : isBlank(v);
  if (blankInput) return undefined;
  for (const t of transforms) {
    v = t.fn(v, ctx);
    if (isBlank(v)) return undefined;
  }
  return v;
}

function transformName(t: unknown): string {
  return typeof t === 'string' ? t : Object.keys(t as object)[0] ?? 'transform';
}

/** Validate and compile a mapping file's content once; `file` is used in error messages. */
export function compileMapping(raw: unknown, file: string): CompiledMapping {
  const parsed = MappingSpecSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new MappingConfigError(file, formatPath(issue.path), issue.message);
  }
  const spec: MappingSpec = parsed.data;
  const target = spec.target as CanonicalEntity;
  const schema = CANONICAL_SCHEMAS[target];

  const fields: CompiledField[] = Object.entries(spec.fields).map(([field, rule]) => {
    const path = field.split('.');
    if (!hasCanonicalPath(schema, field)) {
      const known = Object.keys((schema as unknown as { shape: object }).shape).join(', ');
      throw new MappingConfigError(file, `fields.${field}`, `${target} has no field "${field}"; its fields are ${known}`);
    }
    rule.transform.forEach((t, i) => {
      if (typeof t === 'object' && 'lookup' in t && !(t.lookup in spec.lookups)) {
        const tables = Object.keys(spec.lookups);
        throw new MappingConfigError(
          file,
          `fields.${field}.transform[${i}].lookup`,
          `unknown lookup table "${t.lookup}"; ${tables.length ? `defined tables: ${tables.join(', ')}` : 'add it under "lookups"'}`,
        );
      }
    });
    rule.fallback?.transform.forEach((t, i) => {
      if (typeof t === 'object' && 'lookup' in t && !(t.lookup in spec.lookups)) {
        throw new MappingConfigError(file, `fields.${field}.fallback.transform[${i}].lookup`, `unknown lookup table "${t.lookup}"`);
      }
    });
    const constant = rule.const;
    const read = rule.from === undefined ? () => constant : reader(rule.from);
    return {
      field,
      path,
      read,
      transforms: rule.transform.map((t) => ({ name: transformName(t), fn: compileTransform(t) })),
      defaultValue: rule.default,
      required: rule.required,
      omitOnError: rule.onError === 'omit',
      sourceKey: rule.sourceKey,
      ...(rule.fallback
        ? {
            fallback: {
              read: reader(rule.fallback.from),
              transforms: rule.fallback.transform.map((t) => ({ name: transformName(t), fn: compileTransform(t) })),
              sourceKey: rule.fallback.sourceKey,
            },
          }
        : {}),
    };
  });

  const write = spec.write ? compileWrite(spec, schema, file) : undefined;

  return {
    name: spec.name,
    target,
    source: { spec: raw, file },
    ...(write ? { write } : {}),
    sourceKeyFields: fields.filter((f) => f.sourceKey || f.fallback?.sourceKey).map((f) => f.field),
    fields: fields.map((f) => f.field),
    apply(record, options) {
      const keyPrefix = options?.keyPrefix ?? '';
      const out: Record<string, unknown> = {};
      const issues: RecordIssue[] = [];
      const ctx = { record, lookups: spec.lookups };
      for (const f of fields) {
        let v: unknown;
        let prefixed = f.sourceKey;
        try {
          v = evaluate(f.read(record), f.transforms, ctx);
          if (v === undefined && f.fallback) {
            v = evaluate(f.fallback.read(record), f.fallback.transforms, ctx);
            prefixed = f.fallback.sourceKey;
          }
        } catch (e) {
          if (f.omitOnError) continue;
          const rule = e instanceof TransformError ? e.rule : 'transform';
          issues.push({ field: f.field, rule, message: (e as Error).message });
          continue;
        }
        if (v === undefined) {
          v = f.defaultValue;
          prefixed = f.sourceKey;
        }
        if (isBlank(v)) {
          if (f.required) issues.push({ field: f.field, rule: 'required', message: `required value is missing` });
          continue;
        }
        if (prefixed && keyPrefix) v = `${keyPrefix}${typeof v === 'string' ? v : String(v)}`;
        setPath(out, f.path, v);
      }
      if (issues.length) return { ok: false, issues };
      const checked = schema.safeParse(out);
      if (!checked.success) {
        return {
          ok: false,
          issues: checked.error.issues.map((i) => ({ field: formatPath(i.path), rule: 'schema', message: i.message })),
        };
      }
      return { ok: true, value: checked.data as Record<string, unknown> };
    },
  };
}

/** Does canonical path `a` overlap `b` (equal, or one inside the other)? */
export function pathsOverlap(a: string, b: string): boolean {
  return a === b || a.startsWith(`${b}.`) || b.startsWith(`${a}.`);
}

function compileWrite(spec: MappingSpec, schema: (typeof CANONICAL_SCHEMAS)[CanonicalEntity], file: string): CompiledWrite {
  const rules = Object.entries(spec.write ?? {}).map(([to, rule]) => {
    if (!hasCanonicalPath(schema, rule.from)) {
      throw new MappingConfigError(file, `write.${to}.from`, `${spec.target} has no field "${rule.from}"`);
    }
    rule.transform.forEach((t, i) => {
      if (typeof t === 'object' && 'lookup' in t && !(t.lookup in spec.lookups)) {
        throw new MappingConfigError(file, `write.${to}.transform[${i}].lookup`, `unknown lookup table "${t.lookup}"`);
      }
    });
    return { to, from: rule.from, transforms: rule.transform.map((t) => ({ name: transformName(t), fn: compileTransform(t) })) };
  });
  return {
    rules: rules.map((r) => ({ to: r.to, from: r.from })),
    toNative(record, changed) {
      const values: Record<string, unknown> = {};
      const issues: RecordIssue[] = [];
      const ctx = { record, lookups: spec.lookups };
      for (const r of rules) {
        if (changed !== 'all' && !changed.some((c) => pathsOverlap(c, r.from))) continue;
        let v = readPath(record, r.from);
        try {
          for (const t of r.transforms) {
            if (isBlank(v)) break;
            v = t.fn(v, ctx);
          }
        } catch (e) {
          issues.push({ field: r.from, rule: e instanceof TransformError ? e.rule : 'transform', message: `${r.to}: ${(e as Error).message}` });
          continue;
        }
        values[r.to] = isBlank(v) ? null : v;
      }
      return issues.length ? { ok: false, issues } : { ok: true, values };
    },
  };
}
