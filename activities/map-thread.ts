/**
 * A mapping thread (activities/map-pool.ts): compiles each mapping it is sent once, maps the
 * records of each request with activities/map-records.ts and answers in the same order.
 */
import { parentPort } from 'node:worker_threads';
import { compileMapping, type CompiledMapping } from '../mappings/dsl/compile';
import type { MapReply, MapRequest } from './map-pool';
import { mapAll } from './map-records';

const compiled = new Map<number, CompiledMapping>();
const port = parentPort!;

port.on('message', (m: MapRequest) => {
  let reply: MapReply;
  try {
    let mapping = compiled.get(m.mappingId);
    if (!mapping) {
      if (!m.source) throw new Error(`mapping ${m.mappingId} was never sent to this thread`);
      mapping = compileMapping(m.source.spec, m.source.file);
      compiled.set(m.mappingId, mapping);
    }
    reply = { id: m.id, results: mapAll(mapping, m.records, m.options) };
  } catch (err) {
    reply = { id: m.id, error: err instanceof Error ? err.message : String(err) };
  }
  port.postMessage(reply);
});
// Loaded: MapPool.warm() waits for this.
port.postMessage({ ready: true } satisfies MapReply);
