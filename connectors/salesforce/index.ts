export { createSalesforceConnector, SALESFORCE_COLLECTION_MAX } from './connector';
export type { SalesforceConnectorOptions } from './connector';
export { createSqliteApiGovernor, unlimitedApiGovernor } from './governor';
export { createPostgresApiGovernor } from './governor-postgres';
export type { PostgresApiGovernorOptions } from './governor-postgres';
export type { ApiUsageGovernor } from './governor';
export { SALESFORCE_ENTITIES } from './entities';
