export { startSalesforceEmulator } from './server';
export type { SalesforceEmulator, SalesforceEmulatorOptions } from './server';
