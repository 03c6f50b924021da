import type { Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';

/**
 * Every payload in a history (inputs, results, failures' details, memos, markers…), found by walking
 * the decoded protobuf. Search attributes are left out: the server indexes them, so no SDK encodes
 * them (DESIGN: they hold pipeline names and statuses, never record data).
 */
export function historyPayloads(history: temporal.api.history.v1.IHistory): Payload[] {
  const out: Payload[] = [];
  walk(history, (p) => {
    out.push(p);
    return p;
  });
  return out;
}

/** A copy of `history` with every payload (search attributes aside) put through `codec.encode`. */
export async function encodeHistory(history: temporal.api.history.v1.History, codec: PayloadCodec): Promise<temporal.api.history.v1.History> {
  const copy = temporal.api.history.v1.History.decode(temporal.api.history.v1.History.encode(history).finish());
  const found: { p: Payload; set: (q: Payload) => void }[] = [];
  walkSet(copy, (p, set) => found.push({ p, set }));
  const encoded = await codec.encode(found.map((f) => f.p));
  found.forEach((f, i) => f.set(temporal.api.common.v1.Payload.create(encoded[i]!)));
  return copy;
}

/** A Payload: its metadata always names an encoding (bytes); no other message has that shape. */
function isPayload(v: unknown): v is Payload {
  if (v === null || typeof v !== 'object') return false;
  const m = (v as { metadata?: unknown }).metadata;
  return m !== null && typeof m === 'object' && (m as Record<string, unknown>).encoding instanceof Uint8Array;
}

function walk(v: unknown, visit: (p: Payload) => Payload): void {
  walkSet(v, (p) => visit(p));
}

function walkSet(v: unknown, visit: (p: Payload, set: (q: Payload) => void) => void, parentKey = ''): void {
  if (v === null || typeof v !== 'object' || v instanceof Uint8Array) return;
  for (const [k, child] of Object.entries(v as Record<string, unknown>)) {
    if (k === 'searchAttributes') continue;
    // A local-activity marker's `data` is the SDK core's own bookkeeping (activity id, seq), never
    // put through the codec; its `result` is. A patch marker's details (the patch id, from
    // `patched()`) are the core's too, written as plain JSON.
    if (parentKey === 'details' && k === 'data') continue;
    if (k === 'details' && (v as { markerName?: unknown }).markerName === 'core_patch') continue;
    if (isPayload(child)) visit(child, (q) => ((v as Record<string, unknown>)[k] = q));
    else if (Array.isArray(child)) child.forEach((c, i) => (isPayload(c) ? visit(c, (q) => (child[i] = q)) : walkSet(c, visit, k)));
    else walkSet(child, visit, k);
  }
}
