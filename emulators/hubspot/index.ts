export { startHubSpotEmulator } from './server';
export type { HubSpotEmulator, HubSpotEmulatorOptions } from './server';
