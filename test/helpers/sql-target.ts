import path from 'node:path';
import type { SqlSystem } from '../../connectors/sql/config';
import { demoPaths } from '../../demo/seed';
import { loadRegistry } from '../../pipelines/load';
import { readPath } from '../../mappings/record-path';
import { openStateStore } from '../../state/open';
import { queryDb } from './demo-env';
import { linkedTargets } from './links';

/** A mapped value as the SQL connector stores it. */
const asColumn = (v: unknown): unknown => (v === undefined || v === null ? null : typeof v === 'boolean' ? (v ? 1 : 0) : typeof v === 'object' ? JSON.stringify(v) : v);

export interface TargetComparison {
  /** Source keys the pipeline's mapping accepts and the target did not refuse. */
  valid: number;
  /** Source keys the mapping refuses (each must be quarantined, none written). */
  refused: number;
  /** Rows in the target table. */
  targetRows: number;
  /** Differences, e.g. `source 17: last_name "Doe" in the target, "Roe" expected`; empty when equal. */
  problems: string[];
}

/**
 * Compare a demo SQL target with its source through the pipeline's own compiled mapping: every
 * source row is mapped; a valid one must have exactly the row its link points at, with every
 * mapped column equal; a refused one must be quarantined and bound to nothing; and the target
 * must hold nothing else (the multiset of mapped rows equals the multiset of target rows, so a
 * duplicate shows whatever the table's constraints are). Independent of the external key format.
 */
export async function compareSqlTarget(
  dir: string,
  pipelineName: string,
  sourceTable: string,
  /** Where the state is: a SQLite file or a postgres:// URL. @default `<dir>/state.db` */
  stateLocation = path.join(dir, 'state.db'),
  /** Read the tables elsewhere (the demo on PostgreSQL); default: the SQLite files in `dir`. */
  read?: { source(table: string): Promise<Record<string, unknown>[]>; target(table: string): Promise<Record<string, unknown>[]> },
): Promise<TargetComparison> {
  const registry = loadRegistry({ env: { DEMO_DATA_DIR: dir } });
  const pipeline = registry.pipelines.get(pipelineName)!;
  const mapping = registry.mappings.get(pipeline.mapping)!;
  const system = registry.systems.get(pipeline.target.system)!.config as SqlSystem;
  const entity = system.entities[pipeline.target.entity]!;
  const columns = Object.entries(entity.fields ?? {}); // [canonical path, column]
  const { crm, erp } = demoPaths(dir);

  const store = await openStateStore(stateLocation);
  const quarantine = await store.listQuarantine(pipelineName, 1_000_000);
  const source = read ? await read.source(sourceTable) : queryDb<Record<string, unknown>>(crm, `SELECT * FROM ${sourceTable}`);
  const bindings = await linkedTargets(store, registry, pipelineName, source.map((r) => String(r.id)));
  await store.close();

  const quarantined = new Map(quarantine.map((q) => [q.sourceKey, q]));
  const targetRowsRead = read ? await read.target(entity.table) : queryDb<Record<string, unknown>>(erp, `SELECT * FROM ${entity.table}`);
  const target = new Map(targetRowsRead.map((r) => [String(r[entity.keyColumn]), r]));
  const problems: string[] = [];
  const expectedRows: string[] = [];
  const boundTo = new Map<string, string>();
  let valid = 0;
  let refused = 0;
  for (const row of source) {
    const key = String(row.id);
    const mapped = mapping.apply(row);
    const b = bindings.get(key);
    if (!mapped.ok) {
      refused++;
      if (quarantined.get(key)?.stage !== 'map') problems.push(`source ${key}: refused by the mapping but not quarantined at map`);
      if (b) problems.push(`source ${key}: refused by the mapping but bound to target ${b.targetKey}`);
      continue;
    }
    if (quarantined.get(key)?.stage === 'write') continue; // the target refused it, with its reason
    valid++;
    if (quarantined.has(key)) problems.push(`source ${key}: valid and written yet still quarantined`);
    const expected = columns.map(([p, c]) => [c, asColumn(readPath(mapped.value, p))] as const);
    expectedRows.push(JSON.stringify(expected.map(([, v]) => v)));
    if (!b) {
      problems.push(`source ${key}: valid but bound to no target row`);
      continue;
    }
    if (boundTo.has(b.targetKey)) problems.push(`source ${key}: target row ${b.targetKey} is also bound to source ${boundTo.get(b.targetKey)}`);
    boundTo.set(b.targetKey, key);
    const t = target.get(b.targetKey);
    if (!t) {
      problems.push(`source ${key}: bound target row ${b.targetKey} does not exist`);
      continue;
    }
    for (const [c, v] of expected) {
      if (t[c] !== v) problems.push(`source ${key}: ${c} ${JSON.stringify(t[c])} in the target, ${JSON.stringify(v)} expected`);
    }
  }
  const targetRows = [...target.values()].map((t) => JSON.stringify(columns.map(([, c]) => t[c] ?? null))).sort();
  expectedRows.sort();
  if (JSON.stringify(targetRows) !== JSON.stringify(expectedRows)) {
    const count = (xs: string[]) => xs.reduce((m, x) => m.set(x, (m.get(x) ?? 0) + 1), new Map<string, number>());
    const want = count(expectedRows);
    for (const [row, n] of count(targetRows)) {
      if (n !== (want.get(row) ?? 0)) problems.push(`target holds ${n} × ${row}, the source maps to ${want.get(row) ?? 0}`);
    }
    if (targetRows.length !== expectedRows.length) problems.push(`target has ${targetRows.length} rows, the valid source ${expectedRows.length}`);
  }
  return { valid, refused, targetRows: target.size, problems: problems.slice(0, 20) };
}
