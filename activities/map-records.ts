/**
 * Mapping a page of raw source records, record by record: the pure part of preparing a page,
 * the same whether it runs on the activity's thread or in a mapping thread (activities/map-pool.ts).
 * Poison (a huge field, damaged text) and a mapping that throws are the record's own problem,
 * answered as issues: they never fail the page.
 */
import type { CompiledMapping, MapOptions, RecordIssue } from '../mappings/dsl/compile';
import { recordHash } from './hash';
import { poisonOf } from './poison';

export interface MapRecordsOptions extends MapOptions {
  /** Refuse poisoned records before mapping them (activities/poison.ts). */
  poison?: boolean;
  /** Add each valid record's content hash (activities/hash.ts recordHash). */
  hash?: boolean;
}

/** One record's outcome, in the order of the records given. */
export type MappedOne =
  | { ok: true; value: Record<string, unknown>; hash?: string }
  /** `poisoned`: refused before mapping (its quarantine copy leaves out the oversized value). */
  | { ok: false; issues: RecordIssue[]; poisoned?: true };

export function mapOne(mapping: CompiledMapping, data: Record<string, unknown>, options: MapRecordsOptions): MappedOne {
  const poison = options.poison ? poisonOf(data) : null;
  if (poison) return { ok: false, issues: [{ field: poison.field, rule: poison.rule, message: poison.reason }], poisoned: true };
  let res: ReturnType<CompiledMapping['apply']>;
  try {
    res = mapping.apply(data, { keyPrefix: options.keyPrefix ?? '' });
  } catch (err) {
    const message = `the mapping failed unexpectedly: ${err instanceof Error ? err.message : String(err)}`.slice(0, 500);
    return { ok: false, issues: [{ field: '(record)', rule: 'unexpected', message }] };
  }
  if (!res.ok) return res;
  return options.hash ? { ok: true, value: res.value, hash: recordHash(res.value) } : res;
}

export function mapAll(mapping: CompiledMapping, records: readonly Record<string, unknown>[], options: MapRecordsOptions): MappedOne[] {
  return records.map((r) => mapOne(mapping, r, options));
}
