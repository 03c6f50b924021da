import { MockActivityEnvironment } from '@temporalio/testing';
import { createOrderActivities, type OrdersDeps } from '../../activities/orders';
import { SyncError } from '../../contracts/errors';
import type { CompiledMapping } from '../../mappings/dsl/compile';

/** An ERP that creates the record and then loses the answer (a crash between write and reply). */
function flakyErp() {
  const rows = new Map<string, string>();
  let fail = true;
  return {
    rows,
    erp: {
      async findByExternalKeys(_e: string, keys: string[]) {
        return new Map(keys.filter((k) => rows.has(k)).map((k) => [k, rows.get(k)!]));
      },
      async upsert(_e: string, batch: { externalKey: string }[]) {
        for (const b of batch) rows.set(b.externalKey, `t${b.externalKey}`);
        if (fail) {
          fail = false;
          throw new SyncError('Transient', 'connection reset after the write');
        }
        return batch.map((b) => ({ externalKey: b.externalKey, ok: true as const, targetKey: `t${b.externalKey}`, action: 'created' as const }));
      },
    },
  };
}

const identity: CompiledMapping = { name: 'id', target: 'Customer', sourceKeyFields: [], fields: [], apply: (r) => ({ ok: true, value: r }) };

function activities(erp: ReturnType<typeof flakyErp>['erp']) {
  const deps = {
    erp: () => erp,
    deals: () => ({ row: (_t: string, id: string) => ({ id, name: `row ${id}` }) }),
    customerMapping: () => identity,
    productMapping: () => identity,
  } as unknown as OrdersDeps;
  return createOrderActivities(deps);
}

/** Run an activity attempt, returning its outcome and the last heartbeat it sent. */
async function attempt<T>(fn: () => Promise<T>, heartbeatDetails?: unknown) {
  const env = new MockActivityEnvironment(heartbeatDetails === undefined ? undefined : { heartbeatDetails });
  let last: unknown;
  env.on('heartbeat', (d: unknown) => (last = d));
  try {
    return { result: await env.run(fn), heartbeat: last };
  } catch (error) {
    return { error, heartbeat: last };
  }
}

test('a customer created by an attempt that then failed is still reported as created by the retry (so the saga can undo it)', async () => {
  const f = flakyErp();
  const acts = activities(f.erp);
  const first = await attempt(() => acts.ensureCustomer({ accountId: '7' }));
  expect(first.error).toMatchObject({ type: 'Transient' });
  expect(f.rows.has('7')).toBe(true);
  const retry = await attempt(() => acts.ensureCustomer({ accountId: '7' }), first.heartbeat);
  expect(retry.result).toEqual({ customerKey: '7', targetKey: 't7', created: true });
  // without that memory (a customer that existed before the saga) it is not ours to undo
  const fresh = await attempt(() => acts.ensureCustomer({ accountId: '7' }));
  expect(fresh.result).toMatchObject({ created: false });
});

test('products created by a failed attempt are returned for the undo on retry', async () => {
  const f = flakyErp();
  f.rows.set('1', 't1'); // existed before
  const acts = activities(f.erp);
  const first = await attempt(() => acts.ensureProducts({ productIds: ['1', '2', '3'] }));
  expect(first.error).toMatchObject({ type: 'Transient' });
  const retry = await attempt(() => acts.ensureProducts({ productIds: ['1', '2', '3'] }), first.heartbeat);
  expect(retry.result).toEqual({ createdTargetKeys: ['t2', 't3'], existing: 1 });
});
