import { SyncError } from '../../contracts/errors';
import type { Connector, ConnectorDescription, NativeWriter } from '../types';
import { TrytonClient, type TrytonClientOptions } from './client';
import { createContacts } from './contacts';
import { createCustomers } from './customers';
import type { EntityDeps, EntityHandler } from './entity';
import { createInvoices } from './invoices';
import { Lookups } from './lookups';
import { createParties, type PartiesHandler } from './parties';
import { createProducts } from './products';
import { runSaleTransition, type SaleTransitionOutcome } from './sale-workflow';
import { createSalesOrders } from './sales-orders';

export interface TrytonConnectorConfig extends TrytonClientOptions {
  /** Prefix of the party code that holds a customer's external key. @default 'CRM-' */
  customerCodePrefix?: string;
  /** Name of the accounting product category for new products. @default the first one */
  productCategory?: string;
  /** Largest batch per upsert call (Tryton gains little above ~100). @default 100 */
  maxBatchSize?: number;
}

/**
 * The Connector contract, field-by-field writes of parties for two-way pairs (NativeWriter,
 * entity `parties`), plus the sales-order workflow steps.
 */
export interface TrytonConnector extends Connector, NativeWriter {
  /** draft → quotation (assigns the number). */
  quoteSalesOrders(targetKeys: string[]): Promise<SaleTransitionOutcome[]>;
  /** quotation → confirmed → processing (creates invoice and shipment); ok only when processing. */
  confirmSalesOrders(targetKeys: string[]): Promise<SaleTransitionOutcome[]>;
  /** draft/quotation → cancelled (the compensation of a created order). */
  cancelSalesOrders(targetKeys: string[]): Promise<SaleTransitionOutcome[]>;
  /** The transport, for test helpers and diagnostics. */
  readonly client: TrytonClient;
}

export function createTrytonConnector(config: TrytonConnectorConfig): TrytonConnector {
  const client = new TrytonClient(config);
  const deps: EntityDeps = {
    client,
    lookups: new Lookups(client, config.productCategory),
    customerCodePrefix: config.customerCodePrefix ?? 'CRM-',
  };
  const maxBatchSize = config.maxBatchSize ?? 100;
  const customers = createCustomers(deps);
  const parties = createParties({ ...deps, maxBatchSize, customers });
  /** Entities a two-way pair can write field by field. */
  const native: Record<string, PartiesHandler> = { parties };
  const entities: Record<string, EntityHandler> = {
    customers,
    products: createProducts(deps),
    salesOrders: createSalesOrders(deps),
    invoices: createInvoices(deps),
    contacts: createContacts(deps),
    parties,
  };

  const entity = (name: string): EntityHandler => {
    const e = entities[name];
    if (!e) throw new SyncError('ConfigError', `the Tryton connector has no entity "${name}" (known: ${Object.keys(entities).join(', ')})`);
    return e;
  };

  const nativeEntity = (name: string): PartiesHandler => {
    entity(name);
    const e = native[name];
    if (!e) throw new SyncError('ConfigError', `the Tryton entity "${name}" cannot be written field by field; use ${Object.keys(native).join(', ')} as a side of a pair`);
    return e;
  };

  const description: ConnectorDescription = {
    system: 'tryton',
    kind: 'erp',
    entities: Object.values(entities).map((e) => e.description),
    maxBatchSize,
    requestTimeoutMs: client.timeoutMs,
  };

  return {
    client,
    describe: () => description,
    fetchChanges: (name, request) => entity(name).fetchChanges(request),
    read: (name, keys) => (keys.length ? entity(name).read(keys) : Promise.resolve([])),
    async upsert(name, batch) {
      const e = entity(name);
      if (batch.length > maxBatchSize) {
        throw new SyncError('InvalidInput', `batch of ${batch.length} exceeds the Tryton connector's maxBatchSize ${maxBatchSize}`);
      }
      return batch.length ? e.upsert(batch) : [];
    },
    findByExternalKeys: (name, keys) => (keys.length ? entity(name).findByExternalKeys(keys) : Promise.resolve(new Map())),
    delete: (name, keys) => (keys.length ? entity(name).delete(keys) : Promise.resolve()),
    async insertNative(name, rows) {
      const e = nativeEntity(name);
      return rows.length ? e.insertNative(rows) : [];
    },
    async patchNative(name, patches) {
      const e = nativeEntity(name);
      return patches.length ? e.patchNative(patches) : [];
    },
    close: () => client.logout(),
    quoteSalesOrders: (keys) => runSaleTransition(client, 'quote', keys),
    confirmSalesOrders: (keys) => runSaleTransition(client, 'confirm', keys),
    cancelSalesOrders: (keys) => runSaleTransition(client, 'cancel', keys),
  };
}
