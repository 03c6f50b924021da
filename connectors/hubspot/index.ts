export { createHubSpotConnector, HUBSPOT_MAX_BATCH } from './connector';
export type { HubSpotConnectorOptions } from './connector';
export { HUBSPOT_ENTITIES } from './entities';
export type { HubSpotEntity } from './entities';
export { createSqliteGovernor, hubSpotPolicies, SqliteReservationStore, unlimitedGovernor, WindowGovernor } from './governor';
export { createPostgresGovernor, PostgresReservationStore } from './governor-postgres';
export type { PostgresGovernorOptions } from './governor-postgres';
export type { GovernorBucket, RateGovernor, ReservationStore, WindowPolicy } from './governor';
export { toSyncError, cleanMessage } from './errors';
