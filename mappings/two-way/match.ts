import type { MatchRule, Normalisation } from '../../contracts/pair';
import { stableJson } from '../../contracts/stable-json';
import { readPath } from '../record-path';
import { IDENTITY_FIELD } from './policy';

/**
 * First-link matching of records no link knows yet. Rules are tried in order; a record takes the
 * first rule under which it finds any candidate. Exactly one candidate that nobody else wants →
 * linked. Several candidates, or several records wanting one candidate → ambiguous: every record
 * involved is held for a person (quarantine), with the candidates named. Never a guess. Pure.
 */

export interface MatchRecord {
  key: string;
  /** Canonical fields. */
  fields: Record<string, unknown>;
}

export interface Ambiguity {
  /** The side of the record that has several candidates (or is wanted by several records). */
  side: string;
  key: string;
  /** Keys of the competing records on the other side. */
  candidates: string[];
  /** Index of the match rule that found them. */
  rule: number;
  reason: string;
}

export interface MatchResult {
  linked: { a: string; b: string; rule: number }[];
  ambiguous: Ambiguity[];
  /** Records with no candidate under any rule (→ create on the other side); held records are not here. */
  unmatched: { a: string[]; b: string[] };
}

function normalise(v: unknown, steps: readonly Normalisation[]): string {
  let s = typeof v === 'string' ? v : stableJson(v);
  for (const step of steps) {
    if (step === 'trim') s = s.trim();
    else if (step === 'lower') s = s.toLowerCase();
    else s = s.replace(/\s+/g, ' ');
  }
  return s;
}

/** The record's natural key under a rule, or null when a part of it is blank. */
export function matchKey(rule: MatchRule, fields: Record<string, unknown>): string | null {
  const paths = rule.by === 'externalKey' ? [IDENTITY_FIELD] : rule.fields;
  const steps = rule.by === 'externalKey' ? [] : rule.normalise;
  const parts: string[] = [];
  for (const p of paths) {
    const v = readPath(fields, p);
    if (v === undefined || v === null) return null;
    const n = normalise(v, steps);
    if (n.trim() === '') return null;
    parts.push(n);
  }
  return parts.length === 1 ? parts[0]! : JSON.stringify(parts);
}

/** Match unlinked records of side A against candidates of side B. Deterministic: results follow input order. */
export function matchRecords(rules: readonly MatchRule[], sides: readonly [string, string], a: readonly MatchRecord[], b: readonly MatchRecord[]): MatchResult {
  const [sa, sb] = sides;
  const openA = new Map(a.map((r) => [r.key, r]));
  const openB = new Map(b.map((r) => [r.key, r]));
  const linked: MatchResult['linked'] = [];
  const ambiguous: Ambiguity[] = [];
  const held = { a: new Set<string>(), b: new Set<string>() };

  rules.forEach((rule, ruleIndex) => {
    const index = new Map<string, string[]>();
    for (const r of openB.values()) {
      const k = matchKey(rule, r.fields);
      if (k !== null) index.set(k, [...(index.get(k) ?? []), r.key]);
    }
    const candidatesOf = new Map<string, string[]>();
    const wantedBy = new Map<string, string[]>();
    for (const r of openA.values()) {
      const k = matchKey(rule, r.fields);
      const c = k === null ? undefined : index.get(k);
      if (!c) continue;
      candidatesOf.set(r.key, c);
      for (const bk of c) wantedBy.set(bk, [...(wantedBy.get(bk) ?? []), r.key]);
    }
    for (const [ak, c] of candidatesOf) {
      if (c.length > 1) {
        ambiguous.push({ side: sa, key: ak, candidates: c, rule: ruleIndex, reason: `${c.length} ${sb} records match` });
        held.a.add(ak);
        c.forEach((bk) => held.b.add(bk));
      }
    }
    for (const [bk, wanters] of wantedBy) {
      if (wanters.length > 1 && wanters.some((ak) => candidatesOf.get(ak)!.length === 1)) {
        ambiguous.push({ side: sb, key: bk, candidates: wanters, rule: ruleIndex, reason: `${wanters.length} ${sa} records match` });
        held.b.add(bk);
        wanters.forEach((ak) => held.a.add(ak));
      }
    }
    for (const [ak, c] of candidatesOf) {
      const bk = c[0]!;
      if (c.length === 1 && wantedBy.get(bk)!.length === 1 && !held.b.has(bk)) linked.push({ a: ak, b: bk, rule: ruleIndex });
    }
    for (const ak of candidatesOf.keys()) openA.delete(ak);
    for (const l of linked) openB.delete(l.b);
    for (const bk of held.b) openB.delete(bk);
  });

  return {
    linked,
    ambiguous,
    unmatched: { a: [...openA.keys()], b: [...openB.keys()] },
  };
}
