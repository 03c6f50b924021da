import type { WriteOutcome, WriteRequest } from '../types';
import type { AssociationRule } from './entities';

/**
 * Associations written with the records: after a batch upsert, each record written is linked
 * to the record its canonical field points at (a contact to its company). Pure helpers; the
 * HubSpot calls are in connector.ts.
 */

/** The value of the rule's canonical field, as a key string, or undefined when absent. */
export function associationKey(rule: AssociationRule, fields: Record<string, unknown>): string | undefined {
  const v = fields[rule.field];
  if (v === undefined || v === null) return undefined;
  const s = String(v).trim();
  return s === '' ? undefined : s;
}

/** Each key once, with its last write (HubSpot refuses a batch naming the same id twice). */
export function lastWritePerKey(batch: readonly WriteRequest[]): WriteRequest[] {
  return [...new Map(batch.map((w) => [w.externalKey, w])).values()];
}

export interface AssociationPlan {
  /** Default associations to create: HubSpot ids. */
  inputs: { externalKey: string; fromId: string; toId: string }[];
  /** Records written whose association cannot be made: their outcome becomes ok:false. */
  failures: Map<string, WriteOutcome>;
}

/**
 * Pairs each successfully written record with its target's HubSpot id. A record whose field is
 * set but whose target is not in `targets` (not in HubSpot yet) fails with a ValidationError on
 * the field; a record without the field is left alone (the mapping decides whether it is required).
 */
export function planAssociations(
  rule: AssociationRule,
  batch: readonly WriteRequest[],
  written: ReadonlyMap<string, WriteOutcome>,
  targets: ReadonlyMap<string, string>,
): AssociationPlan {
  const inputs: AssociationPlan['inputs'] = [];
  const failures = new Map<string, WriteOutcome>();
  for (const w of lastWritePerKey(batch)) {
    const o = written.get(w.externalKey);
    if (!o?.ok) continue;
    const key = associationKey(rule, w.fields);
    if (key === undefined) continue;
    const toId = targets.get(key);
    if (toId === undefined) {
      failures.set(w.externalKey, {
        externalKey: w.externalKey,
        ok: false,
        error: {
          type: 'ValidationError',
          field: rule.field,
          message: `no HubSpot ${rule.toObjectType} record has ${rule.toKeyProperty} = ${key} (sync it first); the record was written but not associated, it is retried on a later run`,
        },
      });
      continue;
    }
    inputs.push({ externalKey: w.externalKey, fromId: o.targetKey, toId });
  }
  return { inputs, failures };
}
