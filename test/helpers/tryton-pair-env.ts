/**
 * The bed of the SaaS ⇄ Tryton pair tests (hubspot-tryton-pair, salesforce-tryton-pair): a dev
 * server, a real trytond, the SaaS emulator, an in-process worker of the SaaS family with the
 * Tryton system configured, an admin client and a connector to read the parties back.
 */
import path from 'node:path';
import type { TrytonClient } from '../../connectors/tryton/client';
import { createTrytonConnector, type TrytonConnector } from '../../connectors/tryton/connector';
import type { SourceRecord } from '../../connectors/types';
import type { PairSideTotals, SyncPairResult } from '../../contracts/pair-sync';
import { TASK_QUEUES, type PipelineFamily } from '../../contracts/queues';
import { seedDemo } from '../../demo/seed';
import { startTryton, type TrytonInstance } from '../../scripts/tryton';
import { adminClient } from '../../scripts/tryton/admin-helpers';
import type { SyncWorkers } from '../../workers/worker';
import { syncWorkersFor, trytonVars } from './demo-env';
import { startDevEnv, type DevEnv } from './env';
import { germanVat } from './vat';

export interface TrytonPairBed<E> {
  env: DevEnv;
  tryton: TrytonInstance;
  emulator: E;
  admin: TrytonClient;
  conn: TrytonConnector;
  sync: SyncWorkers;
  /** Start one syncPair run of `pair` on the family's queue (id `<idPrefix>-<n>`) and expect it completed. */
  syncPair(): Promise<SyncPairResult>;
  /** Every party, archived ones too, as the pair's Tryton side reads them. */
  parties(): Promise<SourceRecord[]>;
  partyByKey(key: string): Promise<Record<string, unknown>>;
  /**
   * Both sides through the pair's own mappings, by canonical external key: the SaaS records through
   * `mapping` (with `keyPrefix`), every party through tryton-party-to-customer.
   */
  canonicalSides(mapping: string, records: { label: string; data: Record<string, unknown> }[], keyPrefix: string): Promise<{ saas: Map<string, unknown>; tryton: Map<string, unknown> }>;
  /** Create `count` German parties "Tryton Party <i> GmbH" (email, phone, website, address, VAT); party ids by i. */
  seedParties(count: number): Promise<Map<number, number>>;
}

export interface TrytonPairOptions<E extends { stop(): Promise<void> }> {
  family: PipelineFamily;
  pair: string;
  idPrefix: string;
  /** Start the SaaS emulator (after the dev server, so it may use env.tmp) and name the worker's variables for it. */
  saas(env: DevEnv): Promise<{ emulator: E; vars: NodeJS.ProcessEnv }>;
  /** Called before each run (e.g. waiting for timestamps to settle). */
  beforeRun?: () => Promise<void>;
}

/**
 * Register the bed's beforeAll (start everything) and afterAll (stop what was started, even after a
 * failed or timed-out start); the returned bed's fields are set once the beforeAll is done.
 */
export function useTrytonPairBed<E extends { stop(): Promise<void> }>(o: TrytonPairOptions<E>): TrytonPairBed<E> {
  const bed = {} as TrytonPairBed<E>;
  const started: { stop(): Promise<void> }[] = [];
  let stopping = false;
  /** Keep a started part for afterAll; one that comes up after afterAll ran is stopped at once. */
  const keep = async <T extends { stop(): Promise<void> }>(part: T): Promise<T> => {
    if (stopping) await part.stop();
    else started.push(part);
    return part;
  };
  beforeAll(async () => {
    const [env, tryton] = await Promise.all([
      startDevEnv().then(async (e) => (await keep({ stop: () => e.teardown() }), e)),
      startTryton().then(keep),
    ]);
    const { emulator, vars } = await o.saas(env);
    await keep(emulator);
    const admin = adminClient(tryton);
    await keep({ stop: () => admin.logout() });
    const conn = createTrytonConnector({ url: tryton.url, database: tryton.database, user: tryton.user, password: tryton.password });
    await keep({ stop: () => conn.close() });
    const dir = path.join(env.tmp, 'demo');
    seedDemo(dir, { accounts: 0, contacts: 0, products: 0 });
    const sync = await syncWorkersFor(env, dir, [o.family], { ...vars, ...trytonVars(tryton) });
    const running = sync.run();
    await keep({
      stop: async () => {
        sync.shutdown();
        await running;
      },
    });
    let n = 0;
    const parties = async (): Promise<SourceRecord[]> => {
      const page = await conn.fetchChanges('parties', { after: null, limit: 10_000 });
      expect(page.hasMore).toBe(false);
      return page.records;
    };
    Object.assign(bed, {
      env,
      tryton,
      emulator,
      admin,
      conn,
      sync,
      async syncPair() {
        await o.beforeRun?.();
        const handle = await env.client.workflow.start('syncPair', {
          taskQueue: TASK_QUEUES[o.family],
          workflowId: `${o.idPrefix}-${++n}`,
          args: [{ pair: o.pair }],
          // A run that keeps finding its own writes (an echo loop) never ends: fail it instead of hanging.
          workflowExecutionTimeout: '3 minutes',
        });
        const result = (await handle.result()) as SyncPairResult;
        expect(result.status).toBe('completed');
        return result;
      },
      parties,
      async partyByKey(key: string) {
        const id = (await conn.findByExternalKeys('parties', [key])).get(key);
        if (!id) throw new Error(`no party with external key ${key}`);
        return (await conn.read('parties', [id]))[0]!.data;
      },
      async canonicalSides(mapping: string, records: { label: string; data: Record<string, unknown> }[], keyPrefix: string) {
        const saasMap = sync.registry.mappings.get(mapping)!;
        const tr = sync.registry.mappings.get('tryton-party-to-customer')!;
        const saas = new Map<string, unknown>();
        for (const r of records) {
          const m = saasMap.apply(r.data, { keyPrefix });
          if (!m.ok) throw new Error(`${r.label} does not map: ${JSON.stringify(m.issues)}`);
          saas.set(String(m.value.externalKey), m.value);
        }
        const tryton = new Map<string, unknown>();
        for (const p of await parties()) {
          const m = tr.apply(p.data);
          if (!m.ok) throw new Error(`party ${p.key} does not map: ${JSON.stringify(m.issues)}`);
          tryton.set(String(m.value.externalKey), m.value);
        }
        return { saas, tryton };
      },
      async seedParties(count: number) {
        const [de] = await admin.model<{ id: number }[]>('country.country', 'search_read', [[['code', '=', 'DE']], 0, 1, null, ['code']], {});
        const values = Array.from({ length: count }, (_, k) => {
          const i = k + 1;
          return {
            name: `Tryton Party ${i} GmbH`,
            contact_mechanisms: [['create', [{ type: 'email', value: `billing${i}@party${i}.example` }, { type: 'phone', value: `+49 30 ${100000 + i}` }, { type: 'website', value: `party${i}.example` }]]],
            addresses: [['create', [{ street: `Hauptstraße ${i}`, city: 'Berlin', postal_code: String(10000 + i), country: de!.id }]]],
            identifiers: [['create', [{ type: 'eu_vat', code: germanVat(i) }]]],
          };
        });
        const ids = await admin.model<number[]>('party.party', 'create', [values], {});
        return new Map(ids.map((id, k) => [k + 1, id]));
      },
    } satisfies TrytonPairBed<E>);
  });
  afterAll(async () => {
    stopping = true;
    for (const part of started.reverse()) await part.stop();
  });
  return bed;
}

/** Records written on one side of a pair run. */
export const writesOn = (t: PairSideTotals) => t.created + t.updated + t.archived + t.deleted;
