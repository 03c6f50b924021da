import { withFailureTranslation } from './failures';
import { createSyncActivities, type SyncDeps } from './sync';

export type { SyncDeps } from './sync';

/** All activities, built over injected connectors and state store (called only by workers). */
export function createActivities(deps: SyncDeps) {
  return withFailureTranslation({ ...createSyncActivities(deps) });
}

export type Activities = ReturnType<typeof createActivities>;
